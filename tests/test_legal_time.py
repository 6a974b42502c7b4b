"""Legal time (issue 13, docs/rules.md "Legal time"): periods count calendar days in Ljubljana,
escalation deadlines count Slovenian working days, and a period ends at 24:00 (Ljubljana) of
its last day, whatever daylight-saving changes lie between.

The seed's periods: crisis accommodation "for up to 30 days" (K1), "a 30-day period of recovery
and reflection" (K5), a permit to stay "for a period of 3 (three) months" (K7). The day of the
event is not counted; the period ends with the end of its last day (ZUP Articles 99–101,
Regulation 1182/71 Article 3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.domain.calendar import (
    LJUBLJANA,
    Counting,
    add_months,
    add_working_days,
    days_before,
    describe_end,
    end_of_day,
    is_working_day,
    last_day,
    local_date,
    months_end,
    months_through,
    next_working_day,
    period_end,
)
from pathway.domain.config import DEFAULT_DEADLINE_COUNTING, CaseConfig, DeadlineCounting
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind
from tests.factories import ALL_SUBJECTS, CASE_ID, EU_ADULT, event
from tests.profiles import examples


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A wall-clock time in Ljubljana."""
    return datetime(y, m, d, hh, mm, tzinfo=LJUBLJANA)


def _dst_changes(first: int, last: int) -> list[datetime]:
    """Every instant Ljubljana's UTC offset changes between ``first`` and ``last`` (UTC hours
    scanned; the changes fall on the hour)."""
    changes = []
    at = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last + 1, 1, 1, tzinfo=UTC)
    before = at.astimezone(LJUBLJANA).utcoffset()
    while at < end:
        # Changes are on the last Sundays of March and October: scan those days by the hour.
        day = at.astimezone(LJUBLJANA)
        if day.month in (3, 10) and day.day >= 25 and day.weekday() == 6:
            for hour in range(24):
                instant = at + timedelta(hours=hour)
                offset = instant.astimezone(LJUBLJANA).utcoffset()
                if offset != before:
                    changes.append(instant)
                    before = offset
        at += timedelta(days=1)
    return changes


DST_CHANGES = _dst_changes(2020, 2040)


def test_the_dst_changes_2020_to_2040_are_all_there() -> None:
    """Two a year: to summer time in March, back in October."""
    assert len(DST_CHANGES) == 42
    assert DST_CHANGES[0] == datetime(2020, 3, 29, 1, tzinfo=UTC)
    assert DST_CHANGES[-1] == datetime(2040, 10, 28, 1, tzinfo=UTC)


def opened_at(at: datetime, config: CaseConfig | None = None, **person: Any) -> CaseState:
    decision = decide(
        None,
        event("identified", at, person={**EU_ADULT, **person}),
        at,
        case_id=CASE_ID,
        config=config,
    )
    assert isinstance(decision, Accepted), decision
    return decision.state


def accepted(state: CaseState, ev: Any) -> CaseState:
    decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision.state


def placed(at: datetime, config: CaseConfig | None = None) -> CaseState:
    """Identified an hour before ``at``, informed, and placed in crisis accommodation at ``at``."""
    state = opened_at(at - timedelta(hours=1), config)
    state = accepted(
        state,
        event("ngo_interview_held", at - timedelta(minutes=30), language="de"),
    )
    state = accepted(
        state,
        event("rights_information_given", at - timedelta(minutes=20), subjects=ALL_SUBJECTS),
    )
    return accepted(state, event("crisis_accommodation_placed", at))


def texts(state: CaseState, now: datetime) -> tuple[CaseState, dict[str, str]]:
    new, effects = fire_due(state, now)
    return new, {f"{n.recipient.value}:{n.reason}": n.action for n in effects.notifications}


# ---------------------------------------------------------------------------------------------
# Calendar days in Ljubljana
# ---------------------------------------------------------------------------------------------


class TestCalendarDays:
    def test_k1_the_issue_case_across_the_change_to_winter_time(self) -> None:
        """K1 "for up to 30 days": placed at 00:32 on 20 October 2026 (summer time), the 30 days
        end at 24:00 on 19 November (winter time), not at 23:32 on 18 November."""
        state = placed(local(2026, 10, 20, 0, 32))
        due = state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at
        assert due == local(2026, 11, 20)
        assert due.utcoffset() == timedelta(hours=1)
        assert last_day(due) == date(2026, 11, 19)
        assert state.deadlines[DeadlineKind.REFLECTION_PERIOD].due_at == local(2026, 11, 20)

    def test_k1_k5_reminders_state_the_last_day_and_go_five_calendar_days_before(self) -> None:
        """K1, K5: the reminders go at 00:00 on 15 November, five calendar days before the end,
        and say the period ends on 19 November at 24:00. (Safe accommodation offered, S1, so
        that its own reminder and date do not fall in between.)"""
        at = local(2026, 10, 20, 0, 32)
        state = placed(at)
        state = accepted(state, event("safe_accommodation_offered", at, answer="undecided"))
        state, sent = texts(state, local(2026, 11, 15) - timedelta(seconds=1))
        assert sent == {}
        state, sent = texts(state, local(2026, 11, 15))
        assert sent["caritas:crisis_accommodation_reminder"] == (
            "Crisis accommodation reaches 30 days on 2026-11-19 at 24:00 (Ljubljana time): "
            "arrange the follow-on placement (K1)."
        )
        assert "ends on 2026-11-19 at 24:00" in sent["police:reflection_period_reminder"]

    def test_k1_day_30_is_still_within_and_day_31_is_not(self) -> None:
        """K1: the escalation fires at the first instant of day 31, not a second before."""
        state = placed(local(2026, 10, 20, 0, 32))
        end_of_day_30 = local(2026, 11, 19, 23, 59) + timedelta(seconds=59)
        state, sent = texts(state, end_of_day_30)
        assert "labour_ministry:crisis_accommodation_escalation" not in sent
        state, sent = texts(state, local(2026, 11, 20))
        assert "labour_ministry:crisis_accommodation_escalation" in sent
        assert ObligationKind.FOLLOW_ON_PLACEMENT in {o.kind for o in state.open_obligations}

    def test_k5_across_the_change_to_summer_time(self) -> None:
        """K5 "a 30-day period": from 23:30 on 1 March 2026 (winter time) it ends at 24:00 on
        31 March (summer time; 29 March had 23 hours)."""
        state = placed(local(2026, 3, 1, 23, 30))
        due = state.deadlines[DeadlineKind.REFLECTION_PERIOD].due_at
        assert due == local(2026, 4, 1)
        assert due.utcoffset() == timedelta(hours=2)

    def test_an_event_just_after_midnight_utc_counts_from_its_ljubljana_day(self) -> None:
        """The day of the event is the day in Ljubljana: 23:30 UTC on 28 February 2028 is
        00:30 on 29 February there (a leap day), so 30 days end at 24:00 on 30 March."""
        start = datetime(2028, 2, 28, 23, 30, tzinfo=UTC)
        assert local_date(start) == date(2028, 2, 29)
        assert period_end(start, timedelta(days=30), Counting.CALENDAR_DAYS) == local(2028, 3, 31)

    @settings(max_examples=examples(300))
    @given(
        change=st.sampled_from(DST_CHANGES),
        before=st.integers(min_value=0, max_value=40 * 24 * 3600),
        days=st.integers(min_value=0, max_value=400),
    )
    def test_property_n_days_end_at_24h_of_day_d_plus_n_across_every_dst_change(
        self, change: datetime, before: int, days: int
    ) -> None:
        """For any start up to 40 days before any DST change 2020–2040 and any N, the period
        ends at 24:00 Ljubljana of the start's local day + N: its last day is D+N, the due
        instant is a local midnight, and the reminder 5 days before is a local midnight too."""
        start = change - timedelta(seconds=before)
        due = period_end(start, timedelta(days=days), Counting.CALENDAR_DAYS)
        assert last_day(due) == local_date(start) + timedelta(days=days)
        assert due.astimezone(LJUBLJANA).time() == time(0)
        reminder = days_before(due, timedelta(days=5))
        assert reminder.astimezone(LJUBLJANA).time() == time(0)
        assert last_day(reminder) == last_day(due) - timedelta(days=5)

    @settings(max_examples=examples(200))
    @given(
        start=st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
        ),
        months=st.integers(min_value=0, max_value=24),
    )
    def test_property_months_end_on_the_same_day_number_or_the_months_last_day(
        self, start: datetime, months: int
    ) -> None:
        """A period of N months ends at 24:00 of the day with the start's number N months on,
        or of that month's last day when it has none."""
        due = months_end(start, months)
        first = local_date(start)
        last = last_day(due)
        assert (last.year * 12 + last.month) - (first.year * 12 + first.month) == months
        assert last.day == first.day or (last.day < first.day and (last + timedelta(1)).day == 1)
        assert due == end_of_day(last)

    @pytest.mark.parametrize(
        ("start", "months", "last"),
        [
            (date(2026, 1, 31), 1, date(2026, 2, 28)),
            (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
            (date(2028, 2, 29), 12, date(2029, 2, 28)),
            (date(2026, 3, 31), 1, date(2026, 4, 30)),
            (date(2026, 11, 30), 3, date(2027, 2, 28)),
            (date(2026, 12, 15), 3, date(2027, 3, 15)),
        ],
    )
    def test_k7_months_at_month_ends(self, start: date, months: int, last: date) -> None:
        """K7 "a period of 3 (three) months": 31 January + 1 month ends with February."""
        assert add_months(start, months) == last
        assert last_day(months_end(local(start.year, start.month, start.day, 12), months)) == last

    @given(
        first=st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)),
        months=st.integers(min_value=1, max_value=24),
    )
    def test_property_a_validity_of_n_months_runs_through_the_day_before_or_the_months_end(
        self, first: date, months: int
    ) -> None:
        """K7 "a period of 3 (three) months" from a first day that counts: through the day
        before the same date N months on, or through the last day of the month that has no
        such date, never a day short (31 January + 3 months: 30 April, not 29)."""
        through = months_through(first, months)
        after = through + timedelta(days=1)
        if after.day == first.day:
            assert (after.year * 12 + after.month) - (first.year * 12 + first.month) == months
        else:
            assert after.day == 1 and first.day > through.day
            assert (through.year * 12 + through.month) - (first.year * 12 + first.month) == months

    @pytest.mark.parametrize(
        ("first", "months", "through"),
        [
            (date(2026, 11, 30), 3, date(2027, 2, 28)),
            (date(2027, 11, 30), 3, date(2028, 2, 29)),  # leap year
            (date(2027, 1, 31), 3, date(2027, 4, 30)),
            (date(2028, 2, 29), 12, date(2029, 2, 28)),
            (date(2026, 3, 1), 3, date(2026, 5, 31)),
            (date(2026, 12, 31), 2, date(2027, 2, 28)),
        ],
    )
    def test_k7_validity_at_month_ends(self, first: date, months: int, through: date) -> None:
        """K7: a permit valid from a month's end is not a day short."""
        assert months_through(first, months) == through

    def test_r3_hours_are_elapsed_time_across_a_dst_change(self) -> None:
        """R3's 24 hours run by the clock: from 12:00 on 24 October 2026 they end at 11:00 on
        25 October (the day has 25 hours)."""
        state = opened_at(local(2026, 10, 24, 12))
        due = state.deadlines[DeadlineKind.RIGHTS_INFORMATION].due_at
        assert due.astimezone(UTC) - local(2026, 10, 24, 12).astimezone(UTC) == timedelta(hours=24)
        assert due.astimezone(LJUBLJANA) == local(2026, 10, 25, 11)

    def test_reminder_lead_in_the_autumn_hour_reads_the_earlier_offset(self) -> None:
        """A reminder lead that lands on 02:30 of the last Sunday of October (twice) takes the
        first, summer-time one; on the spring gap (02:30 does not exist) it moves on by an
        hour."""
        autumn = days_before(local(2026, 10, 30, 2, 30), timedelta(days=5))
        assert autumn == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
        spring = days_before(local(2026, 4, 3, 2, 30), timedelta(days=5))
        assert spring.astimezone(LJUBLJANA) == local(2026, 3, 29, 3, 30)

    def test_describe_end(self) -> None:
        """A reminder states the last day and 24:00, or the minute for an elapsed deadline."""
        assert describe_end(local(2026, 11, 20)) == "2026-11-19 at 24:00 (Ljubljana time)"
        assert describe_end(datetime(2026, 7, 1, 8, 5, tzinfo=UTC)) == (
            "2026-07-01 at 10:05 (Ljubljana time)"
        )

    def test_cases_from_before_legal_time_keep_elapsed_arithmetic(self) -> None:
        """``legal_time='elapsed'`` (set by the workflow when an old history replays) keeps
        the due instants those cases had: 30 × 24 hours from the placement."""
        at = datetime.fromisoformat("2026-10-20T00:32+02:00")
        state = placed(at, CaseConfig(legal_time="elapsed"))
        due = state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at
        assert due == at + timedelta(days=30)
        assert state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].reminders[0].at == (
            due - timedelta(days=5)
        )


# ---------------------------------------------------------------------------------------------
# Working days and public holidays
# ---------------------------------------------------------------------------------------------


class TestWorkingDays:
    @pytest.mark.parametrize(
        ("day", "working"),
        [
            (date(2025, 12, 24), True),
            (date(2025, 12, 25), False),  # Christmas
            (date(2025, 12, 26), False),  # Independence and Unity Day
            (date(2026, 1, 1), False),
            (date(2026, 1, 2), False),  # 2 January is work-free again since 2017
            (date(2027, 2, 8), False),  # Prešeren Day, a Monday
            (date(2026, 4, 6), False),  # Easter Monday
            (date(2026, 4, 7), True),
            (date(2026, 4, 27), False),  # Day of Uprising Against Occupation
            (date(2025, 5, 1), False),
            (date(2025, 5, 2), False),
            (date(2026, 6, 25), False),  # Statehood Day
            (date(2025, 10, 31), False),  # Reformation Day
            (date(2025, 11, 1), False),  # Remembrance Day, a Saturday anyway
            (date(2026, 10, 30), True),
            (date(2026, 3, 7), False),  # a Saturday
            (date(2026, 3, 9), True),
        ],
    )
    def test_slovenian_working_days(self, day: date, working: bool) -> None:
        """Monday to Friday, except Slovenia's work-free public holidays."""
        assert is_working_day(day) is working

    @pytest.mark.parametrize(
        ("start", "n", "last"),
        [
            (date(2025, 12, 24), 1, date(2025, 12, 29)),  # Christmas, 26 December, weekend
            (date(2025, 12, 31), 1, date(2026, 1, 5)),  # 1–2 January, weekend
            (date(2026, 4, 2), 2, date(2026, 4, 7)),  # Good Friday works; Easter Monday not
            (date(2027, 2, 5), 1, date(2027, 2, 9)),  # Prešeren Day on Monday
            (date(2025, 4, 30), 1, date(2025, 5, 5)),  # 1–2 May then the weekend
            (date(2025, 10, 30), 1, date(2025, 11, 3)),  # 31 October, 1 November, Sunday
            (date(2026, 3, 2), 3, date(2026, 3, 5)),
            (date(2026, 3, 6), 0, date(2026, 3, 6)),
        ],
    )
    def test_n_working_days_after(self, start: date, n: int, last: date) -> None:
        """The N-th working day after the day of the event (that day not counted)."""
        assert add_working_days(start, n) == last
        assert period_end(
            local(start.year, start.month, start.day, 15), timedelta(days=n), Counting.WORKING_DAYS
        ) == end_of_day(last)

    def test_next_working_day(self) -> None:
        """A last day that is not a working day moves to the next working day."""
        assert next_working_day(date(2025, 12, 25)) == date(2025, 12, 29)
        assert next_working_day(date(2025, 12, 29)) == date(2025, 12, 29)

    def test_defaults_calendar_for_the_seed_working_for_escalations(self) -> None:
        """Every deadline declares its counting: the seed's periods count calendar days, the
        child-protection escalations of days (C4, C6, C7) working days, R3's 24 hours and C5's
        day for an unaccompanied minor (emergency on-call duty) elapsed time."""
        assert set(DEFAULT_DEADLINE_COUNTING) <= {k.value for k in DeadlineKind}
        cfg = CaseConfig()
        for every in DeadlineKind:
            assert cfg.counting_for(every.value).counting in Counting
        calendar_days = {"reflection_period", "crisis_accommodation", "permit_to_stay"}
        for kind in calendar_days:
            assert cfg.counting_for(kind).counting is Counting.CALENDAR_DAYS
            assert not cfg.counting_for(kind).next_working_day
        for kind in ("guardian_appointment", "family_contact", "authorised_representative"):
            assert cfg.counting_for(kind).counting is Counting.WORKING_DAYS
        for kind in ("rights_information", "swc_interview", "facility_accommodation"):
            assert cfg.counting_for(kind).counting is Counting.ELAPSED

    def test_config_overrides_one_deadline_and_refuses_unknown_ones(self) -> None:
        """A setting per deadline; the others keep their defaults; no unknown deadline."""
        rolled = DeadlineCounting(counting=Counting.CALENDAR_DAYS, next_working_day=True)
        cfg = CaseConfig(deadline_counting={"crisis_accommodation": rolled})
        assert cfg.counting_for("crisis_accommodation") == rolled
        assert cfg.counting_for("guardian_appointment").counting is Counting.WORKING_DAYS
        with pytest.raises(ValueError, match="no such deadline"):
            CaseConfig(deadline_counting={"holiday": rolled})

    def test_k1_rolls_to_the_next_working_day_where_configured(self) -> None:
        """Placed on 25 November 2025, day 30 is Christmas; configured to roll, the period
        ends at 24:00 on Monday 29 December (26 December and the weekend are not working
        days). By default it ends on Christmas Day."""
        at = local(2025, 11, 25, 10)
        assert placed(at).deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at == local(2025, 12, 26)
        rolled = DeadlineCounting(counting=Counting.CALENDAR_DAYS, next_working_day=True)
        cfg = CaseConfig(deadline_counting={"crisis_accommodation": rolled})
        state = placed(at, cfg)
        assert state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at == local(2025, 12, 30)
        assert state.deadlines[DeadlineKind.REFLECTION_PERIOD].due_at == local(2025, 12, 26)

    def test_c4_guardian_escalation_counts_working_days_across_easter(self) -> None:
        """C4: identified on Thursday 2 April 2026, a child whose parents cannot act needs a
        guardian within 3 working days: Friday 3, (Easter Monday off) Tuesday 7, Wednesday 8
        April; the social work centre is alerted at 24:00 on 8 April, and again 3 working days
        after that day (9 April): at 24:00 on Tuesday 14 April."""
        state = opened_at(
            local(2026, 4, 2, 16),
            birth_date="2011-01-01",
            holder_can_act=False,
        )
        assert state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT].due_at == local(2026, 4, 9)
        state, sent = texts(state, local(2026, 4, 9) - timedelta(seconds=1))
        assert "social_work_centre:guardian_appointment_overdue" not in sent
        state, sent = texts(state, local(2026, 4, 9))
        assert "social_work_centre:guardian_appointment_overdue" in sent
        assert state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT].due_at == local(2026, 4, 15)

    def test_c4_working_days_can_be_configured_as_calendar_days(self) -> None:
        """The escalation's counting is a setting: in calendar days, 3 days from 2 April end
        at 24:00 on 5 April (Easter Sunday)."""
        cfg = CaseConfig(
            deadline_counting={
                "guardian_appointment": DeadlineCounting(counting=Counting.CALENDAR_DAYS)
            }
        )
        state = opened_at(local(2026, 4, 2, 16), cfg, birth_date="2011-01-01", holder_can_act=False)
        assert state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT].due_at == local(2026, 4, 6)
