"""Pure tests for survivors of the whole mutation run at f32ba16 that the text tests did not
kill (issue 13; docs/mutation.md "The whole run, complete"): what an accepted event's result
and the case's memory of it hold, which configuration governs a running case, the future's
refusal, an obligation's view, and the child track's test. Each names its rule."""

from __future__ import annotations

from datetime import timedelta

from pathway.domain.config import CaseConfig
from pathway.domain.rules import Accepted, Rejection, decide
from pathway.domain.rules.dispatch import idempotency_key
from pathway.domain.state import Phase
from tests.factories import CASE_ID, EU_ADULT, T0, days, event, opened


def test_an_accepted_event_s_result_names_its_case_and_the_phase_it_left() -> None:
    """The acknowledgement (issue 14: a small result) carries the case's ID and the phase
    after the event (K5: a crisis placement starts the reflection period)."""
    state = opened(EU_ADULT)
    decision = decide(
        state, event("crisis_accommodation_placed", T0 + days(1)), T0 + days(1), case_id=CASE_ID
    )
    assert isinstance(decision, Accepted)
    assert decision.result.case_id == state.case_id == CASE_ID
    assert state.phase is Phase.IDENTIFIED
    assert decision.result.phase is decision.state.phase is Phase.REFLECTION


def test_the_case_remembers_each_event_s_type_for_its_repeats() -> None:
    """IDEMPOTENCY: a repeat is recognised by the kept event, which keeps its type."""
    placed = event("crisis_accommodation_placed", T0 + days(1))
    decision = decide(opened(EU_ADULT), placed, T0 + days(1), case_id=CASE_ID)
    assert isinstance(decision, Accepted)
    kept = decision.state.processed[idempotency_key(decision.state, placed)]
    assert kept.event_type == "crisis_accommodation_placed"


def test_a_running_case_follows_its_own_configuration_not_the_one_passed() -> None:
    """CaseConfig is fixed when a case opens and travels in its state (docs/versioning.md):
    a configuration passed with a later event is the identification's only. Here the case's
    tolerance for events ahead of the clock (TIME) governs, not the one passed."""
    state = opened(EU_ADULT)
    ahead = T0 + days(1) + state.config.future_tolerance + timedelta(minutes=1)
    generous = CaseConfig(future_tolerance=timedelta(days=2))
    decision = decide(
        state, event("ngo_interview_held", ahead), T0 + days(1), case_id=CASE_ID, config=generous
    )
    assert isinstance(decision, Rejection)
    assert (decision.rule, decision.field) == ("TIME", "occurred_at")


def test_an_event_from_the_future_is_refused_saying_how_far_ahead_is_allowed() -> None:
    """TIME: events cannot come from the future; the reason names the tolerance."""
    state = opened(EU_ADULT)
    tolerance = state.config.future_tolerance
    ahead = T0 + days(1) + tolerance + timedelta(minutes=1)
    decision = decide(state, event("ngo_interview_held", ahead), T0 + days(1), case_id=CASE_ID)
    assert decision == Rejection(
        "TIME", "occurred_at", f"the event lies in the future (more than {tolerance} ahead)"
    )


def test_an_obligation_s_view_keeps_its_due_time() -> None:
    """R3: the rights information is due 24 hours after identification; the case summary
    and the acknowledgement show each open obligation with its due time."""
    state = opened(EU_ADULT)
    due = [o for o in state.open_obligations if o.due_at is not None]
    assert due
    for obligation in due:
        assert obligation.view().due_at == obligation.due_at


def test_the_child_track_is_open_only_where_it_was_opened() -> None:
    """C1: the child-protection track applies to a minor whose track was opened and not
    closed: a minor's case without the track (as one recorded before the child rules could
    be) does not have it."""
    minor = {**EU_ADULT, "birth_date": "2012-05-01", "unaccompanied": True}
    state = opened(minor)
    assert state.child_track_open_at(T0 + days(1))
    without = state.model_copy(update={"child_protection": None})
    assert not without.child_track_open_at(T0 + days(1))
