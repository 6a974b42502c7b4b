"""Children (C1–C8), accompanying children, special needs (K4), reintegration services (I1)
and the programme registers (P1, X1), tested on the pure core; each test cites its rule."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pathway.domain.calendar import end_of_day, local_date
from pathway.domain.ids import case_id_for, linked_case_id, linked_case_secret
from pathway.domain.organisations import Organisation
from pathway.domain.programmes import (
    ExitCounsellingRecorded,
    ExitProgrammeEnrolled,
    ExitProgrammeLeft,
    PatsInterviewRecorded,
    Programme,
    ProgrammeState,
    _notify,
    decide_programme,
    register_id,
)
from pathway.domain.rules import (
    Accepted,
    Rejection,
    decide,
    fire_due,
    forget_linked_case,
    settle_case_start,
)
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind, Phase
from tests.factories import CASE_ID, EU_ADULT, T0, accept, days, event, opened, reject

CHILD = {
    "best_interests": "Stays with her peers in a safe facility",
    "child_views": "Wants to stay with the girls she arrived with",
}


def born(years: float, at: datetime = T0) -> str:
    """A birth date that makes the person ``years`` old at ``at``."""
    return (local_date(at) - timedelta(days=round(years * 365.25))).isoformat()


def child(years: float, **facts: Any) -> dict[str, Any]:
    return {
        "birth_date": born(years),
        "gender": "female",
        "citizenships": ["AF"],
        "residence_status": "international_protection_applicant",
        "languages": ["ps"],
        **facts,
    }


UNACCOMPANIED_14 = child(14.2, unaccompanied=True)


def day_end(month: int, day: int) -> datetime:
    """24:00 (Ljubljana) on ``day`` ``month`` 2026: when a deadline whose last day it is ends."""
    return end_of_day(date(2026, month, day))


def sent(state: CaseState, now: datetime) -> tuple[CaseState, list[tuple[str, str]]]:
    new, effects = fire_due(state, now)
    return new, [(n.recipient.value, n.reason) for n in effects.notifications]


def open_ids(state: CaseState) -> set[str]:
    return {o.id for o in state.open_obligations}


def interviewed(person: dict[str, Any]) -> CaseState:
    return accept(
        opened(person),
        event(
            "ngo_interview_held",
            T0 + timedelta(hours=1),
            language=person["languages"][0],
            qualified_personnel=True,
        ),
    )


class TestAge:
    def test_age_is_derived_at_each_date_never_stored(self) -> None:
        """Age comes from the birth date (or estimate) at the date asked, so it changes."""
        state = opened(child(17.9))
        assert state.is_minor_at(T0)
        assert not state.is_minor_at(T0 + days(60))
        assert "age" not in state.person.model_dump()

    def test_age_estimate_with_its_source(self) -> None:
        """An estimate ages with time from the day it was made."""
        state = opened(
            {
                **child(0),
                "birth_date": None,
                "age_estimate": {"years": 16, "as_of": "2025-03-02", "source": "dental X-ray"},
            }
        )
        assert state.person.age_on(local_date(T0)) == 17
        assert DeadlineKind.TURNS_18 in state.deadlines

    def test_turning_18_closes_the_child_track_and_informs_the_guardian(self) -> None:
        """At 18 the child obligations close, the child timers end, the guardian is told, and
        decisions need no child block any more."""
        state = interviewed(UNACCOMPANIED_14 | {"birth_date": born(17.95)})
        assert {ObligationKind.GUARDIAN_APPOINTMENT, ObligationKind.FAMILY_CONTACT} <= {
            o.kind for o in state.open_obligations
        }
        birthday = state.deadlines[DeadlineKind.TURNS_18].due_at
        state, notes = sent(state, birthday)
        assert ("guardian", "turned_18") in notes
        assert state.child_protection is not None and state.child_protection.closed_at
        assert not any(o.id.startswith(("guardian", "family")) for o in state.open_obligations)
        assert not any(
            k in state.deadlines
            for k in (DeadlineKind.FAMILY_CONTACT, DeadlineKind.GUARDIAN_APPOINTMENT)
        )
        placed = accept(state, event("crisis_accommodation_placed", birthday + days(1)))
        assert placed.phase is Phase.REFLECTION

    def test_adults_have_no_child_track(self) -> None:
        """An adult's case opens no child-protection obligation or age timer."""
        state = opened(EU_ADULT)
        assert state.child_protection is None
        assert DeadlineKind.TURNS_18 not in state.deadlines


class TestDecisionsOnAChild:
    def test_c1_decision_without_best_interests_note_is_rejected(self) -> None:
        """C1: every decision on a child's case records a best-interests note."""
        r = reject(interviewed(child(15)), event("crisis_accommodation_placed", T0 + days(1)))
        assert (r.rule, r.field) == ("C1", "child.best_interests")

    def test_c2_decision_without_the_childs_views_is_rejected(self) -> None:
        """C2: the child's views are recorded for every decision."""
        r = reject(
            interviewed(child(15)),
            event(
                "crisis_accommodation_placed",
                T0 + days(1),
                child={"best_interests": "Safety first"},
            ),
        )
        assert (r.rule, r.field) == ("C2", "child.child_views")

    def test_c2_views_are_shown_beside_the_decision(self) -> None:
        """C1, C2: the note and the views stand in the timeline next to the decision."""
        state = accept(
            interviewed(child(15)), event("crisis_accommodation_placed", T0 + days(1), child=CHILD)
        )
        entry = state.timeline[-1]
        assert entry.what == "crisis accommodation placed"
        assert entry.child is not None and entry.child.child_views == CHILD["child_views"]

    def test_c3_every_measure_informs_the_guardian(self) -> None:
        """C3: the child and the legal representative are informed of every measure."""
        decision = decide(
            interviewed(child(15)),
            event("crisis_accommodation_placed", T0 + days(1), child=CHILD),
            T0 + days(1),
            case_id=CASE_ID,
        )
        assert isinstance(decision, Accepted)
        assert ("guardian", "child_measure") in [
            (n.recipient.value, n.reason) for n in decision.effects.notifications
        ]

    def test_c4_procedures_need_qualified_personnel(self) -> None:
        """C4: procedures with a child are done by qualified personnel (recorded)."""
        r = reject(opened(child(15)), event("ngo_interview_held", T0 + days(1), language="ps"))
        assert (r.rule, r.field) == ("C4", "qualified_personnel")

    def test_adult_decisions_need_no_child_block(self) -> None:
        """C1–C3 concern children only."""
        state = accept(opened(EU_ADULT), event("ngo_interview_held", T0 + days(1)))
        assert (
            accept(state, event("crisis_accommodation_placed", T0 + days(1))).phase
            is Phase.REFLECTION
        )


class TestGuardianAndFamily:
    def test_c4_guardian_obligation_escalates_to_the_swc_until_appointed(self) -> None:
        """C4: when the holder cannot act, a guardian appointment is an open obligation that
        escalates to the social work centre every 3 working days until appointed (docs/rules.md
        "Legal time"): from Monday 2 March 2026, at the end of Thursday 5 March, then of
        Wednesday 11 March."""
        state = interviewed(child(15, holder_can_act=False))
        assert "guardian_appointment" in open_ids(state)
        state, notes = sent(state, day_end(3, 5) - timedelta(seconds=1))
        assert ("social_work_centre", "guardian_appointment_overdue") not in notes
        state, notes = sent(state, day_end(3, 5))
        assert ("social_work_centre", "guardian_appointment_overdue") in notes
        state, notes = sent(state, day_end(3, 11))
        assert ("social_work_centre", "guardian_appointment_overdue") in notes
        state = accept(state, event("guardian_appointed", day_end(3, 11) + days(0.5), child=CHILD))
        assert "guardian_appointment" not in open_ids(state)
        _, notes = sent(state, T0 + days(12))
        assert ("social_work_centre", "guardian_appointment_overdue") not in notes

    def test_c4_guardian_appointment_only_for_children(self) -> None:
        """C4 applies to children only."""
        assert (
            reject(opened(EU_ADULT), event("guardian_appointed", T0 + days(1), child=CHILD)).rule
            == "C4"
        )

    def test_c5_unaccompanied_foreign_minor_obligations(self) -> None:
        """C5: SWC interview, emergency assistance and guardian statement are obligations; the
        interview meets them; indicators open the facility accommodation obligation. The
        interview is overdue at the end of the next working day (Tuesday 3 March 2026)."""
        state = interviewed(UNACCOMPANIED_14)
        assert {"swc_interview", "emergency_assistance", "guardian_statement"} <= open_ids(state)
        state, notes = sent(state, day_end(3, 3))
        assert ("social_work_centre", "swc_interview_overdue") in notes
        state = accept(
            state,
            event(
                "swc_interview_held",
                T0 + days(2),
                emergency_assistance_offered=True,
                guardian_statement_taken=True,
                trafficking_indicators=True,
                qualified_personnel=True,
            ),
        )
        ids = open_ids(state)
        assert not {"swc_interview", "emergency_assistance", "guardian_statement"} & ids
        assert "facility_accommodation" in ids
        state = accept(state, event("child_accommodated_in_facility", T0 + days(2.5), child=CHILD))
        assert "facility_accommodation" not in open_ids(state)

    def test_c5_interview_only_for_children(self) -> None:
        """C5 applies to minors only."""
        r = reject(
            opened(EU_ADULT),
            event(
                "swc_interview_held",
                T0 + days(1),
                emergency_assistance_offered=True,
                guardian_statement_taken=True,
                trafficking_indicators=False,
                qualified_personnel=True,
            ),
        )
        assert r.rule == "C5"

    def test_c6_family_contact_reminders_until_established(self) -> None:
        """C6: reminders repeat every 3 working days until contact is established (an attempt
        keeps them going): from Monday 2 March 2026, at the end of 5 and of 11 March."""
        state = interviewed(UNACCOMPANIED_14)
        state, notes = sent(state, day_end(3, 5))
        assert ("social_work_centre", "family_contact_reminder") in notes
        state = accept(
            state, event("family_contact_recorded", T0 + days(4), outcome="attempted", child=CHILD)
        )
        state, notes = sent(state, day_end(3, 11))
        assert ("social_work_centre", "family_contact_reminder") in notes
        state = accept(
            state,
            event(
                "family_contact_recorded",
                day_end(3, 11) + days(0.5),
                outcome="not_in_childs_interest",
                child=CHILD,
            ),
        )
        assert "family_contact" not in open_ids(state)
        _, notes = sent(state, T0 + days(20))
        assert ("social_work_centre", "family_contact_reminder") not in notes


class TestProceedings:
    def test_c7_minor_without_representative_opens_an_escalating_obligation(self) -> None:
        """C7: proceedings for a minor injured party without an authorised representative."""
        state = accept(interviewed(child(16)), event("criminal_proceedings_opened", T0 + days(2)))
        assert "authorised_representative" in open_ids(state)
        assert {
            n.recipient.value
            for n in state.pending_notifications
            if n.reason == "authorised_representative_missing"
        } == {"social_work_centre", "police"}
        state = accept(
            state, event("authorised_representative_appointed", T0 + days(3), child=CHILD)
        )
        assert "authorised_representative" not in open_ids(state)

    def test_c7_with_a_representative_nothing_opens(self) -> None:
        """C7: a representative named at opening leaves nothing to do."""
        state = accept(
            interviewed(child(16)),
            event("criminal_proceedings_opened", T0 + days(2), authorised_representative=True),
        )
        assert "authorised_representative" not in open_ids(state)

    @pytest.mark.parametrize(
        ("age_at_hearing", "direct", "accepted"),
        [
            (14.5, True, False),
            (14.99, True, False),
            (15.01, True, True),
            (14.5, False, True),
        ],
    )
    def test_c8_no_direct_questioning_under_15_on_the_hearing_date(
        self, age_at_hearing: float, direct: bool, accepted: bool
    ) -> None:
        """C8: scheduling direct questioning of a person under 15 on the hearing date is
        rejected; the age counts on the hearing date, not on the day of scheduling."""
        hearing = T0 + days(100)
        person = child(0, birth_date=born(age_at_hearing, at=hearing))
        state = accept(
            interviewed(person),
            event("criminal_proceedings_opened", T0 + days(2), authorised_representative=True),
        )
        scheduled = event(
            "main_hearing_scheduled",
            T0 + days(3),
            hearing_date=local_date(hearing).isoformat(),
            direct_questioning=direct,
        )
        if accepted:
            assert accept(state, scheduled).hearings[-1].direct_questioning is direct
        else:
            rejection = reject(state, scheduled)
            assert (rejection.rule, rejection.field) == ("C8", "direct_questioning")

    def test_c8_unknown_age_blocks_direct_questioning(self) -> None:
        """C8: without a recorded age, direct questioning cannot be scheduled."""
        person = {**EU_ADULT, "birth_date": None}
        state = accept(opened(person), event("criminal_proceedings_opened", T0 + days(2)))
        r = reject(
            state,
            event(
                "main_hearing_scheduled",
                T0 + days(3),
                hearing_date="2026-09-01",
                direct_questioning=True,
            ),
        )
        assert (r.rule, r.field) == ("C8", "direct_questioning")

    def test_turning_15_alerts_the_police_when_proceedings_are_open(self) -> None:
        """The 15th birthday is a durable timer; at it the police learn C8 no longer bars
        direct questioning."""
        state = accept(
            interviewed(child(14.9)),
            event("criminal_proceedings_opened", T0 + days(2), authorised_representative=True),
        )
        turns_15 = state.deadlines[DeadlineKind.TURNS_15].due_at
        _, notes = sent(state, turns_15)
        assert ("police", "turned_15") in notes


class TestAccompanyingChildren:
    def placed(self) -> CaseState:
        state = accept(
            opened({**EU_ADULT, "citizenships": ["PT"], "languages": ["pt"]}),
            event("ngo_interview_held", T0 + days(0.1), language="pt"),
        )
        return accept(state, event("crisis_accommodation_placed", T0 + days(1)))

    def test_children_placed_with_the_victim_are_dependants(self) -> None:
        """Accompanying children are recorded with age, gender and citizenship."""
        state = accept(
            self.placed(),
            event(
                "accompanying_child_recorded",
                T0 + days(1),
                child_ref="child-1",
                birth_date="2019-09-01",
                gender="male",
                citizenships=["PT"],
                placed_with="crisis_accommodation",
            ),
        )
        (dependant,) = state.accompanying_children
        assert (dependant.child_ref, dependant.gender.value) == ("child-1", "male")
        assert dependant.own_case_id is None

    def test_a_child_must_be_placed_with_the_victim(self) -> None:
        """K1/S1: a child is recorded with a placement that is running."""
        r = reject(
            self.placed(),
            event(
                "accompanying_child_recorded",
                T0 + days(1),
                child_ref="child-1",
                citizenships=["PT"],
                placed_with="safe_accommodation",
            ),
        )
        assert (r.rule, r.field) == ("S1", "placed_with")

    def test_r1_identified_child_gets_its_own_linked_case(self) -> None:
        """R1: an accompanying child identified as a victim gets their own case, started by the
        parent's case and linked both ways."""
        state = accept(
            self.placed(),
            event(
                "accompanying_child_recorded",
                T0 + days(1),
                child_ref="child-2",
                birth_date="2012-05-05",
                gender="female",
                citizenships=["PT"],
                placed_with="crisis_accommodation",
            ),
        )
        state = accept(
            state,
            event(
                "accompanying_child_identified",
                T0 + days(5),
                child_ref="child-2",
                residence_status="eu_citizen",
                languages=["pt"],
            ),
        )
        (start,) = state.pending_case_starts
        assert start.case_id != CASE_ID and state.linked_cases == [start.case_id]
        assert start.identified.person.birth_date is not None
        assert state.accompanying_children[0].own_case_id == start.case_id
        assert (
            reject(
                state,
                event(
                    "accompanying_child_identified",
                    T0 + days(6),
                    child_ref="child-2",
                    residence_status="eu_citizen",
                ),
            ).rule
            == "R1"
        )

    def test_r1_without_a_link_secret_the_old_ids_stay(self) -> None:
        """R1: a case opened before cases had a link secret (replayed from its history) gives
        its child the ID it always did, so stored histories replay unchanged."""
        state = identify_child(self.placed())
        (start,) = state.pending_case_starts
        assert state.link_secret is None and start.link_secret is None
        assert start.case_id == f"{CASE_ID}-child-2"
        assert start.identified.subject_ref == f"{CASE_ID}/child-2"

    def test_r1_unknown_child_cannot_be_identified(self) -> None:
        """R1: only a recorded accompanying child can be identified from the parent's case."""
        r = reject(
            self.placed(),
            event(
                "accompanying_child_identified",
                T0 + days(2),
                child_ref="nobody",
                residence_status="eu_citizen",
            ),
        )
        assert (r.rule, r.field) == ("R1", "child_ref")


def identify_child(placed: CaseState, child_ref: str = "child-2") -> CaseState:
    """``placed`` with the accompanying child ``child_ref`` recorded and identified (R1)."""
    state = accept(
        placed,
        event(
            "accompanying_child_recorded",
            T0 + days(1),
            child_ref=child_ref,
            birth_date="2012-05-05",
            gender="female",
            citizenships=["PT"],
            placed_with="crisis_accommodation",
        ),
    )
    return accept(
        state,
        event(
            "accompanying_child_identified",
            T0 + days(5),
            child_ref=child_ref,
            residence_status="eu_citizen",
            languages=["pt"],
        ),
    )


#: A parent's case ID as the installation's pepper makes it, and two link secrets as
#: ``pathway.clients.cases.new_link_secret`` makes them.
PARENT_ID = case_id_for("mother-1", b"pepper")
SECRET, OTHER_SECRET = "1f" * 32, "e0" * 32


class TestLinkedCaseIds:
    """R1 (issue 11 item 6): a linked case's ID reveals nothing about the case that opened it;
    the link lives only in the encrypted state of both (``linked_cases``)."""

    @staticmethod
    def placed(secret: str | None, case_id: str = PARENT_ID) -> CaseState:
        decision = decide(
            None,
            event("identified", T0, person={**EU_ADULT, "citizenships": ["PT"]}),
            T0,
            case_id=case_id,
            link_secret=secret,
        )
        assert isinstance(decision, Accepted)
        state = accept(decision.state, event("ngo_interview_held", T0 + days(0.1), language="pt"))
        return accept(state, event("crisis_accommodation_placed", T0 + days(1)))

    def test_the_childs_id_is_its_own_pseudonym(self) -> None:
        """The child's ID has the format of every case ID (the gateway takes it), holds neither
        the parent's ID nor the child's reference, and is a keyed hash under the parent's
        secret; the child's identification names the child's own ID, not the parent's."""
        from pathway.gateway.dependencies import _CASE_ID

        state = identify_child(self.placed(SECRET))
        assert state.link_secret == SECRET
        (start,) = state.pending_case_starts
        child_id = start.case_id
        assert re.fullmatch(r"case-[a-z2-7]{24}", child_id) and _CASE_ID.fullmatch(child_id)
        assert len(child_id) == len(PARENT_ID)
        parent_part = PARENT_ID.removeprefix("case-")
        assert parent_part[:6] not in child_id and "child" not in child_id
        assert child_id == linked_case_id(SECRET, "child-2")
        assert PARENT_ID not in start.identified.subject_ref
        assert start.identified.subject_ref == child_id
        assert state.linked_cases == [child_id]
        assert state.accompanying_children[0].own_case_id == child_id

    def test_the_childs_secret_differs_from_the_parents(self) -> None:
        """The child's case gets a secret of its own, derived from the parent's: its children
        get IDs that neither equal nor reveal the parent's children's."""
        (start,) = identify_child(self.placed(SECRET)).pending_case_starts
        assert start.link_secret is not None and start.link_secret != SECRET
        assert start.link_secret == linked_case_secret(SECRET, "child-2")
        assert linked_case_id(start.link_secret, "child-2") != start.case_id

    def test_two_identical_cases_opened_separately_give_the_child_different_ids(self) -> None:
        """Same case ID, same child, same events: only the secret differs, and so does the
        child's ID. Nobody can compute it from what the two cases share."""
        first = identify_child(self.placed(SECRET)).pending_case_starts[0].case_id
        second = identify_child(self.placed(OTHER_SECRET)).pending_case_starts[0].case_id
        assert first != second

    def test_the_id_is_stable_across_replay_and_continue_as_new(self) -> None:
        """Deterministic: the validator, the handler and every replay derive the same ID; the
        secret travels in the state, so after continue-as-new (the state as JSON, and a run
        started without a secret of its own) a second child derives under the same secret."""
        placed = self.placed(SECRET)
        first, second = identify_child(placed), identify_child(placed)
        assert [
            (c.case_id, c.link_secret, c.identified.subject_ref) for c in first.pending_case_starts
        ] == [
            (c.case_id, c.link_secret, c.identified.subject_ref) for c in second.pending_case_starts
        ]
        carried = CaseState.model_validate_json(placed.model_dump_json())
        assert carried.link_secret == SECRET
        again = identify_child(carried, "child-3")
        assert again.pending_case_starts[0].case_id == linked_case_id(SECRET, "child-3")
        assert identify_child(carried).pending_case_starts[0].case_id == linked_case_id(
            SECRET, "child-2"
        )

    def test_both_cases_list_each_other_only_in_their_state(self) -> None:
        """The child's case opened from the parent's start lists the parent (the workflow adds
        it from the start's input); the parent lists the child."""
        parent = identify_child(self.placed(SECRET))
        (start,) = parent.pending_case_starts
        decision = decide(
            None,
            start.identified,
            T0 + days(5),
            case_id=start.case_id,
            link_secret=start.link_secret,
        )
        assert isinstance(decision, Accepted)
        child = decision.state
        child.linked_cases.append(PARENT_ID)  # as VictimCaseWorkflow._open_linked does
        assert parent.linked_cases == [child.case_id] and child.linked_cases == [PARENT_ID]
        assert child.link_secret == start.link_secret


class TestForgettingAnErasedLinkedCase:
    """Issue 11 item 6: erasing one case removes its ID from the linked case's state."""

    def test_every_trace_of_the_erased_case_goes(self) -> None:
        """``linked_cases``, the child's ``own_case_id``, a start still pending and the
        timeline entries that named it; the child stays recorded; the input is unchanged."""
        parent = identify_child(TestLinkedCaseIds.placed(SECRET))
        (start,) = parent.pending_case_starts
        settled = parent.model_copy(deep=True)
        settle_case_start(settled, start.case_id, T0 + days(5))
        # The timeline says a linked case opened, never which: every reader reads it.
        assert settled.timeline[-1].what == "linked case opened"
        # States recorded before named it there: such an entry is rewritten too.
        settled.timeline.append(
            settled.timeline[-1].model_copy(update={"what": f"linked case {start.case_id} opened"})
        )
        for state in (parent, settled):
            forgotten = forget_linked_case(state, start.case_id, T0 + days(9))
            assert forgotten is not None
            assert forgotten.linked_cases == [] and forgotten.pending_case_starts == []
            assert [c.own_case_id for c in forgotten.accompanying_children] == [None]
            assert start.case_id not in forgotten.model_dump_json()
            assert forgotten.timeline[-1].what.startswith("a linked case was erased")
            assert state.linked_cases == [start.case_id]  # pure
        assert forgotten is not None
        assert "linked case (erased) opened" in [t.what for t in forgotten.timeline]

    def test_forgetting_is_idempotent(self) -> None:
        """A case that holds no trace of the ID (or was given its own ID) is left alone."""
        parent = identify_child(TestLinkedCaseIds.placed(SECRET))
        child_id = parent.linked_cases[0]
        forgotten = forget_linked_case(parent, child_id, T0 + days(9))
        assert forgotten is not None
        assert forget_linked_case(forgotten, child_id, T0 + days(10)) is None
        assert forget_linked_case(parent, "case-unrelated", T0 + days(9)) is None
        assert forget_linked_case(parent, parent.case_id, T0 + days(9)) is None

    def test_a_start_settled_after_forgetting_records_nothing(self) -> None:
        """A child's start still in flight when its case was forgotten settles without
        writing the ID back into the timeline."""
        parent = identify_child(TestLinkedCaseIds.placed(SECRET))
        child_id = parent.linked_cases[0]
        forgotten = forget_linked_case(parent, child_id, T0 + days(9))
        assert forgotten is not None
        settle_case_start(forgotten, child_id, T0 + days(9))
        assert child_id not in forgotten.model_dump_json()


class TestSpecialNeeds:
    def test_k4_each_flag_opens_a_referral_to_the_provider(self) -> None:
        """K4: a special need opens a referral obligation for the provider; the notification
        and the obligation name no health detail."""
        decision = decide(
            opened(EU_ADULT),
            event(
                "special_need_flagged",
                T0 + days(1),
                need="pregnancy",
                detail="week 20",
                provider="kljuc",
            ),
            T0 + days(1),
            case_id=CASE_ID,
        )
        assert isinstance(decision, Accepted)
        state = decision.state
        (ob,) = [
            o for o in state.open_obligations if o.kind is ObligationKind.SPECIAL_NEED_REFERRAL
        ]
        assert ob.owner.value == "kljuc" and "pregnan" not in ob.id + ob.action
        (note,) = decision.effects.notifications
        assert note.recipient.value == "kljuc" and "pregnan" not in note.action
        assert "week 20" not in note.model_dump_json()
        state = accept(
            state,
            event(
                "special_need_referral_made", T0 + days(2), need="pregnancy", organisation="kljuc"
            ),
        )
        assert not [
            o for o in state.open_obligations if o.kind is ObligationKind.SPECIAL_NEED_REFERRAL
        ]
        assert state.special_needs[0].referred_at is not None

    def test_k4_referral_without_flag_is_rejected(self) -> None:
        """K4: a referral answers a flagged need."""
        r = reject(
            opened(EU_ADULT), event("special_need_referral_made", T0 + days(1), need="disability")
        )
        assert (r.rule, r.field) == ("K4", "need")


class TestReintegrationServices:
    def test_i1_services_are_recorded_for_enrolled_persons_only(self) -> None:
        """I1: personal plan services are recorded once enrolled."""
        si = {
            "citizenships": ["SI"],
            "residence_status": "slovenian_citizen",
            "languages": ["sl"],
            "exploited_abroad": True,
        }
        state = opened(si)
        r = reject(
            state, event("reintegration_service_recorded", T0 + days(1), service="psychotherapy")
        )
        assert r.rule == "I1"
        state = accept(state, event("reintegration_enrolled", T0 + days(1), personal_plan=True))
        state = accept(
            state, event("reintegration_service_recorded", T0 + days(2), service="psychotherapy")
        )
        assert state.reintegration is not None
        assert [s.value for s in state.reintegration.services] == ["psychotherapy"]


def pats(**fields: Any) -> PatsInterviewRecorded:
    data = {
        "type": "pats_interview_recorded",
        "event_id": fields.pop("event_id", "p-1"),
        "organisation": "kljuc",
        "occurred_at": T0.isoformat(),
        "language": "ar",
        "citizenships": ["SY"],
        "minor": False,
        "age_appropriate": True,
        "suspicion": False,
        **fields,
    }
    return PatsInterviewRecorded.model_validate(data)


def register(programme: Programme) -> ProgrammeState:
    return ProgrammeState(register_id=register_id(programme), programme=programme)


class TestProgrammes:
    def test_p1_interviews_count_without_suspicion(self) -> None:
        """P1: every interview is counted, even when no suspicion arises; nobody is told."""
        result = decide_programme(register(Programme.PATS), pats(), T0)
        assert not isinstance(result, Rejection)
        state, summary = result
        assert summary.interviews == 1 and state.pending_notifications == []

    def test_p1_suspicion_notifies_uoim(self) -> None:
        """P1: on suspicion UOIM is notified to inform the competent institutions."""
        result = decide_programme(
            register(Programme.PATS), pats(suspicion=True, shortened_at_placement=True), T0
        )
        assert not isinstance(result, Rejection)
        state, _ = result
        assert [n.recipient.value for n in state.pending_notifications] == ["uoim"]
        assert state.interviews[0].shortened_at_placement

    def test_p1_childrens_interviews_are_age_appropriate(self) -> None:
        """P1: an interview with a child that is not age-appropriate is rejected."""
        result = decide_programme(
            register(Programme.PATS), pats(minor=True, age_appropriate=False), T0
        )
        assert isinstance(result, Rejection)
        assert (result.rule, result.field) == ("P1", "age_appropriate")

    def test_x1_enrolment_counselling_and_exit(self) -> None:
        """X1: enrolment, sessions and exit are recorded; nothing is ever sent to anyone."""
        state = register(Programme.PROSTITUTION_EXIT)
        common = {"organisation": "kljuc", "occurred_at": T0.isoformat(), "participant_ref": "k-1"}
        steps: list[Any] = [
            ExitProgrammeEnrolled.model_validate(
                {
                    **common,
                    "type": "exit_programme_enrolled",
                    "event_id": "x-1",
                    "citizenships": ["SI"],
                    "minor": False,
                }
            ),
            ExitCounsellingRecorded.model_validate(
                {
                    **common,
                    "event_id": "x-2",
                    "type": "exit_counselling_recorded",
                    "session": "group",
                }
            ),
            ExitProgrammeLeft.model_validate(
                {**common, "event_id": "x-3", "type": "exit_programme_left"}
            ),
        ]
        for step in steps:
            result = decide_programme(state, step, T0)
            assert not isinstance(result, Rejection), result
            state = result[0]
        assert state.participants["k-1"].group_sessions == 1
        assert state.participants["k-1"].left_at is not None
        assert state.pending_notifications == []
        again = decide_programme(state, steps[1].model_copy(update={"event_id": "x-4"}), T0)
        assert isinstance(again, Rejection) and again.rule == "X1"

    def test_x1_can_never_notify_the_police(self) -> None:
        """X1: a guard refuses any police notification from the exit programme's register."""
        with pytest.raises(AssertionError, match="X1"):
            _notify(
                register(Programme.PROSTITUTION_EXIT),
                T0,
                recipient=Organisation.POLICE,
                reason="x",
                rule="X1",
                action="x",
            )
