"""The admission checks (issue 13; pathway/domain/rules/admission.py, docs/rules.md
"Admission checks"): refusals an event meets when it arrives, made in the case workflow's
validator only, so that histories recorded before them replay unchanged. Pure: no server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pathway.domain.rules import (
    Accepted,
    Rejection,
    admission_refusal,
    admit,
    decide,
    linked_case_refusal,
)
from pathway.domain.rules.admission import GRANTED
from pathway.domain.state import CaseState, Phase
from tests.factories import CASE_ID, EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened

MINOR: dict[str, Any] = {**EU_ADULT, "birth_date": "2012-05-01", "unaccompanied": True}


def _facts(state: CaseState, person: dict[str, Any]) -> Rejection | None:
    return admission_refusal(
        state, event("facts_updated", T0 + days(1), organisation="caritas", person=person)
    )


class TestTheRecordedAgeIsKept:
    """C1, C4-C8: a child's protection rests on the age. ``facts_updated`` replaces the
    person's facts whole, so one that leaves out the recorded birth date (Caritas sending new
    languages only) would make the age unknown, read as an adult's, and close the guardian's,
    C5's and C6's obligations and the child track (found by a reviewer, 2 December)."""

    def test_a_birth_date_left_out_is_refused_naming_it(self) -> None:
        without = {k: v for k, v in MINOR.items() if k != "birth_date"} | {"languages": ["de"]}
        refusal = _facts(opened(MINOR), without)
        assert refusal == Rejection(
            "INPUT",
            "person.birth_date",
            "the case holds a birth date: send it with the other facts, corrected if it was "
            "wrong, or an age estimate in its place; it is never left out (a child's "
            "protection rests on the age, C1)",
        )

    def test_an_estimate_left_out_is_refused_naming_it(self) -> None:
        estimated = {
            **MINOR,
            "birth_date": None,
            "age_estimate": {"years": 14, "as_of": "2026-03-01", "source": "SWC"},
        }
        without = {k: v for k, v in estimated.items() if k != "age_estimate"}
        refusal = _facts(opened(estimated), without)
        assert refusal == Rejection(
            "INPUT",
            "person.age_estimate",
            "the case holds an age estimate: send it with the other facts, corrected if it was "
            "wrong, or a birth date in its place; it is never left out (a child's protection "
            "rests on the age, C1)",
        )

    def test_a_correction_or_an_estimate_in_its_place_is_admitted(self) -> None:
        state = opened(MINOR)
        assert _facts(state, {**MINOR, "birth_date": "2011-05-01"}) is None
        estimate = {"years": 15, "as_of": "2026-03-01", "source": "SWC"}
        assert _facts(state, {**MINOR, "birth_date": None, "age_estimate": estimate}) is None
        assert _facts(state, {**MINOR, "languages": ["de"]}) is None

    def test_a_case_that_never_had_an_age_may_still_have_none(self) -> None:
        adult = {**EU_ADULT, "birth_date": None}
        assert _facts(opened(adult), {**adult, "languages": ["de"]}) is None

    def test_the_check_is_not_for_other_events_nor_before_the_case(self) -> None:
        assert admission_refusal(opened(MINOR), event("ngo_interview_held", T0 + days(1))) is None
        assert admission_refusal(None, event("identified", T0, person=dict(MINOR))) is None


class TestAnEstimateCannotPutTheBirthBefore1900:
    """INPUT: a birth date before 1900 is refused; so is an age estimate that puts the birth
    there (120 years as of 1 January 1900: born in 1780)."""

    @staticmethod
    def _estimate(years: int, as_of: str) -> dict[str, Any]:
        return {
            **EU_ADULT,
            "birth_date": None,
            "age_estimate": {"years": years, "as_of": as_of, "source": "x"},
        }

    def test_at_identification(self) -> None:
        refusal = admission_refusal(
            None, event("identified", T0, person=self._estimate(120, "1900-01-01"))
        )
        assert refusal == Rejection(
            "INPUT",
            "person.age_estimate.years",
            "an estimate of 120 years on 1900-01-01 puts the birth in 1780, before 1900: no "
            "one the service assists was born then",
        )

    def test_in_facts_updated(self) -> None:
        refusal = _facts(opened(EU_ADULT), self._estimate(100, "1999-12-31"))
        assert refusal is not None
        assert (refusal.rule, refusal.field) == ("INPUT", "person.age_estimate.years")

    def test_a_birth_on_the_first_day_is_admitted(self) -> None:
        """The boundary: 100 years on 1 January 2000 is a birth on 1 January 1900."""
        person = self._estimate(100, "2000-01-01")
        assert admission_refusal(None, event("identified", T0, person=person)) is None
        earlier = self._estimate(100, "1999-12-31")
        assert admission_refusal(None, event("identified", T0, person=earlier)) is not None


class TestALinkedCaseMustBeAbleToOpen:
    """R1: "accompanying children of victims" identified as victims get a case of their own.
    An accompanying child's identification that its own case would refuse (an EU citizen
    recorded as an applicant for international protection, reading 23) is refused at the
    parent, naming the field, instead of recording a link to a case that never opens."""

    @staticmethod
    def _parent() -> CaseState:
        state = opened(EU_ADULT)
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        return accept(
            state,
            event(
                "accompanying_child_recorded",
                T0 + days(1),
                child_ref="c1",
                citizenships=["DE"],
                placed_with="crisis_accommodation",
                birth_date="2020-01-01",
            ),
        )

    def _identified(self, status: str) -> tuple[CaseState, Accepted]:
        state = self._parent()
        child = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c1",
            residence_status=status,
        )
        decision = decide(state, child, T0 + days(2), case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        return state, decision

    def test_a_child_whose_own_case_is_refused_is_refused_at_the_parent(self) -> None:
        state, decision = self._identified("international_protection_applicant")
        refusal = linked_case_refusal(state, decision, T0 + days(2))
        # The child's own reason names its citizenship, which the police and UOIM, who send
        # this event, may not read (R6): it is not passed on.
        assert refusal == Rejection(
            "R1",
            "residence_status",
            "the accompanying child's own case could not open: these facts do not agree with "
            "the child's recorded facts",
        )

    def test_a_child_whose_own_case_opens_is_admitted(self) -> None:
        state, decision = self._identified("eu_citizen")
        assert decision.state.pending_case_starts
        assert linked_case_refusal(state, decision, T0 + days(2)) is None

    def test_a_case_start_already_pending_is_not_decided_again(self) -> None:
        """Only the starts the event adds are checked: one the case already holds was admitted
        with the event that added it (here one its own case would refuse, as a case recorded
        before this check may hold), and a later event is not refused for it."""
        state = self._parent()
        child = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c1",
            residence_status="international_protection_applicant",
        )
        held = decide(state, child, T0 + days(2), case_id=CASE_ID)
        assert isinstance(held, Accepted) and held.state.pending_case_starts
        later = decide(
            held.state, event("ngo_interview_held", T0 + days(3)), T0 + days(3), case_id=CASE_ID
        )
        assert isinstance(later, Accepted)
        assert linked_case_refusal(held.state, later, T0 + days(3)) is None

    def test_a_second_child_is_checked_after_a_first_one_pending(self) -> None:
        state = accept(
            self._parent(),
            event(
                "accompanying_child_recorded",
                T0 + days(1),
                child_ref="c2",
                citizenships=["DE"],
                placed_with="crisis_accommodation",
                birth_date="2019-01-01",
            ),
        )
        first = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c1",
            residence_status="eu_citizen",
        )
        state = accept(state, first, T0 + days(2))
        second = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c2",
            residence_status="international_protection_applicant",
        )
        decision = decide(state, second, T0 + days(2), case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        assert len(decision.state.pending_case_starts) == 2
        refusal = linked_case_refusal(state, decision, T0 + days(2))
        assert refusal is not None and refusal.rule == "R1"

    def test_an_identification_that_starts_no_case_is_admitted(self) -> None:
        opening = event("identified", T0, person=dict(EU_ADULT))
        decision = decide(None, opening, T0, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        assert linked_case_refusal(None, decision, T0) is None

    def test_an_event_that_starts_no_new_case_is_admitted(self) -> None:
        _, decision = self._identified("eu_citizen")
        later = event("ngo_interview_held", T0 + days(3))
        after = decide(decision.state, later, T0 + days(3), case_id=CASE_ID)
        assert isinstance(after, Accepted)
        # The case started by the identification is still pending: not new, not decided again.
        assert after.state.pending_case_starts
        assert linked_case_refusal(decision.state, after, T0 + days(3)) is None


class TestPlacementsNeverOverlap:
    """K1, S1: crisis and safe accommodation are never both active (docs/rules.md). Events are
    often recorded late (issue 13, late-recorded events): one dated into the other's time
    would make both active."""

    @staticmethod
    def _safe_ended() -> CaseState:
        state = opened(EU_ADULT)
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        state = accept(state, event("safe_accommodation_placed", T0 + days(10)))
        return accept(state, event("safe_accommodation_ended", T0 + days(20)))

    def test_a_crisis_placement_dated_within_a_finished_safe_placement_is_refused(self) -> None:
        refusal = admission_refusal(
            self._safe_ended(), event("crisis_accommodation_placed", T0 + days(15))
        )
        assert refusal == Rejection(
            "K1",
            "occurred_at",
            "safe accommodation ran from 2026-03-12 to 2026-03-22: a crisis placement dated "
            "before its end would make both active, and crisis and safe accommodation are "
            "never both active (placements are recorded in the order they happened)",
        )

    def test_any_crisis_placement_dated_before_the_safe_placement_s_end_is_refused(self) -> None:
        """From its date on a crisis placement runs: dated before the safe placement began it
        would run beside it too. At the safe placement's end or after, it is admitted."""
        state = self._safe_ended()
        for before in (T0 + days(9), T0 + days(10), T0 + days(19)):
            assert admission_refusal(state, event("crisis_accommodation_placed", before))
        for after in (T0 + days(20), T0 + days(21)):
            assert admission_refusal(state, event("crisis_accommodation_placed", after)) is None

    def test_not_in_a_case_recorded_before_the_seed_s_assistance_rules(self) -> None:
        """Such a case's placements ended when the end was recorded, not when it happened:
        its end dates cannot be compared (cases keep the rules they ran under)."""
        state = self._safe_ended().model_copy(update={"seed_assistance_rules": False})
        assert admission_refusal(state, event("crisis_accommodation_placed", T0 + days(15))) is None

    def test_a_safe_placement_dated_before_the_running_crisis_placement_is_refused(self) -> None:
        state = accept(opened(EU_ADULT), event("crisis_accommodation_placed", T0 + days(10)))
        refusal = admission_refusal(state, event("safe_accommodation_placed", T0 + days(5)))
        assert refusal == Rejection(
            "S1",
            "occurred_at",
            "the crisis accommodation placed on 2026-03-12 would run beside it: safe "
            "accommodation follows crisis accommodation, so it cannot be dated before it "
            "(placements are recorded in the order they happened)",
        )
        assert admission_refusal(state, event("safe_accommodation_placed", T0 + days(10))) is None

    def test_a_safe_placement_dated_before_a_finished_crisis_placement_is_refused(self) -> None:
        """Crisis accommodation from day 10 to day 12, recorded; a safe placement dated day 5
        would have run beside it. One dated at its end or after is admitted."""
        state = accept(opened(EU_ADULT), event("crisis_accommodation_placed", T0 + days(10)))
        state = accept(state, event("crisis_accommodation_ended", T0 + days(12)))
        early = event("safe_accommodation_placed", T0 + days(5), reason="x")
        assert admission_refusal(state, early) is not None
        later = event("safe_accommodation_placed", T0 + days(13), reason="x")
        assert admission_refusal(state, later) is None


class TestAnExtensionFollowsItsGrant:
    """K7: "the victims may be permitted to remain for another period of three months at the
    most": an extension extends a granted permit, so it cannot be dated before the grant (whose
    ``valid_from`` may lie earlier: a grant on day 10 valid from day 0)."""

    @staticmethod
    def _granted() -> CaseState:
        return accept(
            opened(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted",
                T0 + days(10),
                valid_from=T0.date().isoformat(),
                basis="ex_officio",
            ),
        )

    def test_an_extension_dated_before_the_grant_is_refused(self) -> None:
        refusal = admission_refusal(
            self._granted(), event("permit_to_stay_extended", T0 + days(5), months=3)
        )
        assert refusal == Rejection(
            "K7",
            "occurred_at",
            "the permit to stay was granted on 2026-03-12: its extension cannot be decided "
            "before it",
        )

    def test_other_events_before_the_grant_are_not_this_check_s(self) -> None:
        state = self._granted()
        assert admission_refusal(state, event("ngo_interview_held", T0 + days(5))) is None

    def test_an_extension_on_the_grant_s_day_or_after_is_admitted(self) -> None:
        """Days, not instants: decisions are dated by the day (in Ljubljana), so one on the
        grant's day, hours before the grant's instant, is admitted; the day before is not."""
        state = self._granted()
        assert admission_refusal(state, event("permit_to_stay_extended", T0 + days(9), months=3))
        for at in (T0 + days(10) - timedelta(hours=8), T0 + days(10), T0 + days(11)):
            assert admission_refusal(state, event("permit_to_stay_extended", at, months=3)) is None

    def test_the_grant_is_kept_on_the_permit(self) -> None:
        state = self._granted()
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.granted_at == T0 + days(10)

    def test_a_permit_recorded_before_its_grant_was_kept_is_found_by_its_timeline_line(
        self,
    ) -> None:
        """A permit recorded before ``granted_at`` was kept has none: the check reads the
        grant's date from the timeline line the domain writes for it (if that line's wording
        changed, the check would find no grant: this test says so)."""
        state = self._granted()
        assert state.permit_to_stay is not None
        older = state.model_copy(
            update={"permit_to_stay": state.permit_to_stay.model_copy(update={"granted_at": None})}
        )
        (line,) = [e for e in older.timeline if e.event_id and "granted" in e.what]
        assert line.what == GRANTED
        assert line.at == T0 + days(10)
        refusal = admission_refusal(older, event("permit_to_stay_extended", T0 + days(5), months=3))
        assert refusal is not None and refusal.rule == "K7"
        after = event("permit_to_stay_extended", T0 + days(10), months=3)
        assert admission_refusal(older, after) is None


class TestRepeatsAndClosedCasesAreDecidesToAnswer:
    """IDEMPOTENCY: a repeat of an accepted event answers its first result, whatever came
    after it; CASE: a closed case answers that it is closed. The admission checks stand
    aside for both."""

    def test_a_repeat_of_an_accepted_event_is_not_refused(self) -> None:
        no_age = {**EU_ADULT, "birth_date": None}
        first = event("facts_updated", T0 + days(1), organisation="caritas", person=no_age)
        state = accept(opened(no_age), first)
        aged = {**no_age, "birth_date": "1990-01-01"}
        state = accept(
            state, event("facts_updated", T0 + days(2), organisation="caritas", person=aged)
        )
        assert _facts(state, no_age) is not None  # a new event without the age: refused
        assert admission_refusal(state, first) is None  # the first again: a repeat
        repeat = decide(state, first, T0 + days(3), case_id=CASE_ID)
        assert isinstance(repeat, Accepted) and repeat.result.duplicate

    def test_a_closed_case_is_left_to_decide(self) -> None:
        state = opened(MINOR).model_copy(update={"phase": Phase.CLOSED})
        without = {k: v for k, v in MINOR.items() if k != "birth_date"}
        assert _facts(state, without) is None


def test_a_linked_child_is_checked_as_its_own_case_will_be_admitted() -> None:
    """R1 and INPUT: the child's identification meets the admission checks too (its case opens
    from the parent's event, with no validator of its own): an estimate of 120 years as of
    1900 is refused at the parent."""
    state = opened(EU_ADULT)
    state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    state = accept(
        state,
        event(
            "accompanying_child_recorded",
            T0 + days(1),
            child_ref="c1",
            citizenships=["DE"],
            placed_with="crisis_accommodation",
            age_estimate={"years": 120, "as_of": "1900-01-01", "source": "x"},
        ),
    )
    child = event(
        "accompanying_child_identified", T0 + days(2), child_ref="c1", residence_status="eu_citizen"
    )
    decision = decide(state, child, T0 + days(2), case_id=CASE_ID)
    assert isinstance(decision, Accepted)
    refusal = linked_case_refusal(state, decision, T0 + days(2))
    assert refusal is not None and refusal.rule == "R1"


class TestAdmitInItsOneOrder:
    """``admit``: the admission checks, then the rules, then the linked cases, the first
    refusal answering (the validator, the client's check before it opens a case, and a linked
    child's own identification all decide through it)."""

    def test_an_admission_refusal_answers_before_the_rules_are_asked(self) -> None:
        asked: list[bool] = []

        def decided() -> Accepted | Rejection:
            asked.append(True)
            return Rejection("X", None, "not asked")

        earlier = TestAnEstimateCannotPutTheBirthBefore1900._estimate(100, "1999-12-31")
        refusal = admit(None, event("identified", T0, person=earlier), T0, decided)
        assert isinstance(refusal, Rejection) and refusal.rule == "INPUT"
        assert asked == []

    def test_the_rules_refusal_then_the_linked_case(self) -> None:
        parent = TestALinkedCaseMustBeAbleToOpen._parent()
        child = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c1",
            residence_status="international_protection_applicant",
        )
        rules = Rejection("K1", "type", "the rules refuse")
        assert admit(parent, child, T0 + days(2), lambda: rules) is rules
        decided = decide(parent, child, T0 + days(2), case_id=CASE_ID)
        refusal = admit(parent, child, T0 + days(2), lambda: decided)
        assert isinstance(refusal, Rejection) and refusal.rule == "R1"
        ok = event(
            "accompanying_child_identified",
            T0 + days(2),
            child_ref="c1",
            residence_status="eu_citizen",
        )
        accepted = decide(parent, ok, T0 + days(2), case_id=CASE_ID)
        assert admit(parent, ok, T0 + days(2), lambda: accepted) is accepted
