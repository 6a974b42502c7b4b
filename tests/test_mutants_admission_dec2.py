"""Tests written against the survivors of the mutation run over ``rules/admission.py`` at
``9111485`` (issue 13; docs/mutation.md): each pins what a survivor changed unseen, with the
rule it rests on."""

from __future__ import annotations

from datetime import datetime, timedelta

from pathway.domain.calendar import Counting
from pathway.domain.config import CaseConfig, DeadlineCounting
from pathway.domain.rules import Accepted, Rejection, admission_refusal, admit, decide
from pathway.domain.rules.admission import reflection_last_day
from pathway.domain.state import CaseState, TimelineEntry
from tests.factories import CASE_ID, EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened
from tests.test_admission import TestALinkedCaseMustBeAbleToOpen, TestAnExtensionFollowsItsGrant


def _child_decision(views: str) -> Rejection | None:
    child = {"best_interests": "stays near her school", "child_views": views}
    return admission_refusal(
        opened(EU_ADULT), event("crisis_accommodation_placed", T0 + days(1), child=child)
    )


def test_c2_blank_views_are_refused_with_their_own_reason() -> None:
    """C2: the child's views are heard and recorded; views of braille blanks are none."""
    assert _child_decision("\u2800\u3164") == Rejection(
        "C2",
        "child.child_views",
        "the child's views cannot be blank: they hold only characters that show nothing "
        "(such as U+3164 or U+2800)",
    )


class TestTheGrantOfThePermit:
    """K7: an extension extends a granted permit, so it is not dated before the grant; the
    grant's time is the permit's own (``granted_at``), the timeline's only for older permits."""

    _granted = staticmethod(TestAnExtensionFollowsItsGrant._granted)

    def test_the_permit_s_own_grant_time_is_read_first(self) -> None:
        state = self._granted()
        # Without the timeline's line, the permit's own time still refuses an earlier date.
        bare = state.model_copy(
            update={"timeline": [t for t in state.timeline if "granted" not in t.what]}
        )
        refusal = admission_refusal(bare, event("permit_to_stay_extended", T0 + days(5), months=3))
        assert refusal is not None and refusal.rule == "K7"

    def test_no_permit_and_no_line_refuses_nothing_here(self) -> None:
        """No permit to stay: this check has nothing to compare (decide refuses the event)."""
        state = opened(TCN_ILLEGAL)
        assert state.permit_to_stay is None
        extension = event("permit_to_stay_extended", T0 + days(5), months=3)
        assert admission_refusal(state, extension) is None


class TestTheReflectionPeriodsLastDay:
    """K5 as the case counts it (docs/rules.md "Legal time"): the last day (in Ljubljana) of
    the reflection period the K7 check compares a permit with."""

    @staticmethod
    def _started(at: datetime, config: CaseConfig) -> CaseState:
        return opened(TCN_ILLEGAL).model_copy(
            update={"reflection_started_at": at, "config": config}
        )

    def test_elapsed_time_and_calendar_days_differ_across_the_change_to_summer_time(
        self,
    ) -> None:
        """Started at 23:30 on 2 March 2026: 30 days of elapsed time end at 00:30 on 2 April
        (summer time), so the last day is 2 April; 30 calendar days end at 24:00 on 1 April."""
        start = datetime.fromisoformat("2026-03-02T23:30:00+01:00")
        elapsed = self._started(start, CaseConfig(legal_time="elapsed"))
        assert reflection_last_day(elapsed) == datetime(2026, 4, 2).date()
        calendar = self._started(start, CaseConfig())
        assert reflection_last_day(calendar) == datetime(2026, 4, 1).date()

    def test_its_configured_counting_and_moving_to_a_working_day(self) -> None:
        """Counted in working days, 30 from Monday 2 March 2026 end on Tuesday 14 April
        (Easter Monday, 6 April, is a holiday); in calendar days moved to the next working day,
        30 from Friday 6 March end on Sunday 5 April, moved past Easter Monday to 7 April."""
        start = datetime.fromisoformat("2026-03-02T10:00:00+01:00")
        working = CaseConfig(
            deadline_counting={
                "reflection_period": DeadlineCounting(counting=Counting.WORKING_DAYS)
            }
        )
        assert reflection_last_day(self._started(start, working)) == datetime(2026, 4, 14).date()
        moved = CaseConfig(
            deadline_counting={
                "reflection_period": DeadlineCounting(
                    counting=Counting.CALENDAR_DAYS, next_working_day=True
                )
            }
        )
        friday = datetime.fromisoformat("2026-03-06T10:00:00+01:00")
        assert reflection_last_day(self._started(friday, moved)) == datetime(2026, 4, 7).date()


def test_i1_a_return_into_assistance_must_come_after_the_return_home() -> None:
    """I1: a placement recorded at the very instant of the return home does not bring the
    person back; only one after it does."""
    state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(1)))
    state = accept(state, event("returned_home", T0 + days(10)))
    same = TimelineEntry(
        at=T0 + days(10),
        recorded_at=T0 + days(10),
        who="caritas",
        what="crisis accommodation placed",
        event_id="ev-same-instant",
    )
    at_return = state.model_copy(update={"timeline": [*state.timeline, same]})
    enrolment = event("reintegration_enrolled", T0 + days(11))
    refusal = admission_refusal(at_return, enrolment)
    assert refusal is not None and refusal.rule == "I1"
    later = same.model_copy(update={"at": T0 + days(10) + timedelta(seconds=1)})
    after = state.model_copy(update={"timeline": [*state.timeline, later]})
    assert admission_refusal(after, enrolment) is None


class TestAdmitReadsTheCase:
    """``admit`` makes its checks on the case as it stands, not on no case."""

    def test_a_check_that_needs_the_case(self) -> None:
        """INPUT: a facts_updated leaving out the recorded birth date is refused, which only
        the case's own facts show."""
        state = opened(EU_ADULT)
        person = {**EU_ADULT, "birth_date": None}
        update = event("facts_updated", T0 + days(1), person=person)
        accepted = decide(state, update, T0 + days(1), case_id=CASE_ID)
        refusal = admit(state, update, T0 + days(1), lambda: accepted)
        assert isinstance(refusal, Rejection) and refusal.field == "person.birth_date"

    def test_a_case_start_already_pending_is_not_decided_again(self) -> None:
        """R1: only the linked cases the event adds are checked, against the case before it."""
        parent = TestALinkedCaseMustBeAbleToOpen._parent()
        child = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c1",
            residence_status="international_protection_applicant",
        )
        held = decide(parent, child, T0 + days(2), case_id=CASE_ID)
        assert isinstance(held, Accepted) and held.state.pending_case_starts
        later = event("ngo_interview_held", T0 + days(3))
        decided = decide(held.state, later, T0 + days(3), case_id=CASE_ID)
        assert isinstance(decided, Accepted)
        assert admit(held.state, later, T0 + days(3), lambda: decided) is decided
