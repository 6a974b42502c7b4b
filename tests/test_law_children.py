"""Children and proceedings as the seed states them (issue 13): C4–C8 decided again when the
person's facts change, C5 for every foreign unaccompanied minor with due dates, and the dates of
proceedings, hearings, births and linked cases checked against the case (K6, C8, R1, INPUT).

Each test's docstring quotes the seed's words it rests on; the boundaries are the day someone
turns 15 or 18, and corrected birth dates both ways.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import local_date
from pathway.domain.person import PersonFacts
from pathway.domain.rules import fire_due
from pathway.domain.rules.accompanying import _field_of
from pathway.domain.rules.core import RULE_CASE
from pathway.domain.state import CHILD_DEADLINES, CaseState, DeadlineKind, ObligationKind
from tests.factories import EU_ADULT, T0, accept, days, event, opened, reject

CHILD = {
    "best_interests": "Stays with her peers in a safe facility",
    "child_views": "Wants to stay with the girls she arrived with",
}
#: T0's day in Ljubljana (2026-03-02).
DAY0 = local_date(T0)


def years_before(day: date, years: int, plus_days: int = 0) -> str:
    """The birth date of someone who turns ``years`` on ``day`` + ``plus_days``."""
    turns = day + timedelta(days=plus_days)
    return turns.replace(year=turns.year - years).isoformat()


def person(birth_date: str | None, **facts: Any) -> dict[str, Any]:
    return {
        "birth_date": birth_date,
        "gender": "female",
        "citizenships": ["AF"],
        "residence_status": "international_protection_applicant",
        "languages": ["ps"],
        **facts,
    }


def updated(state: CaseState, at: datetime, facts: dict[str, Any]) -> CaseState:
    return accept(state, event("facts_updated", at, person=facts))


def open_kinds(state: CaseState) -> set[ObligationKind]:
    return {o.kind for o in state.open_obligations}


def reasons(state: CaseState, now: datetime) -> tuple[CaseState, list[tuple[str, str]]]:
    new, effects = fire_due(state, now)
    return new, [(n.recipient.value, n.reason) for n in effects.notifications]


def pending(state: CaseState, reason: str) -> set[str]:
    return {n.recipient.value for n in state.pending_notifications if n.reason == reason}


C5_STEPS = {
    ObligationKind.SWC_INTERVIEW,
    ObligationKind.EMERGENCY_ASSISTANCE,
    ObligationKind.GUARDIAN_STATEMENT,
}


# -- the child track when the age is corrected (C1–C8, C4) -------------------------------------


class TestCorrectedAge:
    def test_a_corrected_birth_date_showing_an_adult_closes_the_child_track(self) -> None:
        """C4: “If the holder of parental responsibilities is prevented … the child is to be
        appointed a guardian”: a guardian is for a child. When corrected facts show an adult,
        the child track closes at once (its obligations, age timers and escalations stop), as
        at the 18th birthday, not at the old 18th birthday."""
        state = opened(person(years_before(DAY0, 16), unaccompanied=True))
        assert ObligationKind.GUARDIAN_APPOINTMENT in open_kinds(state)
        at = T0 + days(2)
        state = updated(state, at, person(years_before(local_date(at), 18), unaccompanied=True))
        assert state.child_protection is not None
        assert state.child_protection.closed_at == at
        assert not open_kinds(state) & {
            ObligationKind.GUARDIAN_APPOINTMENT,
            ObligationKind.FAMILY_CONTACT,
            *C5_STEPS,
        }
        assert not set(state.deadlines) & CHILD_DEADLINES
        assert pending(state, "child_track_closed") >= {"social_work_centre", "guardian"}
        _, sent = reasons(state, T0 + days(800))
        assert not [r for r in sent if r[0] == "social_work_centre"]

    def test_turning_18_the_day_after_the_correction_keeps_the_child_track(self) -> None:
        """C4 (boundary): one day short of 18 on the day of the correction is still a child;
        the track stays open and its 18th-birthday timer moves to the corrected birthday."""
        state = opened(person(years_before(DAY0, 16), unaccompanied=True))
        at = T0 + days(2)
        facts = person(years_before(local_date(at), 18, plus_days=1), unaccompanied=True)
        state = updated(state, at, facts)
        assert state.child_track_open_at(at)
        assert ObligationKind.GUARDIAN_APPOINTMENT in open_kinds(state)
        turns_18 = state.deadlines[DeadlineKind.TURNS_18].due_at
        assert local_date(turns_18) == local_date(at) + timedelta(days=1)

    def test_a_corrected_birth_date_showing_a_child_opens_the_track(self) -> None:
        """C4, C6: “If the victim is an unaccompanied minor, the authorities are to do
        everything to establish contact with the victim's family as soon as possible.” An
        adult's case whose corrected birth date shows a minor opens the child track with its
        obligations."""
        state = opened(person(years_before(DAY0, 25), unaccompanied=True))
        assert state.child_protection is None
        state = updated(state, T0 + days(1), person(years_before(DAY0, 16), unaccompanied=True))
        assert state.child_track_open_at(T0 + days(1))
        assert {ObligationKind.GUARDIAN_APPOINTMENT, ObligationKind.FAMILY_CONTACT} <= open_kinds(
            state
        )

    def test_corrected_back_to_a_child_reopens_the_track(self) -> None:
        """C4 (corrected both ways): adult after all, then a child after all: the track
        opens again, with its obligations."""
        state = opened(person(years_before(DAY0, 16), unaccompanied=True))
        state = updated(state, T0 + days(1), person(years_before(DAY0, 20), unaccompanied=True))
        assert not state.child_track_open_at(T0 + days(1))
        state = updated(state, T0 + days(2), person(years_before(DAY0, 16), unaccompanied=True))
        assert state.child_track_open_at(T0 + days(2))
        assert ObligationKind.GUARDIAN_APPOINTMENT in open_kinds(state)
        assert DeadlineKind.TURNS_18 in state.deadlines


# -- C4–C6 when being unaccompanied or the holder's ability changes ------------------------------


class TestChangedCircumstances:
    def test_c4_a_holder_found_unable_to_act_opens_the_guardian_obligation(self) -> None:
        """C4: “If the holder of parental responsibilities is prevented from enforcing the
        principle of the best interests of the child and/or their representation, the child is
        to be appointed a guardian or a representative.”"""
        facts = person(years_before(DAY0, 12))
        state = opened(facts)
        assert ObligationKind.GUARDIAN_APPOINTMENT not in open_kinds(state)
        state = updated(state, T0 + days(1), {**facts, "holder_can_act": False})
        guardian = next(
            o for o in state.open_obligations if o.kind is ObligationKind.GUARDIAN_APPOINTMENT
        )
        assert guardian.due_at is not None
        assert DeadlineKind.GUARDIAN_APPOINTMENT in state.deadlines
        # ... and found able to act again (and with the child): the obligation closes.
        state = updated(state, T0 + days(2), {**facts, "holder_can_act": True})
        assert ObligationKind.GUARDIAN_APPOINTMENT not in open_kinds(state)
        assert DeadlineKind.GUARDIAN_APPOINTMENT not in state.deadlines

    def test_c5_c6_a_child_found_unaccompanied_gets_the_steps(self) -> None:
        """C5: “In the case of an unaccompanied minor … the interview with the minor foreigner
        is conducted by a professional worker from a social work centre”; C6: “establish
        contact with the victim's family as soon as possible”."""
        facts = person(years_before(DAY0, 13))
        state = opened(facts)
        assert not open_kinds(state) & C5_STEPS
        state = updated(state, T0 + days(1), {**facts, "unaccompanied": True})
        assert C5_STEPS | {ObligationKind.FAMILY_CONTACT} <= open_kinds(state)
        # ... and found accompanied after all: the steps are no longer due.
        state = updated(state, T0 + days(2), facts)
        assert not open_kinds(state) & (C5_STEPS | {ObligationKind.FAMILY_CONTACT})
        assert DeadlineKind.SWC_INTERVIEW not in state.deadlines


# -- C5: every minor foreigner, each step dated ----------------------------------------------------


class TestC5MinorForeigner:
    @pytest.mark.parametrize(
        ("citizenships", "status", "steps"),
        [
            (["HR"], "eu_citizen", True),
            (["AF"], "international_protection_applicant", True),
            (["SI"], "slovenian_citizen", False),
            (["SI", "HR"], "slovenian_citizen", False),
        ],
    )
    def test_c5_applies_to_every_unaccompanied_minor_foreigner(
        self, citizenships: list[str], status: str, steps: bool
    ) -> None:
        """C5: “the interview with the minor foreigner is conducted by a professional worker
        from a social work centre”: a minor foreigner is anyone not a Slovenian citizen, a
        citizen of another EU member state too."""
        facts = person(
            years_before(DAY0, 14),
            citizenships=citizenships,
            residence_status=status,
            unaccompanied=True,
        )
        state = opened(facts)
        assert (open_kinds(state) >= C5_STEPS) is steps
        assert not (open_kinds(state) & C5_STEPS) or steps

    def test_c5_emergency_assistance_and_statement_are_due_with_the_interview(self) -> None:
        """C5: the worker “who will also offer the foreigner emergency social assistance and
        obtain the foreigner's statement on the appointment of a guardian”: all three are due
        together, and escalate together while any is open."""
        state = opened(person(years_before(DAY0, 14), unaccompanied=True))
        due = state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        dues = {o.kind: o.due_at for o in state.open_obligations if o.kind in C5_STEPS}
        assert dues == dict.fromkeys(C5_STEPS, due)
        state, sent = reasons(state, due)
        assert ("social_work_centre", "swc_interview_overdue") in sent
        assert all(o.escalated_at is not None for o in state.open_obligations if o.kind in C5_STEPS)

    def test_c5_steps_not_taken_at_the_interview_go_on_escalating(self) -> None:
        """C5: an interview that offered no emergency assistance leaves that step open, dated,
        and escalating, until a later interview offers it."""
        state = opened(person(years_before(DAY0, 14), unaccompanied=True))
        held = {
            "qualified_personnel": True,
            "trafficking_indicators": False,
            "child": CHILD,
        }
        state = accept(
            state,
            event(
                "swc_interview_held",
                T0 + days(0.5),
                emergency_assistance_offered=False,
                guardian_statement_taken=True,
                **held,
            ),
        )
        assert open_kinds(state) & C5_STEPS == {ObligationKind.EMERGENCY_ASSISTANCE}
        due = state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        state, sent = reasons(state, due)
        assert ("social_work_centre", "swc_interview_overdue") in sent
        later = state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        assert later > due
        state = accept(
            state,
            event(
                "swc_interview_held",
                due + days(0.1),
                emergency_assistance_offered=True,
                guardian_statement_taken=True,
                **held,
            ),
        )
        assert not open_kinds(state) & C5_STEPS
        assert DeadlineKind.SWC_INTERVIEW not in state.deadlines


# -- C7 ------------------------------------------------------------------------------------------


class TestC7FoundMinorDuringProceedings:
    def _adult_in_proceedings(self, **opening: Any) -> CaseState:
        state = opened(person(years_before(DAY0, 22)))
        return accept(state, event("criminal_proceedings_opened", T0 + days(1), **opening))

    def test_c7_a_person_found_minor_during_proceedings_needs_a_representative(self) -> None:
        """C7: “the injured party who is a minor will throughout the criminal proceedings have
        an authorised representative to ensure their rights”."""
        state = self._adult_in_proceedings()
        state = updated(state, T0 + days(2), person(years_before(DAY0, 16)))
        assert ObligationKind.AUTHORISED_REPRESENTATIVE in open_kinds(state)
        assert DeadlineKind.AUTHORISED_REPRESENTATIVE in state.deadlines
        assert pending(state, "authorised_representative_missing") == {
            "social_work_centre",
            "police",
        }

    def test_c7_turning_18_on_the_day_of_the_correction_needs_none(self) -> None:
        """C7 (boundary): 18 on the day of the correction is no longer a minor."""
        state = self._adult_in_proceedings()
        at = T0 + days(2)
        state = updated(state, at, person(years_before(local_date(at), 18)))
        assert ObligationKind.AUTHORISED_REPRESENTATIVE not in open_kinds(state)

    def test_c7_a_representative_named_at_opening_leaves_nothing_to_do(self) -> None:
        """C7: proceedings opened with an authorised representative need no other."""
        state = self._adult_in_proceedings(authorised_representative=True)
        state = updated(state, T0 + days(2), person(years_before(DAY0, 16)))
        assert ObligationKind.AUTHORISED_REPRESENTATIVE not in open_kinds(state)

    def test_c7_concluded_proceedings_need_none(self) -> None:
        """C7: “throughout the criminal proceedings”: not after they concluded."""
        state = self._adult_in_proceedings()
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(2)))
        state = updated(state, T0 + days(3), person(years_before(DAY0, 16)))
        assert ObligationKind.AUTHORISED_REPRESENTATIVE not in open_kinds(state)


# -- C8 ------------------------------------------------------------------------------------------


class TestC8CorrectedAge:
    HEARING = date(2026, 6, 1)

    def _hearing_with_direct_questioning(self) -> CaseState:
        state = opened(person(years_before(DAY0, 16)))
        state = accept(
            state,
            event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True),
        )
        return accept(
            state,
            event(
                "main_hearing_scheduled",
                T0 + days(2),
                hearing_date=self.HEARING.isoformat(),
                direct_questioning=True,
            ),
        )

    @pytest.mark.parametrize(
        ("turns_15_after_hearing", "alert"),
        [(1, True), (30, True), (0, False), (-1, False)],
    )
    def test_c8_a_corrected_birth_date_under_15_at_the_hearing_alerts(
        self, turns_15_after_hearing: int, alert: bool
    ) -> None:
        """C8: “Direct questioning of persons under 15 years of age who are victims of criminal
        offences of trafficking in human beings is not permitted in the main hearing.” A
        corrected birth date that makes the witness under 15 on the date of a main hearing
        already scheduled with direct questioning alerts the police; turning 15 on the hearing
        date is 15."""
        state = self._hearing_with_direct_questioning()
        facts = person(years_before(self.HEARING, 15, plus_days=turns_15_after_hearing))
        state = updated(state, T0 + days(3), facts)
        assert bool(pending(state, "direct_questioning_barred")) is alert
        if alert:
            assert "police" in pending(state, "direct_questioning_barred")

    def test_c8_an_age_no_longer_known_alerts(self) -> None:
        """C8 (reading 2: an unknown age bars direct questioning): facts corrected to no birth
        date or estimate alert too."""
        state = self._hearing_with_direct_questioning()
        state = updated(state, T0 + days(3), person(None))
        assert "police" in pending(state, "direct_questioning_barred")

    def test_c8_a_past_hearing_is_not_reported(self) -> None:
        """C8: only a main hearing still to come can be changed."""
        state = self._hearing_with_direct_questioning()
        at = datetime(2026, 6, 2, 9, 0, tzinfo=T0.tzinfo)
        state = updated(state, at, person(years_before(self.HEARING, 15, plus_days=10)))
        assert not pending(state, "direct_questioning_barred")


# -- K6 and C8: dates of the proceedings -----------------------------------------------------------


class TestProceedingsDates:
    def _open(self) -> CaseState:
        state = opened(EU_ADULT)
        return accept(state, event("criminal_proceedings_opened", T0 + days(10)))

    @pytest.mark.parametrize(("offset", "accepted"), [(-0.001, False), (0, True), (1, True)])
    def test_k6_proceedings_do_not_conclude_before_they_opened(
        self, offset: float, accepted: bool
    ) -> None:
        """K6: “assistance and support prior to and during the criminal proceedings and in an
        appropriate period after their completion”: proceedings complete after they open."""
        state = self._open()
        concluded = event("criminal_proceedings_concluded", T0 + days(10 + offset))
        if accepted:
            accept(state, concluded, T0 + days(12))
        else:
            rejection = reject(state, concluded, T0 + days(12))
            assert (rejection.rule, rejection.field) == ("K6", "occurred_at")

    @pytest.mark.parametrize(("offset", "accepted"), [(-1, False), (0, True), (1, True)])
    def test_k6_no_main_hearing_before_the_proceedings_opened(
        self, offset: int, accepted: bool
    ) -> None:
        """K6, C8: “Direct questioning … is not permitted in the main hearing” of the criminal
        proceedings: a main hearing lies in them, on or after the day they opened (a refusal
        about the proceedings names K6)."""
        state = self._open()
        opened_on = local_date(T0 + days(10))
        hearing = event(
            "main_hearing_scheduled",
            T0 + days(11),
            hearing_date=(opened_on + timedelta(days=offset)).isoformat(),
            direct_questioning=False,
        )
        if accepted:
            state = accept(state, hearing)
            assert state.timeline[-1].rule == "C8, K6"
        else:
            rejection = reject(state, hearing)
            assert (rejection.rule, rejection.field) == ("K6", "hearing_date")

    def test_k6_a_hearing_is_not_scheduled_before_the_proceedings_opened(self) -> None:
        """K6: a hearing is scheduled in open proceedings, not by an event dated before they
        opened (recorded late)."""
        state = self._open()
        rejection = reject(
            state,
            event(
                "main_hearing_scheduled",
                T0 + days(9),
                hearing_date="2026-06-01",
                direct_questioning=False,
            ),
            T0 + days(12),
        )
        assert (rejection.rule, rejection.field) == ("K6", "occurred_at")


# -- INPUT: a corrected birth date after identification --------------------------------------------


class TestCorrectedBirthDate:
    @pytest.mark.parametrize(("after", "accepted"), [(0, True), (1, False)])
    def test_a_birth_date_after_the_identification_is_refused(
        self, after: int, accepted: bool
    ) -> None:
        """INPUT (R1: “as soon as the authorised authorities have reasonable grounds to suspect
        that the person has been a victim”): the person was born when identified; a corrected
        birth date after the identification's day is refused and changes nothing."""
        state = opened(EU_ADULT)
        facts = {**EU_ADULT, "birth_date": (DAY0 + timedelta(days=after)).isoformat()}
        correction = event("facts_updated", T0 + days(5), person=facts)
        if accepted:
            accept(state, correction)
        else:
            rejection = reject(state, correction)
            assert (rejection.rule, rejection.field) == ("INPUT", "person.birth_date")


# -- R1: accompanying children ---------------------------------------------------------------------


class TestAccompanyingChildDates:
    def _with_child(self, **child: Any) -> CaseState:
        state = opened(EU_ADULT)
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        return accept(
            state,
            event(
                "accompanying_child_recorded",
                T0 + days(10),
                child_ref="child-1",
                citizenships=["DE"],
                placed_with="crisis_accommodation",
                **child,
            ),
        )

    @pytest.mark.parametrize(("day", "accepted"), [(4, False), (5, True)])
    def test_r1_no_child_identified_before_their_birth(self, day: int, accepted: bool) -> None:
        """R1: “assistance and support as soon as the authorised authorities have reasonable
        grounds to suspect that the person has been a victim”: not before the person was
        born (a child born on day 5 is identified on day 5 at the earliest)."""
        state = self._with_child(birth_date=local_date(T0 + days(5)).isoformat())
        identified = event(
            "accompanying_child_identified",
            T0 + days(day),
            child_ref="child-1",
            residence_status="eu_citizen",
        )
        if accepted:
            accept(state, identified, T0 + days(11))
        else:
            rejection = reject(state, identified, T0 + days(11))
            assert (rejection.rule, rejection.field) == ("R1", "occurred_at")
            assert "before their recorded birth date" in rejection.reason
            # R6: the identifying authority may not read the birth date; the reason (answered,
            # and noted in the case) does not tell it.
            assert local_date(T0 + days(5)).isoformat() not in rejection.reason

    def test_r1_no_child_identified_before_their_estimate(self) -> None:
        """R1: an estimate made on day 10 says nothing of day 9."""
        as_of = local_date(T0 + days(10)).isoformat()
        state = self._with_child(age_estimate={"years": 4, "as_of": as_of, "source": "doctor"})
        rejection = reject(
            state,
            event(
                "accompanying_child_identified",
                T0 + days(9),
                child_ref="child-1",
                residence_status="eu_citizen",
            ),
            T0 + days(11),
        )
        assert (rejection.rule, rejection.field) == ("R1", "occurred_at")
        assert "before the day of their recorded age estimate" in rejection.reason
        assert as_of not in rejection.reason  # R6: no recorded date in the reason

    def test_r1_a_status_the_childs_citizenship_contradicts_names_residence_status(self) -> None:
        """R1: the child's facts must hold together: a third-country status for a German child
        is refused, naming the status the event states."""
        state = self._with_child(birth_date="2022-01-01")
        rejection = reject(
            state,
            event(
                "accompanying_child_identified",
                T0 + days(11),
                child_ref="child-1",
                residence_status="third_country_illegal",
            ),
        )
        assert (rejection.rule, rejection.field) == ("R1", "residence_status")
        # R6: the reason does not tell the sender the child's recorded citizenship.
        assert "EU" not in rejection.reason and "citizenship" not in rejection.reason

    def test_r1_a_fault_in_a_field_is_named_by_its_path(self) -> None:
        """R1: a fault in a field the event states is named by it; one in the child's recorded
        facts by the reference to them."""
        with pytest.raises(ValidationError) as stated:
            PersonFacts.model_validate(
                {"citizenships": ["DE"], "residence_status": "eu_citizen", "languages": ["X"]}
            )
        assert _field_of(stated.value) == "languages.0"
        with pytest.raises(ValidationError) as recorded:
            PersonFacts.model_validate({"citizenships": [], "residence_status": "eu_citizen"})
        assert _field_of(recorded.value) == "child_ref"

    def test_a_child_recorded_twice_is_refused_under_case(self) -> None:
        """CASE: an accompanying child is recorded once."""
        state = self._with_child(birth_date="2022-01-01")
        rejection = reject(
            state,
            event(
                "accompanying_child_recorded",
                T0 + days(11),
                child_ref="child-1",
                citizenships=["DE"],
                placed_with="crisis_accommodation",
            ),
        )
        assert (rejection.rule, rejection.field) == (RULE_CASE, "child_ref")


# -- histories from before: the old rules, unchanged --------------------------------------------


class TestBeforeThePatch:
    def test_cases_replayed_from_before_keep_the_old_child_rules(self) -> None:
        """The patch ``seed-child-rules``: a case replaying a history from before it keeps the
        rules it ran under (no C5 for an EU minor, no closure on a corrected adult age)."""
        eu_minor = person(
            years_before(DAY0, 14),
            citizenships=["HR"],
            residence_status="eu_citizen",
            unaccompanied=True,
        )
        new = updated(opened(EU_ADULT), T0 + days(1), eu_minor)
        assert open_kinds(new) >= C5_STEPS
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        old = updated(old, T0 + days(1), eu_minor)
        assert not open_kinds(old) & C5_STEPS
        assert ObligationKind.GUARDIAN_APPOINTMENT in open_kinds(old)
        old = updated(old, T0 + days(2), {**eu_minor, "birth_date": years_before(DAY0, 20)})
        assert old.child_protection is not None and old.child_protection.closed_at is None
        assert ObligationKind.GUARDIAN_APPOINTMENT in open_kinds(old)
