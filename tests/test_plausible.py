"""Plausible facts (docs/rules.md "INPUT"; issue 13): what an event alone shows cannot be true
is refused by the event models, naming the field and the rule (``INPUT`` where no rule of the
seed is at stake), before any case is asked, so it changes nothing.

The gateway (422) and the CLI (exit 2) turn the same validation errors into their answers
(tests/test_gateway_requests.py, tests/test_cli_input.py); the case workflow decodes every
event through the same models (:class:`TestTheWorkflowDecodesTheSame`).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError
from temporalio.api.common.v1 import Payload

from pathway.domain.events import (
    EVENT_TYPES,
    CaseEvent,
    RecordEvent,
    parse_event,
    validation_problems,
)
from pathway.domain.plausible import (
    EARLIEST_DATE,
    LATEST_DATE,
    ServiceDate,
    ServiceInstant,
    is_blank,
)
from pathway.domain.programmes import PROGRAMME_EVENT_ADAPTER
from pathway.domain.rules import Accepted, Rejection, decide, fire_due
from pathway.domain.state import CaseState
from pathway.temporal_connection import data_converter
from tests.factories import CASE_ID, EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened
from tests.gateway_kit import example as documented
from tests.profiles import examples

#: The documented examples occur at 2026-03-02T09:00:00+01:00: this is their day.
DAY = date(2026, 3, 2)


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` of every problem with ``data`` as an event (none: it is valid)."""
    try:
        parse_event(data)
    except ValidationError as err:
        return validation_problems(err)
    return []


def refused(data: dict[str, Any], field: str, rule: str) -> str:
    """``data`` is refused at ``field`` by ``rule`` (its message starts ``<rule>: ``); returns
    the message."""
    found = problems(data)
    messages = [message for where, message in found if where == field]
    assert messages, f"{field} not refused: {found}"
    assert messages[0].startswith(f"{rule}: "), messages
    return messages[0]


def accepted(data: dict[str, Any]) -> None:
    assert problems(data) == []


def person(**facts: Any) -> dict[str, Any]:
    return {"citizenships": ["DE"], "residence_status": "eu_citizen", **facts}


def identified(**facts: Any) -> dict[str, Any]:
    return documented("identified", organisation="police", person=person(**facts))


def estimate(as_of: date, years: int = 16) -> dict[str, Any]:
    return {"years": years, "as_of": as_of.isoformat(), "source": "dental examination"}


class TestBirthDates:
    """INPUT: nobody is born after the event that records the birth (a case opened with a birth
    date three years ahead opened the child track, notified the social work centre and set
    birthday timers in 2044), no age is estimated as of a later day, nobody was born before
    1900."""

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            (identified(birth_date="2029-03-02"), "person.birth_date"),
            (
                documented("facts_updated", person=person(birth_date="2029-03-02")),
                "person.birth_date",
            ),
            (documented("accompanying_child_recorded", birth_date="2026-03-03"), "birth_date"),
        ],
        ids=["identified", "facts_updated", "accompanying_child_recorded"],
    )
    def test_a_birth_date_after_the_event_is_refused(
        self, data: dict[str, Any], field: str
    ) -> None:
        message = refused(data, field, "INPUT")
        assert "birth date cannot lie after the event" in message

    def test_a_birth_on_the_day_of_the_event_is_accepted(self) -> None:
        """The boundary: a newborn, born on the event's day."""
        accepted(identified(birth_date=DAY.isoformat()))
        accepted(documented("accompanying_child_recorded", birth_date=DAY.isoformat()))
        refused(
            identified(birth_date=(DAY + timedelta(days=1)).isoformat()),
            "person.birth_date",
            "INPUT",
        )

    def test_the_events_day_is_the_day_in_ljubljana(self) -> None:
        """23:30 UTC on 1 March is already 2 March in Slovenia: a birth on 2 March is not after
        the event, a birth on 3 March is (docs/rules.md "INPUT")."""
        data = identified(birth_date="2026-03-02")
        data["occurred_at"] = "2026-03-01T23:30:00+00:00"
        accepted(data)
        data["person"]["birth_date"] = "2026-03-03"
        refused(data, "person.birth_date", "INPUT")

    @pytest.mark.parametrize("type_", ["identified", "facts_updated"])
    def test_an_age_estimate_dated_after_the_event_is_refused(self, type_: str) -> None:
        later = documented(type_, person=person(age_estimate=estimate(DAY + timedelta(days=1))))
        assert "age estimate cannot be dated after" in refused(
            later, "person.age_estimate.as_of", "INPUT"
        )
        accepted(documented(type_, person=person(age_estimate=estimate(DAY))))

    def test_an_accompanying_childs_estimate_dated_after_the_event_is_refused(self) -> None:
        data = documented("accompanying_child_recorded", birth_date=None)
        data["age_estimate"] = estimate(DAY + timedelta(days=1), years=3)
        refused(data, "age_estimate.as_of", "INPUT")
        data["age_estimate"] = estimate(DAY, years=3)
        accepted(data)

    def test_born_in_1900_yes_in_1899_no(self) -> None:
        accepted(identified(birth_date="1900-01-01"))
        assert "1900-01-01 and 2200-12-31" in refused(
            identified(birth_date="1899-12-31"), "person.birth_date", "INPUT"
        )

    def test_every_problem_is_named_at_once(self) -> None:
        """A birth date before 1900 and a blank estimate source: both fields, one answer."""
        data = identified(birth_date="1899-12-31", age_estimate={**estimate(DAY), "source": "  "})
        fields = {field for field, _ in problems(data)}
        assert fields == {"person.birth_date", "person.age_estimate.source"}


# -- every date of every event, within the service's range ----------------------------------------


def _leaves(annotation: Any) -> Iterator[Any]:
    """The types a field's annotation can hold (through Optional, unions and Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _leaves(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _leaves(arg)
    else:
        yield annotation


def date_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every date and instant field of ``model``, nested models included."""
    for name, info in model.model_fields.items():
        for leaf in _leaves(info.annotation):
            if leaf in (date, datetime, AwareDatetime):
                yield (*prefix, name)
            elif isinstance(leaf, type) and issubclass(leaf, BaseModel):
                yield from date_fields(leaf, (*prefix, name))


#: What a path needs where the documented example leaves a nested model out.
FILLERS: dict[str, Any] = {
    "age_estimate": estimate(DAY),
    "consent": {"signed_on": DAY.isoformat()},
}

EVENT_DATE_FIELDS = sorted(
    (type_, ".".join(path)) for type_, cls in EVENT_TYPES.items() for path in set(date_fields(cls))
)

OUT_OF_RANGE_DAYS = ["0001-01-01", "1899-12-31", "2201-01-01", "9999-12-31"]
OUT_OF_RANGE_INSTANTS = [
    "0001-01-01T00:00:00+00:00",
    "1899-12-31T23:59:59+00:00",
    "1900-01-01T00:30:00+01:00",  # 1899-12-31T23:30Z
    "2201-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-23:59",  # past datetime.max in UTC
]


def with_value(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        if node.get(part) is None:
            node[part] = json.loads(json.dumps(FILLERS.get(part) or person()))
        node = node[part]
    node[last] = value
    return data


class TestServiceRange:
    """INPUT: every date and instant lies between 1900-01-01 and 2200-12-31, so no event can
    make the rules' date arithmetic overflow (``valid_until`` 9999-12-31 raised
    ``OverflowError``, a 422 with no rule)."""

    def test_the_walk_finds_every_date_field(self) -> None:
        """The table below is not empty by accident: it holds the dates we know of."""
        found = set(EVENT_DATE_FIELDS)
        assert {
            ("identified", "occurred_at"),
            ("identified", "person.birth_date"),
            ("identified", "person.age_estimate.as_of"),
            ("crisis_accommodation_placed", "consent.signed_on"),
            ("safe_accommodation_placed", "consent.signed_on"),
            ("permit_to_stay_granted", "valid_from"),
            ("temporary_residence_permit_granted", "valid_from"),
            ("temporary_residence_permit_granted", "valid_until"),
            ("temporary_residence_permit_renewed", "valid_until"),
            ("main_hearing_scheduled", "hearing_date"),
            ("accompanying_child_recorded", "birth_date"),
            ("accompanying_child_recorded", "age_estimate.as_of"),
            ("facts_updated", "person.birth_date"),
        } <= found
        assert {type_ for type_, field in found if field == "occurred_at"} == set(EVENT_TYPES)

    @pytest.mark.parametrize(("type_", "path"), EVENT_DATE_FIELDS)
    def test_every_date_field_is_bounded(self, type_: str, path: str) -> None:
        is_instant = path == "occurred_at"
        for value in OUT_OF_RANGE_INSTANTS if is_instant else OUT_OF_RANGE_DAYS:
            message = refused(with_value(documented(type_), path, value), path, "INPUT")
            assert "between 1900-01-01 and 2200-12-31" in message, (value, message)

    @pytest.mark.parametrize("value", ["0001-01-01T00:00:00+00:00", "2201-01-01T00:00:00+00:00"])
    def test_programme_events_too(self, value: str) -> None:
        data = {
            "type": "exit_programme_left",
            "event_id": "x1",
            "organisation": "kljuc",
            "occurred_at": value,
            "participant_ref": "k-1",
        }
        with pytest.raises(ValidationError) as raised:
            PROGRAMME_EVENT_ADAPTER.validate_python(data)
        assert validation_problems(raised.value)[0][1].startswith("INPUT: ")

    def test_the_bounds_of_a_date(self) -> None:
        adapter: TypeAdapter[date] = TypeAdapter(ServiceDate)
        assert adapter.validate_python("1900-01-01") == EARLIEST_DATE
        assert adapter.validate_python("2200-12-31") == LATEST_DATE
        for outside in ("1899-12-31", "2201-01-01"):
            with pytest.raises(ValidationError, match="INPUT: a date must lie between"):
                adapter.validate_python(outside)

    def test_the_bounds_of_an_instant(self) -> None:
        """From the first instant of 1900 to the last of 2200, in UTC."""
        adapter: TypeAdapter[datetime] = TypeAdapter(ServiceInstant)
        adapter.validate_python("1900-01-01T00:00:00+00:00")
        adapter.validate_python("1900-01-01T01:00:00+01:00")
        adapter.validate_python("2200-12-31T23:59:59.999999+00:00")
        adapter.validate_python("2201-01-01T00:59:59+01:00")
        for outside in ("1899-12-31T23:59:59.999999+00:00", "2201-01-01T00:00:00+00:00"):
            with pytest.raises(ValidationError, match="INPUT: a time must lie between"):
                adapter.validate_python(outside)

    def test_a_permit_valid_until_9999_is_refused_naming_the_field(self) -> None:
        """The reported crash: now refused before the rules ever add a day to it."""
        data = documented("temporary_residence_permit_renewed", valid_until="9999-12-31")
        refused(data, "valid_until", "INPUT")


class TestOrderingWithinOneEvent:
    @pytest.mark.parametrize(
        ("type_", "rule"),
        [("crisis_accommodation_placed", "K2"), ("safe_accommodation_placed", "S1")],
    )
    def test_consent_signed_after_the_placement_is_refused(self, type_: str, rule: str) -> None:
        """K2, S1: the written statement is signed no later than the placement; the same day
        is accepted."""
        later = documented(type_, consent={"signed_on": (DAY + timedelta(days=1)).isoformat()})
        assert "after the placement" in refused(later, "consent.signed_on", rule)
        accepted(documented(type_, consent={"signed_on": DAY.isoformat()}))

    def test_consent_on_the_placements_day_in_ljubljana(self) -> None:
        """K2: placed at 23:30 UTC on 1 March, which is 2 March in Slovenia: signed on 2 March
        is not after the placement."""
        data = documented("crisis_accommodation_placed", consent={"signed_on": "2026-03-02"})
        data["occurred_at"] = "2026-03-01T23:30:00+00:00"
        accepted(data)

    def test_a_residence_permit_ends_after_it_starts(self) -> None:
        """S4: valid_until after valid_from; the same day is refused, the next accepted."""
        same = documented(
            "temporary_residence_permit_granted", valid_from="2026-03-20", valid_until="2026-03-20"
        )
        assert "end after it starts" in refused(same, "valid_until", "S4")
        earlier = documented(
            "temporary_residence_permit_granted", valid_from="2026-03-20", valid_until="2026-03-19"
        )
        refused(earlier, "valid_until", "S4")
        accepted(
            documented(
                "temporary_residence_permit_granted",
                valid_from="2026-03-20",
                valid_until="2026-03-21",
            )
        )


BLANKS = ["", " ", "\t\n  ", "\u00a0", "\u200b", " \u2003\u200b\ufeff "]


class TestBlankTextIsNoNote:
    """C1, C2: a whitespace-only best-interests note or child's views is no note; other text
    that must carry content is refused blank too (INPUT)."""

    @pytest.mark.parametrize("blank", BLANKS)
    def test_c1_c2_blank_notes_are_refused(self, blank: str) -> None:
        note = documented("guardian_appointed")
        data = {**note, "child": {**note["child"], "best_interests": blank}}
        assert "best-interests note cannot be blank" in refused(data, "child.best_interests", "C1")
        data = {**note, "child": {**note["child"], "child_views": blank}}
        assert "views cannot be blank" in refused(data, "child.child_views", "C2")

    def test_c1_c2_a_visible_character_is_a_note(self) -> None:
        accepted(
            documented("guardian_appointed", child={"best_interests": ".", "child_views": "x"})
        )
        accepted(documented("guardian_appointed", child={"best_interests": " Ok\u200b "}))

    @pytest.mark.parametrize(
        ("type_", "field"),
        [
            ("departed", "reason"),
            ("departed", "actor"),
            ("identified", "subject_ref"),
            ("special_need_flagged", "detail"),
            ("temporary_residence_permit_granted", "permit_number"),
            ("identified", "person.age_estimate.source"),
        ],
    )
    @pytest.mark.parametrize("blank", [" ", "\u200b"])
    def test_other_text_that_must_say_something(self, type_: str, field: str, blank: str) -> None:
        data = with_value(documented(type_), field, blank)
        if field.endswith("source"):
            data["person"]["age_estimate"] = {**estimate(DAY), "source": blank}
        refused(data, field, "INPUT")

    def test_left_out_is_not_blank(self) -> None:
        """An optional text may be absent (null): it just must not be blank when given."""
        accepted(documented("departed", reason=None, actor=None))
        accepted(documented("guardian_appointed", child=None))

    def test_what_counts_as_blank(self) -> None:
        assert all(is_blank(b) for b in BLANKS)
        assert not any(is_blank(t) for t in (".", "a", "\u0301", "0", "-"))


class TestTheWorkflowDecodesTheSame:
    def test_the_case_workflows_converter_refuses_naming_the_field(self) -> None:
        """The case workflow receives events as ``RecordEvent`` through the pydantic data
        converter: an implausible event fails to decode there as it fails at the gateway, with
        the same field and message (its validator never runs the rules on it)."""
        bad = {"event": identified(birth_date="2029-03-02")}
        payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(bad).encode())
        with pytest.raises(ValidationError) as raised:
            data_converter().payload_converter.from_payloads([payload], [RecordEvent])
        (error,) = raised.value.errors()
        assert error["loc"] == ("event", "identified", "person", "birth_date")
        assert str(error["msg"]).startswith("INPUT: a birth date cannot lie after the event")


def test_an_accompanying_child_identified_before_their_recorded_estimate_is_refused() -> None:
    state = opened(EU_ADULT)
    state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    recorded = T0 + days(10)
    state = accept(
        state,
        event(
            "accompanying_child_recorded",
            recorded,
            child_ref="child-1",
            citizenships=["DE"],
            placed_with="crisis_accommodation",
            age_estimate=estimate(recorded.date(), years=4),
        ),
    )
    earlier = event(
        "accompanying_child_identified",
        T0 + days(5),
        child_ref="child-1",
        residence_status="eu_citizen",
    )
    decision = decide(state, earlier, T0 + days(11), case_id=CASE_ID)
    assert isinstance(decision, Rejection)


# -- no event crashes the domain ----------------------------------------------------------------


def _states() -> list[CaseState]:
    """Cases an event can meet: just opened (adult), a third-country national in crisis
    accommodation with both permits, and a child with a guardian and open proceedings."""
    adult = opened(EU_ADULT)
    tcn = opened(TCN_ILLEGAL)
    tcn = accept(tcn, event("crisis_accommodation_placed", T0 + days(1)))
    tcn = accept(
        tcn,
        event(
            "permit_to_stay_granted",
            T0 + days(1),
            valid_from=T0.date().isoformat(),
            basis="on_request",
        ),
    )
    tcn = accept(
        tcn,
        event(
            "temporary_residence_permit_granted",
            T0 + days(2),
            basis="witness",
            valid_from=T0.date().isoformat(),
            valid_until=(T0 + days(365)).date().isoformat(),
        ),
    )
    tcn = accept(
        tcn,
        event(
            "accompanying_child_recorded",
            T0 + days(2),
            child_ref="child-1",
            citizenships=["CO"],
            placed_with="crisis_accommodation",
            birth_date="2020-01-01",
        ),
    )
    child = opened({**TCN_ILLEGAL, "birth_date": "2012-06-01", "unaccompanied": True})
    child = accept(
        child, event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True)
    )
    return [adult, tcn, child]


STATES = _states()

#: Days anywhere a date can be written, weighted to the edges of the range and of the calendar.
EDGE_DAYS = st.sampled_from(
    [
        date.min,
        date.max,
        EARLIEST_DATE,
        EARLIEST_DATE - timedelta(days=1),
        LATEST_DATE,
        LATEST_DATE + timedelta(days=1),
        date(2000, 2, 29),
        date(2200, 2, 28),
    ]
)
EXTREME_DAYS = st.one_of(
    EDGE_DAYS,
    EDGE_DAYS,
    st.dates(),
    st.dates(min_value=date(9999, 9, 1)),
    st.dates(min_value=T0.date() - timedelta(days=400), max_value=T0.date() + timedelta(days=400)),
)
#: The event types with a date of their own beyond ``occurred_at``.
DATED_TYPES = sorted({type_ for type_, path in EVENT_DATE_FIELDS if path != "occurred_at"})
NEAR_DAYS = st.dates(min_value=T0.date(), max_value=T0.date() + timedelta(days=365))
OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-12)),
        timezone(timedelta(hours=2)),
    ]
)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """When an event occurred: mostly in the cases' first year (so that it reaches the rules
    of a case), else anywhere."""
    day = draw(st.one_of(NEAR_DAYS, NEAR_DAYS, EXTREME_DAYS))
    return datetime.combine(day, draw(st.times()), tzinfo=draw(OFFSETS))


@st.composite
def extreme_events(draw: st.DrawFn) -> dict[str, Any]:
    """A documented event with every date field (and the time it occurred) drawn anywhere."""
    type_ = draw(st.one_of(st.sampled_from(sorted(EVENT_TYPES)), st.sampled_from(DATED_TYPES)))
    data = documented(type_)
    for path in sorted({p for t, p in EVENT_DATE_FIELDS if t == type_}):
        if path == "occurred_at":
            value = draw(instants()).isoformat()
        else:
            value = draw(EXTREME_DAYS).isoformat()
        data = with_value(data, path, value)
    if type_ == "accompanying_child_recorded":
        data["child_ref"] = draw(st.sampled_from(["child-1", "child-2"]))
    return data


def _at_the_edge(type_: str, **fields: Any) -> dict[str, Any]:
    return documented(type_, occurred_at=(T0 + days(30)).isoformat(), **fields)


def assert_decided(data: dict[str, Any], state: CaseState | None, late: timedelta) -> None:
    """The event is refused by validation, or ``decide`` accepts or rejects it; then every
    deadline it set fires without error."""
    try:
        ev: CaseEvent = parse_event(data)
    except ValidationError:
        return
    if state is None and ev.type != "identified":
        return
    decision = decide(state, ev, ev.occurred_at + late, case_id=CASE_ID)
    assert isinstance(decision, Accepted | Rejection)
    if isinstance(decision, Accepted):
        after = decision.state
        for deadline in sorted(after.deadlines.values(), key=lambda d: d.due_at):
            after, _ = fire_due(after, deadline.due_at + timedelta(days=1))


EDGES = [
    date.min,
    EARLIEST_DATE - timedelta(days=1),
    EARLIEST_DATE,
    LATEST_DATE,
    LATEST_DATE + timedelta(days=1),
    date(9999, 10, 15),
    date.max,
]


class TestNoEventCrashesTheDomain:
    @pytest.mark.parametrize("type_", DATED_TYPES)
    def test_every_edge_date_in_every_field_on_every_case(self, type_: str) -> None:
        """Each date of the event at each edge of the range and of the calendar (one field at a
        time), on each kind of case: validation refuses it, or the rules decide, never another
        exception (``date.max`` as a ``valid_until`` raised ``OverflowError``)."""
        paths = sorted({p for t, p in EVENT_DATE_FIELDS if t == type_ and p != "occurred_at"})
        for path in paths:
            for day in EDGES:
                data = with_value(_at_the_edge(type_), path, day.isoformat())
                for state in [None, *STATES]:
                    assert_decided(data, state, timedelta(0))

    @settings(max_examples=examples(400))
    @given(
        data=extreme_events(),
        state=st.sampled_from([None, *STATES, STATES[1]]),
        late=st.sampled_from([timedelta(0), timedelta(minutes=1), timedelta(days=40)]),
    )
    @example(
        data=_at_the_edge("temporary_residence_permit_renewed", valid_until="9999-12-31"),
        state=STATES[1],
        late=timedelta(0),
    )
    @example(
        data=_at_the_edge("temporary_residence_permit_renewed", valid_until="2200-12-31"),
        state=STATES[1],
        late=timedelta(0),
    )
    @example(
        data=_at_the_edge("permit_to_stay_granted", valid_from="2200-12-31", basis="ex_officio"),
        state=STATES[0],
        late=timedelta(0),
    )
    @example(
        data=_at_the_edge("main_hearing_scheduled", hearing_date="1900-01-01"),
        state=STATES[2],
        late=timedelta(0),
    )
    def test_decide_accepts_rejects_or_validation_refuses(
        self, data: dict[str, Any], state: CaseState | None, late: timedelta
    ) -> None:
        """Whatever the dates, the event is refused by validation, or ``decide`` accepts or
        rejects it; then every deadline it set fires without error. Never another exception
        (no ``OverflowError``)."""
        assert_decided(data, state, late)
