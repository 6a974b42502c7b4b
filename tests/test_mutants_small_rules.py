"""Tests that kill surviving mutants of the smaller domain modules (issue 13; docs/mutation.md):
``rules/reintegration.py``, ``rules/rejections.py``, ``events.py`` and ``state.py``.

``scripts/mutation.sh`` changes pathway/domain/ one small edit at a time and runs the pure
domain tests against each change; these tests pin down behaviours it showed no other test
noticed changing. Each names the rule it keeps and asserts what the rule requires, never a
value copied from a run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import LJUBLJANA
from pathway.domain.deadline_kinds import DeadlineKind
from pathway.domain.events import (
    EVENT_TYPES,
    RecordEvent,
    parse_event,
    validation_problems,
)
from pathway.domain.rules import (
    Rejection,
    RejectionNote,
    in_criminal_or_pretrial_proceedings,
    note_rejection,
    reintegration_eligibility,
    settle_notification,
)
from pathway.domain.state import CaseState, DeliveryOutcome, Phase
from tests.factories import EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened, reject
from tests.gateway_kit import example as documented
from tests.test_law_residence import enrol, interviewed
from tests.test_law_services import PLACED, S2_ONLY, service
from tests.test_plausible import DAY, estimate, identified, person

#: The day of enrolment in these tests.
ENROLLED = T0 + days(10)


def old_rules(state: CaseState) -> CaseState:
    """The state as a case recorded before the patch ``seed-reintegration-dates`` replays it."""
    return state.model_copy(update={"seed_reintegration_dates": False})


def police_gathering(state: CaseState) -> CaseState:
    """``state`` after the police began gathering information (pre-trial proceedings, R2)."""
    return accept(state, event("police_information_gathering_started", T0 + days(2)))


def criminal_proceedings(state: CaseState) -> CaseState:
    """``state`` after criminal proceedings opened."""
    return accept(state, event("criminal_proceedings_opened", T0 + days(2)))


def validation_problems_of(data: Any) -> list[tuple[str, str]]:
    """``(field, message)`` of every problem with ``data`` as a case event."""
    with pytest.raises(ValidationError) as raised:
        parse_event(data)
    return validation_problems(raised.value)


# -- I1: the proceedings, on the case as it stands ---------------------------------------------


class TestI1ProceedingsAsTheCaseStands:
    """I1: “EU citizens and third-country nationals who have been treated as victims of
    trafficking in human beings in the Republic of Slovenia in pre-trial or criminal
    proceedings and legally reside there”. Without a day (a case recorded before the patch
    ``seed-reintegration-dates``), either kind of proceedings counts, whenever it began."""

    def test_either_kind_of_proceedings_counts(self) -> None:
        """I1: “in pre-trial or criminal proceedings”: the police's information gathering
        (pre-trial) alone counts, criminal proceedings alone count, an NGO interview alone
        does not."""
        state = interviewed(EU_ADULT)
        assert in_criminal_or_pretrial_proceedings(state) is False
        assert in_criminal_or_pretrial_proceedings(police_gathering(state)) is True
        assert in_criminal_or_pretrial_proceedings(criminal_proceedings(state)) is True

    def test_old_cases_enrol_a_person_in_pre_trial_proceedings(self) -> None:
        """I1, versioning: in a case recorded before the patch, an EU citizen in pre-trial
        proceedings only (the police's information gathering) is in the programme and is
        enrolled."""
        state = old_rules(police_gathering(interviewed(EU_ADULT)))
        assert reintegration_eligibility(state, ENROLLED)[0] is True
        assert accept(state, enrol(ENROLLED)).phase is Phase.REINTEGRATION

    def test_old_cases_refuse_a_person_in_no_proceedings(self) -> None:
        """I1, versioning: in a case recorded before the patch, an EU citizen in no Slovenian
        proceedings is refused (I1, ``type``); the reason does not speak of the enrolment's
        day, which those rules did not look at."""
        state = old_rules(interviewed(EU_ADULT))
        eligible, why = reintegration_eligibility(state, ENROLLED)
        assert eligible is False
        assert "pre-trial or criminal proceedings" in why
        assert "by the day of the enrolment" not in why
        rejection = reject(state, enrol(ENROLLED))
        assert (rejection.rule, rejection.field, rejection.reason) == ("I1", "type", why)


# -- issue 17: a rejection noted in a closed case ------------------------------------------


class TestNoNoteInAClosedCase:
    """Issue 17 item 3, CASE: a closed case takes no more events, nor notes of rejected ones.
    The note is refused as the case refuses an event: rule ``CASE`` at the field ``type``,
    saying the case is closed."""

    def test_refused_as_an_event_is(self) -> None:
        state = opened(EU_ADULT)
        late = event("ngo_interview_held", T0 + days(1), language="de")
        closed = state.model_copy(update={"phase": Phase.CLOSED})
        as_an_event = reject(closed, late)
        note = RejectionNote(
            event_id=late.event_id,
            event_type=late.type,
            organisation=late.organisation,
            rule="R2",
            field="occurred_at",
            reason="too early",
        )
        refused = note_rejection(closed, note, T0 + days(1))
        assert isinstance(refused, Rejection)
        assert (refused.rule, refused.field) == (as_an_event.rule, as_an_event.field)
        assert (refused.rule, refused.field) == ("CASE", "type")
        assert "the case is closed" in refused.reason
        assert closed.rejections == []


# -- INPUT: where a problem with an event is ---------------------------------------------------


class TestWhereAnInvalidEventIsWrong:
    """INPUT (docs/rules.md): an invalid event is refused naming the field at fault, as the
    gateway's ``field`` and the CLI's and console's forms show it: the event type's tag is left
    out of the path, an unknown or missing type is the field ``type``, and a body that is no
    event at all is ``(event)``."""

    def test_an_unknown_type_is_the_field_type(self) -> None:
        """An event type no case knows is a problem at ``type``, naming the type given."""
        assert "no_such_thing" not in EVENT_TYPES
        [(where, message)] = validation_problems_of({"type": "no_such_thing", "event_id": "e"})
        assert where == "type"
        assert "no_such_thing" in message

    def test_a_missing_type_is_the_field_type(self) -> None:
        """An event without a type is a problem at ``type``."""
        [(where, _)] = validation_problems_of({"event_id": "e", "organisation": "police"})
        assert where == "type"

    def test_the_type_inside_an_update_is_the_field_type(self) -> None:
        """The update's event with an unknown type: the problem is at ``type`` as well."""
        with pytest.raises(ValidationError) as raised:
            RecordEvent.model_validate({"event": {"type": "no_such_thing"}})
        assert [where for where, _ in validation_problems(raised.value)] == ["type"]

    @pytest.mark.parametrize("data", ["identified", ["identified"], None, 7])
    def test_no_object_at_all_is_the_whole_event(self, data: Any) -> None:
        """A body that is not an object has no field at fault: the problem is the whole
        ``(event)``, never an empty path."""
        [(where, _)] = validation_problems_of(data)
        assert where == "(event)"

    def test_the_tag_is_left_out_of_the_path(self) -> None:
        """A field of a known event type is named by its own path, without the type's tag."""
        problems = validation_problems_of(
            {
                "type": "ngo_interview_held",
                "event_id": "e-1",
                "organisation": "caritas",
                "occurred_at": T0.isoformat(),
                "interpreter_used": False,
            }
        )
        assert [where for where, _ in problems] == ["language"]

    def test_one_type_validated_alone_keeps_the_field(self) -> None:
        """One event type's model validated on its own (as the console's forms of the
        programmes do): the path starts at the field, which is no event type, and is kept
        whole."""
        model = EVENT_TYPES["ngo_interview_held"]
        with pytest.raises(ValidationError) as raised:
            model.model_validate(
                {
                    "type": "ngo_interview_held",
                    "event_id": "e-1",
                    "organisation": "caritas",
                    "occurred_at": T0.isoformat(),
                    "language": "de",
                    "interpreter_used": "perhaps",
                }
            )
        assert [where for where, _ in validation_problems(raised.value)] == ["interpreter_used"]


class TestK3AServiceOutsideTheProgramme:
    """K3: crisis accommodation “comprises: appropriate and safe accommodation and assistance;
    material assistance; assistance in providing primary healthcare; psychological and social
    assistance and help; provision of information and counselling …; translation and
    interpreting; assistance in the victims' return to their homeland”: legal status,
    representation in the prosecution and integration are safe accommodation's only (S2)."""

    @pytest.mark.parametrize("name", S2_ONLY)
    def test_refused_naming_the_programme_and_keeping_the_service(self, name: str) -> None:
        """K3, INPUT: the refusal is at ``service``, names the programme in words (“crisis
        accommodation”), and keeps the service given as the value at fault."""
        with pytest.raises(ValidationError) as refused:
            service(PLACED + days(3), name)
        [problem] = refused.value.errors(include_url=False)
        assert problem["loc"] == ("accommodation_service_recorded", "service")
        assert problem["msg"].startswith("K3: ")
        assert "crisis accommodation does not comprise" in problem["msg"]
        assert problem["input"] == name


class TestTheValueAtFault:
    """INPUT (docs/rules.md): an event that cannot be true on its own is refused at the field
    at fault, naming its rule, and with the value at fault (pydantic's ``input``, which the
    gateway's and the CLI's answers carry). Each of the events' own checks across fields:
    nobody is born after the event that records the birth, nor estimated as of a later day
    (INPUT); the written consent is signed no later than the placement (K2, S1); a temporary
    residence permit ends after it starts (S4)."""

    LATER = DAY + timedelta(days=1)

    @pytest.mark.parametrize(
        ("data", "loc", "rule", "value"),
        [
            (
                identified(birth_date=LATER.isoformat()),
                ("identified", "person", "birth_date"),
                "INPUT",
                LATER,
            ),
            (
                identified(age_estimate=estimate(LATER)),
                ("identified", "person", "age_estimate", "as_of"),
                "INPUT",
                LATER,
            ),
            (
                documented("facts_updated", person=person(birth_date=LATER.isoformat())),
                ("facts_updated", "person", "birth_date"),
                "INPUT",
                LATER,
            ),
            (
                documented("accompanying_child_recorded", birth_date=LATER.isoformat()),
                ("accompanying_child_recorded", "birth_date"),
                "INPUT",
                LATER,
            ),
            (
                documented("crisis_accommodation_placed", consent={"signed_on": LATER.isoformat()}),
                ("crisis_accommodation_placed", "consent", "signed_on"),
                "K2",
                LATER,
            ),
            (
                documented("safe_accommodation_placed", consent={"signed_on": LATER.isoformat()}),
                ("safe_accommodation_placed", "consent", "signed_on"),
                "S1",
                LATER,
            ),
            (
                documented(
                    "temporary_residence_permit_granted",
                    valid_from="2026-03-20",
                    valid_until="2026-03-19",
                ),
                ("temporary_residence_permit_granted", "valid_until"),
                "S4",
                date(2026, 3, 19),
            ),
        ],
    )
    def test_refused_at_the_field_with_its_rule_and_value(
        self, data: dict[str, Any], loc: tuple[str, ...], rule: str, value: date
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            parse_event(data)
        [problem] = refused.value.errors(include_url=False)
        assert problem["loc"] == loc
        assert problem["msg"].startswith(f"{rule}: ")
        assert problem["input"] == value


class TestC1TheEighteenthBirthdayFromAnEstimate:
    """C1, TIME: the child track lasts until the person turns 18. Without a birth date the age
    estimate decides (docs/rules.md, open points, 1): estimated at 16 on a day, the person
    turns 18 two years after that day, and the case's timer for it is set to that day's
    start in Ljubljana."""

    def test_estimated_sixteen_turns_eighteen_two_years_on(self) -> None:
        facts = {k: v for k, v in TCN_ILLEGAL.items() if k != "birth_date"}
        as_of = date(2026, 3, 2)
        state = opened(
            {**facts, "age_estimate": {"years": 16, "as_of": as_of.isoformat(), "source": "x-ray"}}
        )
        assert state.person.birthday(18) == date(2028, 3, 2)
        assert state.person.birthday(16) == as_of
        assert state.deadlines[DeadlineKind.TURNS_18].due_at == datetime(
            2028, 3, 2, tzinfo=LJUBLJANA
        )

    def test_born_on_29_february_turns_eighteen_on_1_march(self) -> None:
        """C1, TIME: a child born on 29 February turns 18 on 1 March of a common year (the
        docstring of ``person._anniversary``); the case's timer is set to that day."""
        state = opened({**TCN_ILLEGAL, "birth_date": "2012-02-29"})
        assert state.person.birthday(18) == date(2030, 3, 1)
        assert state.person.birthday(16) == date(2028, 2, 29)
        assert state.deadlines[DeadlineKind.TURNS_18].due_at == datetime(
            2030, 3, 1, tzinfo=LJUBLJANA
        )


# -- the timeline: what became of a notification -------------------------------------------


class TestTheTimelineSaysWhatBecameOfANotification:
    """R1 and every notifying rule: the case's timeline records each notification's outcome:
    delivered, by which channel, or failed for good, and why (the lead NGO then tells the
    recipient another way)."""

    def test_delivered(self) -> None:
        state = opened(EU_ADULT)
        (sent,) = state.pending_notifications
        outcome = DeliveryOutcome(
            idempotency_key=sent.idempotency_key, recipient=sent.recipient, channel="outbox"
        )
        settle_notification(state, sent, T0 + timedelta(minutes=5), outcome)
        what = state.timeline[-1].what
        assert what.endswith(": delivered by outbox")
        assert "failed" not in what

    def test_failed(self) -> None:
        state = opened(EU_ADULT)
        (sent,) = state.pending_notifications
        outcome = DeliveryOutcome.failed(sent, "webhook_refused")
        settle_notification(state, sent, T0 + timedelta(minutes=5), outcome)
        what = state.timeline[-1].what
        assert what.endswith(": failed: webhook_refused")
        assert "delivered" not in what


class TestRejectionMessage:
    """A refusal's one line, as senders read it in the error of their call ("rejected: R2: …",
    docs/rules.md): the rule first, then the reason, then the field at fault when there is one."""

    def test_rule_reason_and_field(self) -> None:
        line = Rejection("R2", "type", "no NGO interview before it").message()
        assert line == "R2: no NGO interview before it (field type)"

    def test_no_field_no_parenthesis(self) -> None:
        assert Rejection("CASE", None, "the case is closed").message() == "CASE: the case is closed"
