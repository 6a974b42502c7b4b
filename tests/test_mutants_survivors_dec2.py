"""Survivors of the whole mutation run (tests of ``f32ba16`` and the text tests added since)
that a pure test can kill (issue 13: mutation score of pathway/domain/ >= 95 %).

Each test asserts what a rule requires of the state, the obligations, the deadlines or a text a
person reads: R1 (an accompanying child's case that cannot open), R5 (cooperation as recorded),
K2 and S3 (a withdrawal of consent settles what hung on the placement), the case's closing, and
C4, C5, C8 (a child's duties decided again when the facts change, the interview's steps, the
notice of barred hearings). The other survivors of that list are equivalent or unreachable (a
default never reached, an exception message never read, ``model_dump``'s mode for a report of
ints and strings). Pure: no Temporal server.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import Accepted, Rejection, decide, fire_due
from pathway.domain.state import (
    CaseState,
    Cooperation,
    DeadlineKind,
    Obligation,
    ObligationKind,
    SwcInterview,
)
from tests.factories import EU_ADULT, T0, accept, days, event, opened, reject
from tests.test_law_children import DAY0, person, years_before
from tests.test_mutants_accompanying import _identify, _recorded
from tests.test_mutants_children import _interview, _unaccompanied_16
from tests.test_mutants_residence import RESIDENCE_EXPIRED, _in_safe_accommodation

#: C5's three steps, each the social work centre's.
C5_STEPS = {
    ObligationKind.SWC_INTERVIEW,
    ObligationKind.EMERGENCY_ASSISTANCE,
    ObligationKind.GUARDIAN_STATEMENT,
}


def _open(state: CaseState, *kinds: ObligationKind) -> list[Obligation]:
    return [o for o in state.open_obligations if o.kind in kinds]


def _facts(state: CaseState, at_days: float, event_id: str, **facts: Any) -> CaseState:
    """A correction of the facts of the 16-year-old of :func:`_unaccompanied_16`."""
    corrected = person(years_before(DAY0, 16), **facts)
    return accept(
        state, event("facts_updated", T0 + days(at_days), person=corrected, event_id=event_id)
    )


# ---------------------------------------------------------------------------------------------
# R1: an accompanying child's own case that cannot open
# ---------------------------------------------------------------------------------------------


class TestChildCaseThatCannotOpen:
    """R1: the child's own case opens with an identification made from the parent's case; when
    that identification cannot be valid for a reason the earlier checks miss, the event is
    refused (never a crash), naming R1 and the validation's message."""

    def test_an_old_case_whose_child_reference_would_be_too_long(self) -> None:
        """R1, cases opened before link secrets: the child's subject reference is the parent's
        case ID with the child's reference appended; past the 200 characters a subject
        reference may have, the identification is refused under R1 with pydantic's message,
        not a crash. This is the fallback's one reachable cause, and only with a case ID far
        longer than real ones (29 characters): it pins the fallback as it is, field
        ``occurred_at`` included (which names the wrong field for this cause)."""
        decision = decide(None, event("identified", T0, person=EU_ADULT), T0, case_id="c" * 195)
        assert isinstance(decision, Accepted)
        assert decision.state.link_secret is None
        state = accept(decision.state, event("ngo_interview_held", T0 + days(0.1), language="de"))
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        state = _recorded(state)
        refusal = reject(state, _identify())
        assert (refusal.rule, refusal.field, refusal.reason) == (
            "R1",
            "occurred_at",
            "String should have at most 200 characters",
        )


# ---------------------------------------------------------------------------------------------
# R5, K2, S3 and the case's closing
# ---------------------------------------------------------------------------------------------


class TestCooperationAsRecorded:
    """R5: the victim's readiness to cooperate and to be a witness is recorded as stated."""

    @pytest.mark.parametrize("witness", [True, False])
    def test_willingness_to_be_a_witness_is_kept(self, witness: bool) -> None:
        """R5: ``willing_to_be_witness`` is kept as the police recorded it (neither dropped nor
        left unknown)."""
        at = T0 + days(1)
        state = accept(
            opened(),
            event(
                "cooperation_recorded",
                at,
                willing_to_cooperate=False,
                willing_to_be_witness=witness,
            ),
        )
        assert state.cooperation == Cooperation(
            at=at, willing_to_cooperate=False, willing_to_be_witness=witness
        )


class TestSettledByTheirEvent:
    """K2, S3: “the victim can withdraw consent”; safe accommodation of a third-country national
    is “conditional on their having a permit to stay and a temporary residence permit”: a
    withdrawal ends the placement, and the question of its lapsed permit is settled by it."""

    def test_consent_withdrawn_settles_the_lapsed_permit(self) -> None:
        """K2, S3: the residence permit lapsed in safe accommodation (an S3 obligation); the
        withdrawal of consent closes that obligation, recorded as closed by the withdrawal."""
        state, _ = fire_due(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        assert _open(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        withdrawal = event(
            "consent_withdrawn", RESIDENCE_EXPIRED + days(1), placement="safe_accommodation"
        )
        state = accept(state, withdrawal)
        (ob,) = [
            o for o in state.obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS
        ]
        assert (ob.is_open, ob.closed_by) == (False, withdrawal.event_id)
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in state.deadlines


class TestCaseClosed:
    """The case closes: every deadline ends and every open obligation is closed, recorded as
    closed by the closing event (legal-status ones as well as the accommodation's)."""

    def test_every_deadline_and_obligation_ends_with_the_case(self) -> None:
        """S3, S4, K7 on a closed case: the residence permit's renewal (S4) and the lapsed
        permit in safe accommodation (S3) are open and the permit to stay's deadline (K7) runs;
        ``case_closed`` ends them all."""
        state, _ = fire_due(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        before = {o.kind for o in state.open_obligations}
        assert {
            ObligationKind.RESIDENCE_PERMIT_RENEWAL,
            ObligationKind.SAFE_ACCOMMODATION_PERMITS,
        } <= before
        assert DeadlineKind.PERMIT_TO_STAY in state.deadlines
        closing = event("case_closed", RESIDENCE_EXPIRED + days(1))
        state = accept(state, closing)
        assert state.deadlines == {}
        assert state.open_obligations == []
        closed = [o for o in state.obligations if o.kind in before]
        assert {o.kind for o in closed} == before
        assert {o.closed_by for o in closed} == {closing.event_id}


# ---------------------------------------------------------------------------------------------
# C4, C5: a child's duties
# ---------------------------------------------------------------------------------------------


class TestC5Steps:
    """C5: “the interview with the minor foreigner is conducted by a professional worker from a
    social work centre, who also offers the minor emergency social assistance” and obtains
    “the minor's statement on the appointment of a guardian”: each step is the centre's under
    C5 until done."""

    def test_each_step_is_c5s(self) -> None:
        """C5: the three steps open together for an unaccompanied foreign minor, each under
        rule C5, the social work centre's, due on the interview's timer."""
        state = _unaccompanied_16()
        steps = _open(state, *C5_STEPS)
        assert {(o.kind, o.rule, o.owner) for o in steps} == {
            (kind, "C5", Org.SOCIAL_WORK_CENTRE) for kind in C5_STEPS
        }
        due = state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        assert {o.due_at for o in steps} == {due}

    def test_the_interview_is_recorded(self) -> None:
        """C5: the interview is kept with what it did (the steps it took, the indicators)."""
        at = T0 + days(1)
        state = accept(_unaccompanied_16(), _interview(at, True, assistance=False))
        assert state.child_protection is not None
        assert state.child_protection.swc_interview == SwcInterview(
            at=at,
            emergency_assistance_offered=False,
            guardian_statement_taken=True,
            trafficking_indicators=True,
        )

    def test_a_correction_before_the_interview_leaves_its_steps_open(self) -> None:
        """C4–C6 decided again (a language corrected): the interview's steps, still wanted,
        stay open as they were, not closed by the correction."""
        state = _unaccompanied_16()
        ids = {o.id for o in _open(state, *C5_STEPS)}
        state = _facts(state, 1, "ev-language", unaccompanied=True, languages=["fa"])
        assert {o.id for o in _open(state, *C5_STEPS)} == ids
        assert {o.kind for o in _open(state, *C5_STEPS)} == C5_STEPS

    @pytest.mark.parametrize(
        ("taken", "still_open"),
        [
            ({}, set()),
            ({"assistance": False}, {ObligationKind.EMERGENCY_ASSISTANCE}),
            ({"statement": False}, {ObligationKind.GUARDIAN_STATEMENT}),
        ],
    )
    def test_a_correction_after_the_interview_reopens_nothing_it_took(
        self, taken: dict[str, bool], still_open: set[ObligationKind]
    ) -> None:
        """C5: after the interview, a correction of the facts owes only the steps it did not
        take: neither the interview itself nor a step it took opens again."""
        state = accept(_unaccompanied_16(), _interview(T0 + days(1), False, **taken))
        state = _facts(state, 2, "ev-language", unaccompanied=True, languages=["fa"])
        assert {o.kind for o in _open(state, *C5_STEPS)} == still_open

    def test_steps_owed_again_open_on_a_new_timer(self) -> None:
        """C5: the interview took neither the emergency assistance nor the statement; the
        child is then found accompanied (the steps close), and then unaccompanied again: the
        two steps open again, each as itself (no second interview), on the interview's timer
        started anew."""
        state = accept(
            _unaccompanied_16(),
            _interview(T0 + days(1), False, assistance=False, statement=False),
        )
        state = _facts(state, 2, "ev-accompanied", holder_can_act=True)
        assert not _open(state, *C5_STEPS)
        assert DeadlineKind.SWC_INTERVIEW not in state.deadlines
        state = _facts(state, 3, "ev-alone", unaccompanied=True)
        steps = _open(state, *C5_STEPS)
        assert {o.kind for o in steps} == {
            ObligationKind.EMERGENCY_ASSISTANCE,
            ObligationKind.GUARDIAN_STATEMENT,
        }
        assert {o.rule for o in steps} == {"C5"}
        assert {o.due_at for o in steps} == {state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at}


class TestOldChildCases:
    """C4 in cases from before ``seed_child_rules`` (their histories replay unchanged): a
    guardian is owed when the holder of parental responsibility cannot act, not when it is
    unknown whether they can."""

    @pytest.mark.parametrize(("holder_can_act", "owed"), [(False, True), (None, False)])
    def test_the_guardian_under_the_old_rules(
        self, holder_can_act: bool | None, owed: bool
    ) -> None:
        """C4, old rules: an accompanied child whose holder cannot act is owed a guardian;
        one whose holder's ability is not recorded is not."""
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        facts = person(years_before(DAY0, 16), holder_can_act=holder_can_act)
        old = accept(old, event("facts_updated", T0 + days(1), person=facts))
        assert old.child_protection is not None
        assert bool(_open(old, ObligationKind.GUARDIAN_APPOINTMENT)) is owed


class TestOnlyOnAChildsCase:
    """C5: the social work centre's interview is of a minor foreigner: once the child track has
    closed (corrected facts show an adult), it is refused as not a child's case."""

    def test_the_interview_after_the_track_closed(self) -> None:
        """C5: refused on ``type`` under C5 although the case keeps its child-protection record."""
        state = _unaccompanied_16()
        adult = person(years_before(DAY0 + timedelta(days=2), 18), unaccompanied=True)
        state = accept(state, event("facts_updated", T0 + days(2), person=adult))
        assert state.child_protection is not None
        refusal = reject(state, _interview(T0 + days(3), False))
        assert isinstance(refusal, Rejection)
        assert (refusal.rule, refusal.field, refusal.reason) == (
            "C5",
            "type",
            "this applies only to a child's case",
        )


# ---------------------------------------------------------------------------------------------
# C8: hearings barred by corrected facts
# ---------------------------------------------------------------------------------------------


class TestHearingsBarred:
    """C8: direct questioning of an injured party under 15 at the main hearing is not
    permitted: corrected facts that bar it at hearings still to come are reported to the
    police and the social work centre, naming each hearing's date."""

    def test_two_hearings_barred_are_named_in_one_notice(self) -> None:
        """C8: two hearings with direct questioning, the injured party (16 by the old facts)
        under 15 on both by the corrected ones: one notice names both dates, comma-separated."""
        first, second = date(2026, 6, 1), date(2026, 6, 15)
        state = opened(person(years_before(DAY0, 16)))
        state = accept(
            state,
            event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True),
        )
        for n, day in enumerate((first, second)):
            state = accept(
                state,
                event(
                    "main_hearing_scheduled",
                    T0 + days(2 + n),
                    hearing_date=day.isoformat(),
                    direct_questioning=True,
                ),
            )
        facts = person(years_before(second, 15, plus_days=1))
        state = accept(state, event("facts_updated", T0 + days(5), person=facts))
        notices = [
            n for n in state.pending_notifications if n.reason == "direct_questioning_barred"
        ]
        assert {n.action for n in notices} == {
            "The corrected facts show the injured party under 15 (or of unknown age) on the date "
            "of the main hearing 2026-06-01, 2026-06-15: direct questioning there is not "
            "permitted (C8); schedule it without direct questioning."
        }
        assert {n.recipient for n in notices} == {Org.POLICE, Org.SOCIAL_WORK_CENTRE}
