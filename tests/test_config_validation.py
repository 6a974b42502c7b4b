"""``CaseConfig`` refuses, when it is built, what the rules could not count (docs/rules.md
"Legal time", "Configuration"; issue 13, gaps 8 and 11 of the reviewer's list).

Pure: the configuration, ``decide`` and ``fire_due``, no Temporal server. Each refusal is a
pydantic ``ValidationError`` naming the field (a ``ValueError``), never a ``decide`` that raises
later, in a running case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pathway.domain.calendar import Counting, end_of_day, local_date, period_end, start_of_day
from pathway.domain.config import (
    DEFAULT_DEADLINE_COUNTING,
    FIXED_DEADLINES,
    MAX_EXTENSION_MONTHS,
    MAX_PERIOD,
    MAX_PERMIT_MONTHS,
    CaseConfig,
    DeadlineCounting,
)
from pathway.domain.deadline_kinds import DeadlineKind
from pathway.domain.events import CaseEvent
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState, ObligationKind
from pathway.privacy.sealing import EpisodeSealingPayloadConverter
from pathway.workflows.inputs import CaseInput
from tests.factories import ALL_SUBJECTS, CASE_ID, T0, TCN_ILLEGAL, days, event

DAY = timedelta(days=1)
MOMENT = timedelta(microseconds=1)

#: Every period and the deadline whose counting it follows (by default: elapsed or not).
PERIODS = {
    "reflection_period": "reflection_period",
    "crisis_accommodation": "crisis_accommodation",
    "rights_information_sla": "rights_information",
    "guardian_sla": "guardian_appointment",
    "family_contact_sla": "family_contact",
    "swc_interview_sla": "swc_interview",
    "facility_accommodation_sla": "facility_accommodation",
    "authorised_representative_sla": "authorised_representative",
    "s3_decision_period": "safe_accommodation_permits",
    "s5_next_step_period": "accommodation_after_proceedings",
}
#: Every reminder lead and the period it must be shorter than.
LEADS = {
    "reflection_reminder": "reflection_period",
    "crisis_accommodation_reminder": "crisis_accommodation",
    "s3_reminder": "s3_decision_period",
    "s5_reminder": "s5_next_step_period",
}
ELAPSED_BY_DEFAULT = {"rights_information_sla", "swc_interview_sla", "facility_accommodation_sla"}


def refused(field: str, **values: Any) -> str:
    """The message of the refusal of ``values``, which must name ``field``."""
    with pytest.raises(ValidationError, match=field) as caught:
        CaseConfig(**values)
    return str(caught.value)


class TestPeriods:
    """Gap 11: a period is longer than zero, at most a year (366 days), and a whole number of
    days where it is counted in calendar or working days."""

    @pytest.mark.parametrize("field", sorted(PERIODS))
    def test_zero_and_less_are_refused(self, field: str) -> None:
        assert "longer than zero" in refused(field, **{field: timedelta(0)})
        assert "longer than zero" in refused(field, **{field: -MOMENT})
        assert "longer than zero" in refused(field, **{field: -days(30)})

    @pytest.mark.parametrize("field", sorted(PERIODS))
    def test_a_day_and_a_year_build_a_moment_more_does_not(self, field: str) -> None:
        # A period with a reminder takes a lead shorter than a day.
        leads = {lead: timedelta(0) for lead, of in LEADS.items() if of == field}
        assert getattr(CaseConfig(**{field: DAY, **leads}), field) == DAY
        # The reflection period fits in the permit to stay's months (K7): a year in 24.
        room = {"permit_to_stay_months": MAX_PERMIT_MONTHS} if field == "reflection_period" else {}
        assert getattr(CaseConfig(**{field: MAX_PERIOD}, **room), field) == MAX_PERIOD
        assert "at most 366 days" in refused(field, **{field: MAX_PERIOD + DAY})
        assert "at most 366 days" in refused(field, **{field: MAX_PERIOD + MOMENT})

    @pytest.mark.parametrize("field", sorted(set(PERIODS) - ELAPSED_BY_DEFAULT))
    def test_hours_are_refused_for_days(self, field: str) -> None:
        """23 h 59 min, 36 h: not a whole number of days in calendar or working days."""
        for period in (timedelta(hours=23, minutes=59), timedelta(hours=36)):
            message = refused(field, **{field: period})
            assert "not a whole number of days" in message
            assert PERIODS[field] in message

    @pytest.mark.parametrize("field", sorted(ELAPSED_BY_DEFAULT))
    def test_hours_are_fine_for_elapsed_time(self, field: str) -> None:
        """R3's 24 hours and C5's day are elapsed time: hours (the corpus's 45 seconds) build."""
        for period in (timedelta(hours=23, minutes=59), timedelta(hours=36), timedelta(seconds=45)):
            assert getattr(CaseConfig(**{field: period}), field) == period

    def test_the_reviewers_36_hour_guardian(self) -> None:
        """The reviewer's case: 36 hours counted in working days (C4) made ``decide`` raise;
        now the configuration is refused, and builds where C4 counts elapsed time."""
        message = refused("guardian_sla", guardian_sla=timedelta(hours=36))
        assert "guardian_appointment is counted in working days" in message
        elapsed = {"guardian_appointment": DeadlineCounting(counting=Counting.ELAPSED)}
        cfg = CaseConfig(guardian_sla=timedelta(hours=36), deadline_counting=elapsed)
        assert cfg.guardian_sla == timedelta(hours=36)

    def test_counted_in_days_where_elapsed_by_default(self) -> None:
        """R3's 24 hours counted in calendar days are one day; 36 hours are not."""
        calendar = {"rights_information": DeadlineCounting(counting=Counting.CALENDAR_DAYS)}
        assert CaseConfig(deadline_counting=calendar).rights_information_sla == DAY
        message = refused(
            "rights_information_sla",
            rights_information_sla=timedelta(hours=36),
            deadline_counting=calendar,
        )
        assert "calendar days" in message


class TestLeads:
    """Gap 11: a reminder's lead is zero or more and shorter than its period."""

    @pytest.mark.parametrize("field", sorted(LEADS))
    def test_a_lead_from_zero_to_a_day_less_than_its_period(self, field: str) -> None:
        period: timedelta = getattr(CaseConfig(), LEADS[field])
        assert getattr(CaseConfig(**{field: timedelta(0)}), field) == timedelta(0)
        assert getattr(CaseConfig(**{field: period - DAY}), field) == period - DAY
        assert "cannot be negative" in refused(field, **{field: -MOMENT})
        assert "cannot be negative" in refused(field, **{field: -DAY})
        message = refused(field, **{field: period})
        assert f"shorter than {LEADS[field]}" in message
        assert "shorter than" in refused(field, **{field: period + DAY})

    def test_a_lead_follows_its_period(self) -> None:
        """A 10-day lead builds with a 20-day period, not with a 10-day one."""
        cfg = CaseConfig(reflection_period=days(20), reflection_reminder=days(10))
        assert cfg.reflection_reminder == days(10)
        refused("reflection_reminder", reflection_period=days(10), reflection_reminder=days(10))

    def test_the_permit_to_stay_reminder_is_shorter_than_the_shortest_permit(self) -> None:
        """K7: 28 days a month; a one-month permit takes a reminder of 27 days, not 28."""
        short = {"permit_to_stay_months": 1, "reflection_period": days(27)}
        cfg = CaseConfig(**short, permit_to_stay_reminder=days(27))
        assert cfg.permit_to_stay_reminder == days(27)
        assert CaseConfig(permit_to_stay_reminder=timedelta(0)).permit_to_stay_reminder == (
            timedelta(0)
        )
        message = refused("permit_to_stay_reminder", **short, permit_to_stay_reminder=days(28))
        assert "28 days" in message
        assert "cannot be negative" in refused(
            "permit_to_stay_reminder", permit_to_stay_reminder=-MOMENT
        )

    def test_the_residence_permit_reminder_from_zero_to_a_year(self) -> None:
        """S4: the permit's validity is its decision's; its reminder lies within a year."""
        for lead in (timedelta(0), DAY, MAX_PERIOD):
            assert CaseConfig(residence_permit_reminder=lead).residence_permit_reminder == lead
        refused("residence_permit_reminder", residence_permit_reminder=-MOMENT)
        refused("residence_permit_reminder", residence_permit_reminder=MAX_PERIOD + MOMENT)


class TestMonths:
    """Gap 11, K7: “a period of 3 (three) months”, “another period of three months at the
    most”: the permit from 1 to 24 months, the extension from 0 to 12."""

    def test_the_reflection_period_fits_in_the_shortest_permit(self) -> None:
        """K7: the permit to stay's months "include the 30-day period of recovery and
        reflection": a reflection period as long as the shortest permit (28 days a month) is
        refused, one day shorter builds."""
        assert CaseConfig(permit_to_stay_months=1, reflection_period=days(27))
        message = refused("reflection_period", permit_to_stay_months=1, reflection_period=days(28))
        assert "shorter than 28 days" in message
        assert "include the reflection period" in refused(
            "reflection_period", reflection_period=days(84)
        )

    def test_permit_months(self) -> None:
        for months in (2, 3, MAX_PERMIT_MONTHS):
            assert CaseConfig(permit_to_stay_months=months).permit_to_stay_months == months
        one = CaseConfig(permit_to_stay_months=1, reflection_period=days(27))
        assert one.permit_to_stay_months == 1
        for months in (0, -1, MAX_PERMIT_MONTHS + 1, 1_000_000):
            refused("permit_to_stay_months", permit_to_stay_months=months)

    def test_extension_months(self) -> None:
        for months in (0, 3, MAX_EXTENSION_MONTHS):
            cfg = CaseConfig(permit_to_stay_extension_max_months=months)
            assert cfg.permit_to_stay_extension_max_months == months
        for months in (-1, MAX_EXTENSION_MONTHS + 1, 1_000_000):
            refused(
                "permit_to_stay_extension_max_months", permit_to_stay_extension_max_months=months
            )


class TestWaits:
    def test_future_tolerance_from_zero_to_a_week(self) -> None:
        for tolerance in (timedelta(0), timedelta(minutes=5), days(7)):
            assert CaseConfig(future_tolerance=tolerance).future_tolerance == tolerance
        refused("future_tolerance", future_tolerance=-MOMENT)
        refused("future_tolerance", future_tolerance=days(7) + MOMENT)

    def test_identification_wait_from_a_moment_to_a_day(self) -> None:
        for wait in (MOMENT, timedelta(minutes=10), DAY):
            assert CaseConfig(identification_wait=wait).identification_wait == wait
        refused("identification_wait", identification_wait=timedelta(0))
        refused("identification_wait", identification_wait=DAY + MOMENT)


class TestCountingThatIsHonoured:
    """Gap 8: a counting set for a deadline whose due instant is a date another rule sets
    (a permit's validity, a birthday, S1's notice before K1's end) is refused rather than
    silently ignored; S3 and S5 count as configured."""

    @pytest.mark.parametrize("kind", sorted(FIXED_DEADLINES))
    def test_a_date_cannot_be_counted_otherwise(self, kind: str) -> None:
        for how in (
            DeadlineCounting(counting=Counting.WORKING_DAYS),
            DeadlineCounting(counting=Counting.ELAPSED),
            DeadlineCounting(counting=Counting.CALENDAR_DAYS, next_working_day=True),
        ):
            message = refused("deadline_counting", deadline_counting={kind: how})
            assert f"{kind}: its counting cannot be set" in message
            assert FIXED_DEADLINES[kind].split(" (")[0] in message

    @pytest.mark.parametrize("kind", sorted(FIXED_DEADLINES))
    def test_their_calendar_entry_builds(self, kind: str) -> None:
        """What every stored configuration holds (the validator merges the defaults in)."""
        calendar = DeadlineCounting(counting=Counting.CALENDAR_DAYS)
        assert CaseConfig(deadline_counting={kind: calendar}).counting_for(kind) == calendar

    def test_the_reasons_the_brief_names(self) -> None:
        assert "a date set by its decision" in FIXED_DEADLINES["permit_to_stay"]
        assert "crisis accommodation" in FIXED_DEADLINES["safe_accommodation_offer"]

    @pytest.mark.parametrize("kind", [k.value for k in DeadlineKind])
    def test_elapsed_time_has_no_next_working_day(self, kind: str) -> None:
        how = DeadlineCounting(counting=Counting.ELAPSED, next_working_day=True)
        message = refused("deadline_counting", deadline_counting={kind: how})
        assert kind in message

    def test_s3_counts_days_from_a_date(self) -> None:
        message = refused(
            "deadline_counting",
            deadline_counting={
                "safe_accommodation_permits": DeadlineCounting(counting=Counting.ELAPSED)
            },
        )
        assert "safe_accommodation_permits: cannot be counted as elapsed time" in message
        for how in (
            DeadlineCounting(counting=Counting.WORKING_DAYS),
            DeadlineCounting(counting=Counting.CALENDAR_DAYS, next_working_day=True),
        ):
            cfg = CaseConfig(deadline_counting={"safe_accommodation_permits": how})
            assert cfg.counting_for("safe_accommodation_permits") == how

    def test_s5_may_count_elapsed_time_in_hours(self) -> None:
        elapsed = DeadlineCounting(counting=Counting.ELAPSED)
        cfg = CaseConfig(
            s5_next_step_period=timedelta(hours=36),
            s5_reminder=timedelta(hours=12),
            deadline_counting={"accommodation_after_proceedings": elapsed},
        )
        assert cfg.s5_next_step_period == timedelta(hours=36)
        refused("s5_next_step_period", s5_next_step_period=timedelta(hours=36))

    def test_the_kinds_the_rules_count(self) -> None:
        """Every deadline kind is either counted through the configuration or a fixed date:
        a new kind must be placed in one of the two."""
        counted = {
            *DEFAULT_DEADLINE_COUNTING,
            "safe_accommodation_permits",
            "accommodation_after_proceedings",
        } - set(FIXED_DEADLINES)
        assert counted | set(FIXED_DEADLINES) == {k.value for k in DeadlineKind}
        assert counted.isdisjoint(FIXED_DEADLINES)


class TestStoredConfigurations:
    """Configurations travel in histories and continue-as-new state."""

    def test_the_default_round_trips(self) -> None:
        cfg = CaseConfig()
        assert CaseConfig.model_validate_json(cfg.model_dump_json()) == cfg

    def test_a_state_from_before_s3_and_s5_were_configurable_decodes_with_the_defaults(
        self,
    ) -> None:
        old = json.loads(CaseConfig().model_dump_json())
        for field in ("s3_decision_period", "s3_reminder", "s5_next_step_period", "s5_reminder"):
            del old[field]
        cfg = CaseConfig.model_validate(old)
        assert (cfg.s3_decision_period, cfg.s3_reminder) == (days(7), days(2))
        assert (cfg.s5_next_step_period, cfg.s5_reminder) == (days(30), days(7))

    def test_the_elapsed_arithmetic_of_old_cases_still_builds(self) -> None:
        assert CaseConfig(legal_time="elapsed").legal_time == "elapsed"


# ---------------------------------------------------------------------------------------------
# Gap 8: S3 and S5 from the configuration; their default due instants unchanged
# ---------------------------------------------------------------------------------------------


def _accept(state: CaseState | None, ev: CaseEvent, config: CaseConfig | None = None) -> CaseState:
    decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID, config=config)
    assert isinstance(decision, Accepted), decision
    return decision.state


def _in_safe_accommodation(config: CaseConfig | None = None) -> CaseState:
    """A third-country national with a permit to stay from 3 March through 2 June 2026, a
    residence permit, proceedings opened, placed in safe accommodation on 1 April."""
    state = _accept(None, event("identified", T0, person=TCN_ILLEGAL), config)
    state = _accept(state, event("ngo_interview_held", T0 + timedelta(hours=2), language="es"))
    state = _accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    state = _accept(
        state,
        event("permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"),
    )
    state = _accept(
        state,
        event(
            "temporary_residence_permit_granted",
            T0 + days(2),
            basis="witness",
            valid_from=(T0 + days(2)).date().isoformat(),
            valid_until="2027-03-03",
        ),
    )
    state = _accept(state, event("criminal_proceedings_opened", T0 + days(3)))
    return _accept(state, event("safe_accommodation_placed", T0 + days(30)))


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text)


CONCLUDED = _local("2026-04-30T10:00:00+02:00")  # a Thursday; 1 May is a public holiday
PERMIT_LAPSED = _local("2026-06-03T00:00:00+02:00")  # the permit to stay's last day: 2 June


def _s5(config: CaseConfig | None = None) -> tuple[datetime, datetime]:
    state = _accept(
        _in_safe_accommodation(config), event("criminal_proceedings_concluded", CONCLUDED)
    )
    deadline = state.deadlines[DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS]
    (ob,) = [
        o
        for o in state.open_obligations
        if o.kind is ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS
    ]
    assert ob.due_at == deadline.due_at
    return deadline.due_at, deadline.reminders[0].at


def _s3(config: CaseConfig | None = None) -> tuple[datetime, datetime]:
    state, _ = fire_due(_in_safe_accommodation(config), PERMIT_LAPSED)
    deadline = state.deadlines[DeadlineKind.SAFE_ACCOMMODATION_PERMITS]
    return deadline.due_at, deadline.reminders[0].at


class TestS3S5FromTheConfiguration:
    def test_defaults_are_the_seed_readings(self) -> None:
        """S5: 30 days from 30 April end at 24:00 on 30 May, reminded 7 days before; S3: 7
        days from the permit's last day (2 June) end at 24:00 on 9 June, reminded 2 before."""
        due, reminder = _s5()
        assert due == _local("2026-05-31T00:00:00+02:00")
        assert reminder == _local("2026-05-24T00:00:00+02:00")
        due, reminder = _s3()
        assert due == _local("2026-06-10T00:00:00+02:00")
        assert reminder == _local("2026-06-08T00:00:00+02:00")

    def test_the_periods_and_leads_are_the_configurations(self) -> None:
        cfg = CaseConfig(
            s5_next_step_period=days(14),
            s5_reminder=days(3),
            s3_decision_period=days(10),
            s3_reminder=days(5),
        )
        assert _s5(cfg) == (
            _local("2026-05-15T00:00:00+02:00"),
            _local("2026-05-12T00:00:00+02:00"),
        )
        assert _s3(cfg) == (
            _local("2026-06-13T00:00:00+02:00"),
            _local("2026-06-08T00:00:00+02:00"),
        )

    def test_working_days_are_honoured_where_configured(self) -> None:
        """S5 in working days from Thursday 30 April 2026: 1 May (holiday, Friday), 2 May
        (holiday, Saturday) and the weekend are not counted: 3 working days end at 24:00 on
        Wednesday 6 May. S3 in working days from Tuesday 2 June, the permit's last day: the
        5th is Tuesday 9 June, past the weekend (5 calendar days end with Sunday 7 June)."""
        working = DeadlineCounting(counting=Counting.WORKING_DAYS)
        cfg = CaseConfig(
            s5_next_step_period=days(3),
            s5_reminder=days(1),
            s3_decision_period=days(5),
            s3_reminder=days(1),
            deadline_counting={
                "accommodation_after_proceedings": working,
                "safe_accommodation_permits": working,
            },
        )
        assert _s5(cfg)[0] == _local("2026-05-07T00:00:00+02:00")
        assert _s3(cfg)[0] == _local("2026-06-10T00:00:00+02:00")

    def test_elapsed_legal_time_keeps_s3_and_s5_in_ljubljana_days(self) -> None:
        """Cases replayed with ``legal_time`` elapsed counted S3 and S5 in Ljubljana days, as
        they still do."""
        cfg = CaseConfig(legal_time="elapsed")
        assert _s5(cfg) == _s5()
        assert _s3(cfg) == _s3()

    @settings(max_examples=300, deadline=None)
    @given(
        at=st.datetimes(
            min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
        ),
        n=st.integers(min_value=1, max_value=366),
    )
    def test_property_the_default_counting_is_the_constants_arithmetic(
        self, at: datetime, n: int
    ) -> None:
        """Byte-identical due instants for the default configuration: S5's ``end_of_day(local
        day + N)`` and S3's ``end_of_day(day + N)`` (the code before the periods moved into
        ``CaseConfig``) equal the configured counting with no setting for either."""
        cfg = CaseConfig()
        for kind in ("accommodation_after_proceedings", "safe_accommodation_permits"):
            how = cfg.counting_for(kind)
            assert how == DeadlineCounting(counting=Counting.CALENDAR_DAYS)
            s5 = period_end(at, days(n), how.counting, next_working=how.next_working_day)
            assert s5 == end_of_day(local_date(at) + days(n))
            day = local_date(at)
            s3 = period_end(start_of_day(day), days(n), how.counting)
            assert s3 == end_of_day(day + days(n))


# ---------------------------------------------------------------------------------------------
# Property: any configuration that builds lets the rules run
# ---------------------------------------------------------------------------------------------

_TIMEDELTAS = st.one_of(
    st.integers(min_value=1, max_value=40).map(lambda n: days(n)),
    st.integers(min_value=1, max_value=40).map(lambda n: days(n)),
    st.integers(min_value=-2, max_value=400).map(lambda n: days(n)),
    st.timedeltas(min_value=-days(2), max_value=days(3)),
    st.sampled_from([timedelta(hours=36), timedelta(seconds=45), MAX_PERIOD, MAX_PERIOD + DAY]),
)
_COUNTING = st.builds(
    DeadlineCounting, counting=st.sampled_from(list(Counting)), next_working_day=st.booleans()
)
_CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys((*PERIODS, *LEADS), _TIMEDELTAS),
        "permit_to_stay_reminder": _TIMEDELTAS,
        "residence_permit_reminder": _TIMEDELTAS,
        "permit_to_stay_months": st.one_of(
            st.integers(min_value=-1, max_value=30), st.just(1_000_000)
        ),
        "permit_to_stay_extension_max_months": st.one_of(
            st.integers(min_value=-1, max_value=15), st.just(1_000_000)
        ),
        "legal_time": st.sampled_from(["ljubljana", "elapsed"]),
        "deadline_counting": st.dictionaries(
            st.sampled_from([k.value for k in DeadlineKind]), _COUNTING, max_size=4
        ),
    },
)


@st.composite
def _sane_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Values every validator should accept: whole days from 1 to 366 (hours where counted as
    elapsed time), leads from 0 to a day less than their period, months within the bounds, and
    countings the rules honour."""
    counting: dict[str, DeadlineCounting] = {}
    for kind in draw(st.sets(st.sampled_from(sorted(set(PERIODS.values()))), max_size=4)):
        how = draw(st.sampled_from(list(Counting)))
        if kind == "safe_accommodation_permits" and how is Counting.ELAPSED:
            how = Counting.WORKING_DAYS
        roll = how is not Counting.ELAPSED and draw(st.booleans())
        counting[kind] = DeadlineCounting(counting=how, next_working_day=roll)
    values: dict[str, Any] = {"deadline_counting": counting}
    for field, kind in PERIODS.items():
        elapsed = (
            counting[kind].counting is Counting.ELAPSED
            if kind in counting
            else field in ELAPSED_BY_DEFAULT
        )
        period = days(draw(st.integers(min_value=1, max_value=MAX_PERIOD.days)))
        if elapsed:
            period = draw(st.sampled_from([period, timedelta(seconds=45), timedelta(hours=36)]))
        values[field] = period
    for field, of in LEADS.items():
        period = values[of]
        values[field] = draw(st.sampled_from([timedelta(0), period - MOMENT, period / 2]))
        if period >= DAY and draw(st.booleans()):
            values[field] = days(draw(st.integers(min_value=0, max_value=period.days - 1)))
    # K7: the permit's months (28 days each at the shortest) include the reflection period.
    fewest = values["reflection_period"].days // 28 + 1
    values["permit_to_stay_months"] = months = draw(st.integers(fewest, MAX_PERMIT_MONTHS))
    values["permit_to_stay_extension_max_months"] = draw(st.integers(0, MAX_EXTENSION_MONTHS))
    values["permit_to_stay_reminder"] = days(draw(st.integers(0, 28 * months - 1)))
    values["residence_permit_reminder"] = days(draw(st.integers(0, MAX_PERIOD.days)))
    values["legal_time"] = draw(st.sampled_from(["ljubljana", "elapsed"]))
    return values


CHILD: dict[str, Any] = {
    "citizenships": ["UA"],
    "residence_status": "third_country_illegal",
    "gender": "female",
    "languages": ["uk"],
    "birth_date": "2012-05-01",
    "unaccompanied": True,
    "holder_can_act": False,
}


def _run(events: list[CaseEvent], cfg: CaseConfig, until: datetime) -> tuple[CaseState | None, int]:
    """Each event decided (a refusal is fine) and every timer fired when it falls, up to
    ``until`` or 60 wake-ups (an escalation re-arms at each expiry: a child's C5 every day);
    an untyped exception fails the test. The state and how many events were accepted."""
    state: CaseState | None = None
    budget, accepted = [60], 0
    for ev in events:
        if state is not None:
            state = _fire_until(state, ev.occurred_at, budget)
        decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID, config=cfg)
        if isinstance(decision, Accepted):
            state, accepted = decision.state, accepted + 1
    if state is not None:
        state = _fire_until(state, until, budget)
    return state, accepted


def _fire_until(state: CaseState, end: datetime, budget: list[int]) -> CaseState:
    while budget[0] > 0 and (wake := state.next_wake_at()) is not None and wake <= end:
        budget[0] -= 1
        state, _ = fire_due(state, wake)
    return state


def _adult_path(extension: int) -> list[CaseEvent]:
    events = [
        event("identified", T0, person=TCN_ILLEGAL),
        event("ngo_interview_held", T0 + timedelta(hours=2), language="es"),
        event(
            "rights_information_given",
            T0 + timedelta(hours=3),
            subjects=ALL_SUBJECTS,
            language="es",
        ),
        event("crisis_accommodation_placed", T0 + days(1)),
        event("permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"),
        event(
            "temporary_residence_permit_granted",
            T0 + days(2),
            basis="witness",
            valid_from=(T0 + days(2)).date().isoformat(),
            valid_until="2026-09-30",
        ),
        event("criminal_proceedings_opened", T0 + days(3)),
        event("safe_accommodation_placed", T0 + days(29)),
    ]
    if extension > 0:
        events.append(event("permit_to_stay_extended", T0 + days(45), months=extension))
    return [*events, event("criminal_proceedings_concluded", T0 + days(60))]


def _child_path() -> list[CaseEvent]:
    return [
        event("identified", T0, person=CHILD),
        event(
            "ngo_interview_held", T0 + timedelta(hours=2), language="uk", qualified_personnel=True
        ),
        event("criminal_proceedings_opened", T0 + days(3)),
    ]


def _runs(cfg: CaseConfig) -> None:
    extension = min(3, cfg.permit_to_stay_extension_max_months)
    adult, accepted = _run(_adult_path(extension), cfg, T0 + days(550))
    # Short periods may make later events inadmissible (a refusal, not an exception).
    assert adult is not None and accepted >= 5
    child, accepted = _run(_child_path(), cfg, T0 + days(90))
    assert child is not None and accepted == 3


def test_the_paths_are_admitted_with_the_default_configuration() -> None:
    """The two paths the properties run hold no refusal of their own."""
    assert _run(_adult_path(3), CaseConfig(), T0 + days(550))[1] == 10
    assert _run(_child_path(), CaseConfig(), T0 + days(90))[1] == 3


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_CONFIGS)
def test_property_a_configuration_that_builds_never_makes_the_rules_raise(
    values: dict[str, Any],
) -> None:
    """Gap 11: whatever a configuration holds, it is refused when built, or ``decide`` and
    ``fire_due`` run a typical adult third-country national's path (K1, K5, K7 with its
    extension, S3, S4, S5) and an unaccompanied child's (C4–C7) without raising."""
    try:
        cfg = CaseConfig(**values)
    except ValidationError:
        return
    _runs(cfg)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_sane_configs())
def test_property_sane_configurations_build_and_the_rules_run(values: dict[str, Any]) -> None:
    """Gap 11, the other way: the validators refuse nothing in their bounds (every period of
    whole days up to a year, every lead shorter than its period, every honoured counting), and
    the rules run with each such configuration without raising."""
    _runs(CaseConfig(**values))


def test_a_configuration_a_running_case_holds_decodes_as_it_was() -> None:
    """Gap 11's refusals are for building a configuration: one a running case already holds
    (decoded from its stored input, state or continue-as-new arguments by the payload
    converter) is taken as it is, so that no case stops on a configuration it was opened with
    (docs/rules.md "Legal time"); built afresh after, it is refused again."""
    data = CaseConfig().model_dump(mode="json")
    data["guardian_sla"] = "PT36H"
    data["crisis_accommodation"] = "-P1D"
    data["deadline_counting"] = {"permit_to_stay": {"counting": "working_days"}}
    with pytest.raises(ValidationError):
        CaseConfig.model_validate(data)
    converter = EpisodeSealingPayloadConverter()
    (payload,) = converter.to_payloads([data])
    (stored,) = converter.from_payloads([payload], [CaseConfig])
    assert isinstance(stored, CaseConfig)
    assert (stored.guardian_sla, stored.crisis_accommodation) == (
        timedelta(hours=36),
        timedelta(days=-1),
    )
    # Placed in a case's input again (continue-as-new) it is taken as it is, not refused.
    carried = CaseInput(config=stored)
    assert carried.config is stored
    (again,) = converter.from_payloads(converter.to_payloads([carried]), [CaseInput])
    assert again.config.guardian_sla == timedelta(hours=36)
    with pytest.raises(ValidationError):
        CaseConfig.model_validate(data)
