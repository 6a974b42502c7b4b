"""Tests that kill mutants of the general rights and crisis accommodation
(pathway/domain/rules/assistance.py: P1, R1, R3, K1, K2, K5) and of the criminal proceedings
(pathway/domain/rules/proceedings.py: K6, C7, S5) that the lead's whole run never reached
(issue 13; docs/mutation.md). Pure: ``decide`` and ``fire_due`` on a case's state, no Temporal
server. Each test names the rule it keeps and asserts what the rule requires: what is recorded,
who owes what under which rule, where a boundary lies, and what cases recorded before a patch
keep on replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pathway.domain.calendar import local_date
from pathway.domain.events import RightsSubject, WrittenConsent
from pathway.domain.membership import MemberRole, MembershipChange
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import decide_membership, fire_due
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind
from tests.factories import EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened, reject
from tests.test_children import interviewed
from tests.test_law_residence import grant, residence_permit
from tests.test_mutants_assistance_core import _child, _notes, _obligations

# ---------------------------------------------------------------------------------------------
# assistance.py: identification (P1, R1, R3)
# ---------------------------------------------------------------------------------------------


class TestIdentification:
    """R1: “assistance and support as soon as the authorised authorities have reasonable grounds
    to suspect that the person has been a victim”; P1: suspicion may arise in an
    asylum-procedure interview; R3: information on nine subjects."""

    def test_where_suspicion_arose_is_recorded(self) -> None:
        """P1: a case opened from an asylum-procedure interview (PATS) keeps where the
        suspicion arose; one opened otherwise keeps none."""
        pats = accept(
            None,
            event("identified", T0, organisation="uoim", found_in="asylum_procedure_interview"),
        )
        assert pats.found_in == "asylum_procedure_interview"
        assert opened().found_in is None

    def test_each_subjects_duty_names_its_letter(self) -> None:
        """R3: “information … on:” subjects (a) to (i): the NGO's duty for each subject names
        that subject's letter, so the NGO knows which one is still owed."""
        state = opened()
        for subject in RightsSubject:
            (duty,) = [
                o for o in state.obligations if o.id == f"rights_information:{subject.value}"
            ]
            assert f"({subject.value[0]})" in duty.action

    def test_an_eu_citizen_recorded_as_applicant_is_told_what_to_record(self) -> None:
        """INPUT (docs/rules.md, reading 23): an EU citizen is not an applicant for international
        protection; the refusal names the statuses to record instead, as the service spells
        them (``eu_citizen``, ``slovenian_citizen``)."""
        person = {**EU_ADULT, "residence_status": "international_protection_applicant"}
        r = reject(None, event("identified", T0, person=person))
        assert (r.rule, r.field) == ("INPUT", "person.residence_status")
        assert "eu_citizen" in r.reason and "slovenian_citizen" in r.reason


class TestK1LeadPassesToThePlacingNgo:
    """K1: crisis accommodation is Caritas's programme; the NGO that places the victim there
    leads the case from then on."""

    def test_the_lead_passes_under_k1(self) -> None:
        """K1: Ključ held the interview and leads (R2); Caritas places the victim in crisis
        accommodation: Ključ's lead ends under K1 and Caritas leads under K1."""
        state = accept(
            opened(),
            event("ngo_interview_held", T0 + timedelta(hours=1), organisation="kljuc"),
        )
        assert state.lead_ngo is Org.KLJUC
        placed = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        assert placed.lead_ngo is Org.CARITAS
        leads = [m for m in placed.membership if m.role is MemberRole.LEAD_NGO]
        (kljuc,) = [m for m in leads if m.organisation is Org.KLJUC]
        assert (kljuc.rule, kljuc.removed_rule, kljuc.is_active) == ("R2", "K1", False)
        (caritas,) = [m for m in leads if m.organisation is Org.CARITAS and m.is_active]
        assert caritas.rule == "K1"


class TestK5ReflectionStartsOnce:
    """K5: “a 30-day period of recovery and reflection”: one period per case."""

    def test_started_again_is_refused_at_type(self) -> None:
        """K5: the crisis placement started the reflection period; the police starting it
        again is refused under K5 at ``type``, saying it has already started, and the period
        keeps its date."""
        state = accept(interviewed(EU_ADULT), event("crisis_accommodation_placed", T0 + days(1)))
        r = reject(state, event("reflection_period_started", T0 + days(2)))
        assert (r.rule, r.field) == ("K5", "type")
        assert "already started" in r.reason
        assert state.reflection_started_at == T0 + days(1)


class TestPlacementEnds:
    """K1 (“up to 30 days”), K2 (“Victims are accommodated with their consent”), R1 (leaving
    assistance): a placement's end is recorded with why it ended, and ends the roles the
    placement gave, no others."""

    @staticmethod
    def _placed() -> CaseState:
        return accept(interviewed(EU_ADULT), event("crisis_accommodation_placed", T0 + days(1)))

    def test_each_end_records_why(self) -> None:
        """K1, K2, R1: ended as planned, “ended”; by a withdrawal of consent, “consent withdrawn
        (K2)”; by an exit, the exit (“returned_home”)."""
        ends = {
            "ended": event("crisis_accommodation_ended", T0 + days(5)),
            "consent withdrawn (K2)": event(
                "consent_withdrawn", T0 + days(5), placement="crisis_accommodation"
            ),
            "returned_home": event("returned_home", T0 + days(5)),
        }
        for reason, end in ends.items():
            record = accept(self._placed(), end).crisis_accommodation
            assert record is not None and not record.active
            assert (record.ended_at, record.end_reason) == (T0 + days(5), reason)

    def test_an_end_before_the_placement_says_which_and_when(self) -> None:
        """K2: a withdrawal dated before the crisis placement began is refused (K2,
        ``occurred_at``), naming the placement in words and when it began."""
        placed_at = T0 + days(1)
        withdrawal = event(
            "consent_withdrawn", placed_at - days(1), placement="crisis_accommodation"
        )
        r = reject(self._placed(), withdrawal, placed_at)
        assert (r.rule, r.field) == ("K2", "occurred_at")
        assert "the crisis accommodation ended before it began" in r.reason
        assert placed_at.isoformat() in r.reason

    def test_an_exit_dated_before_the_placement_ends_it_when_it_began(self) -> None:
        """R1: an exit (no rule of its own to refuse it) dated before the placement began ends
        the placement at the moment it began, not before."""
        placed_at = T0 + days(1)
        left = accept(self._placed(), event("departed", placed_at - days(1), arbitrary=True))
        record = left.crisis_accommodation
        assert record is not None and record.ended_at == placed_at

    def test_the_ended_roles_say_why(self) -> None:
        """K2, MEMBERS: a withdrawal of consent ends the provider's and the co-financing
        ministry's K1 roles, each saying the placement ended and why."""
        ended = accept(
            self._placed(),
            event("consent_withdrawn", T0 + days(5), placement="crisis_accommodation"),
        )
        for org, role in (
            (Org.CARITAS, MemberRole.PROVIDER),
            (Org.LABOUR_MINISTRY, MemberRole.CO_FINANCER),
        ):
            (m,) = [
                m for m in ended.membership if (m.organisation, m.role, m.rule) == (org, role, "K1")
            ]
            assert m.removed_why is not None
            assert "placement ended" in m.removed_why
            assert "consent withdrawn" in m.removed_why

    def test_no_crisis_accommodation_no_end(self) -> None:
        """K1: the end of crisis accommodation for a victim not in it is refused under K1 at
        ``type``, saying so."""
        r = reject(interviewed(EU_ADULT), event("crisis_accommodation_ended", T0 + days(5)))
        assert (r.rule, r.field) == ("K1", "type")
        assert "not in crisis accommodation" in r.reason

    def test_the_end_keeps_a_co_financing_the_operator_gave(self) -> None:
        """K1, MEMBERS: the operator made the labour ministry a co-financer (MEMBERS) before
        the placement, which made it one under K1 too; the end of crisis accommodation ends
        the K1 role only, the operator's stays."""
        change = MembershipChange.model_validate(
            {
                "action": "add",
                "organisation": "labour_ministry",
                "role": "co_financer",
                "why": "Ticket 7",
                "by": "ops-1",
            }
        )
        state = decide_membership(interviewed(EU_ADULT), change, T0 + timedelta(hours=2))
        assert isinstance(state, CaseState)
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        ended = accept(state, event("crisis_accommodation_ended", T0 + days(5)))
        roles = {
            m.rule: m
            for m in ended.membership
            if (m.organisation, m.role) == (Org.LABOUR_MINISTRY, MemberRole.CO_FINANCER)
        }
        assert set(roles) == {"MEMBERS", "K1"}
        assert roles["MEMBERS"].is_active
        assert not roles["K1"].is_active and roles["K1"].removed_rule == "K1"


class TestR1LeavingSettlesWhatAssistanceOwed:
    """R1: a victim who returns home or leaves is out of assistance (the case stays open): what
    assistance owed them is settled by the event that ended it."""

    def test_a_return_home_settles_the_interview_and_the_decisions(self) -> None:
        """R2, K1, K5: never interviewed, placed on day 1, 30 days on the reflection decision
        (K5) and the follow-on placement (K1) are owed; returning home settles those and the
        interview (R2) by that event."""
        state = accept(opened(), event("crisis_accommodation_placed", T0 + days(1)))
        state, _ = fire_due(state, state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at)
        kinds = (
            ObligationKind.NGO_INTERVIEW,
            ObligationKind.REFLECTION_DECISION,
            ObligationKind.FOLLOW_ON_PLACEMENT,
        )
        for kind in kinds:
            assert [o.is_open for o in _obligations(state, kind)] == [True], kind
        home = event("returned_home", T0 + days(32))
        left = accept(state, home)
        for kind in kinds:
            assert [o.closed_by for o in _obligations(left, kind)] == [home.event_id], kind

    def test_leaving_ends_the_information_deadline_and_safe_accommodation(self) -> None:
        """R1, R3: a victim in safe accommodation who leaves with information still owed: the
        placement ends with the exit as its reason and the rights-information deadline ends
        (nothing escalates to an NGO the victim has left)."""
        state = accept(
            interviewed(EU_ADULT), event("crisis_accommodation_placed", T0 + timedelta(hours=2))
        )
        state = accept(state, event("safe_accommodation_placed", T0 + timedelta(hours=3)))
        assert DeadlineKind.RIGHTS_INFORMATION in state.deadlines
        left = accept(state, event("departed", T0 + timedelta(hours=4), arbitrary=False))
        assert DeadlineKind.RIGHTS_INFORMATION not in left.deadlines
        record = left.safe_accommodation
        assert record is not None and record.end_reason == "declined_left"

    def test_a_departure_settles_the_next_step_after_the_proceedings(self) -> None:
        """S5, R1: a third-country national in safe accommodation whose proceedings concluded
        leaves: the next step after safe accommodation is settled by the departure."""
        state = accept(
            _tcn_in_safe_accommodation(), event("criminal_proceedings_concluded", T0 + days(40))
        )
        gone = event("departed", T0 + days(41), arbitrary=False)
        left = accept(state, gone)
        (ob,) = _obligations(left, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)
        assert ob.closed_by == gone.event_id


class TestRefusalsOfAPlacementSayWhy:
    """K1, K2: a refused placement says what is wrong, not only the rule and the field."""

    def test_no_written_consent(self) -> None:
        """K2: a placement without the victim's written statement is refused (K2, ``consent``),
        saying the written consent is needed."""
        r = reject(
            interviewed(EU_ADULT),
            event("crisis_accommodation_placed", T0 + days(1), consent=None),
        )
        assert (r.rule, r.field) == ("K2", "consent")
        assert "consent by written statement" in r.reason

    def test_consent_signed_before_the_identification(self) -> None:
        """K2: a statement signed the day before the identification is refused (K2,
        ``consent.signed_on``), saying it is dated before the victim was identified."""
        before = (local_date(T0) - timedelta(days=1)).isoformat()
        r = reject(
            interviewed(EU_ADULT),
            event("crisis_accommodation_placed", T0 + days(1), consent={"signed_on": before}),
        )
        assert (r.rule, r.field) == ("K2", "consent.signed_on")
        assert "before the day the victim was identified" in r.reason

    def test_crisis_accommodation_while_in_safe_accommodation(self) -> None:
        """K1: crisis accommodation comes first and is never active beside safe accommodation:
        placed in crisis accommodation while in safe accommodation is refused (K1, ``type``),
        saying the victim is in safe accommodation."""
        state = accept(interviewed(EU_ADULT), event("crisis_accommodation_placed", T0 + days(1)))
        state = accept(state, event("safe_accommodation_placed", T0 + days(5)))
        r = reject(state, event("crisis_accommodation_placed", T0 + days(6)))
        assert (r.rule, r.field) == ("K1", "type")
        assert "in safe accommodation" in r.reason


class TestBackIntoTheReflectionPeriod:
    """R3, K5: a victim who left before the reflection period and comes back into it is still
    owed the information they were not given."""

    def test_the_missing_subjects_are_due_24_hours_from_the_return(self) -> None:
        """R3: departed on day 2 with one subject given; the police start the reflection period
        on day 5: the eight other subjects are owed again, due 24 hours from that start."""
        state = accept(
            interviewed(EU_ADULT),
            event("rights_information_given", T0 + timedelta(hours=3)),
        )
        state = accept(state, event("departed", T0 + days(2), arbitrary=True))
        back_at = T0 + days(5)
        back = accept(state, event("reflection_period_started", back_at))
        owed = [o for o in back.open_obligations if o.kind is ObligationKind.RIGHTS_INFORMATION]
        assert len(owed) == 8
        assert {o.due_at for o in owed} == {back_at + timedelta(hours=24)}
        assert back.reflection_started_at == back_at


class TestK2S1ConsentCheckedByTheRules:
    """K2: “Upon placement the victims accept assistance and accommodation by way of a written
    statement”; S1 the same for safe accommodation. The event model refuses a statement dated
    after the placement before any case is asked (tests/test_rules.py); the rules check it
    again themselves, so an event that reaches them without the model's check (built with
    ``model_copy``, which does not validate) is refused naming the placement's rule."""

    @staticmethod
    def _signed_later(type_: str, at: datetime) -> Any:
        placement = event(type_, at)
        later = WrittenConsent(signed_on=local_date(at) + timedelta(days=1))
        return placement.model_copy(update={"consent": later})

    def test_a_crisis_placement_with_consent_dated_after_it_is_refused_under_k2(self) -> None:
        r = reject(
            interviewed(EU_ADULT),
            self._signed_later("crisis_accommodation_placed", T0 + days(1)),
        )
        assert (r.rule, r.field) == ("K2", "consent.signed_on")
        assert "after the placement" in r.reason

    def test_a_safe_placement_with_consent_dated_after_it_is_refused_under_s1(self) -> None:
        state = accept(interviewed(EU_ADULT), event("crisis_accommodation_placed", T0 + days(1)))
        r = reject(state, self._signed_later("safe_accommodation_placed", T0 + days(5)))
        assert (r.rule, r.field) == ("S1", "consent.signed_on")


# ---------------------------------------------------------------------------------------------
# proceedings.py: K6, S5, C7
# ---------------------------------------------------------------------------------------------


def _tcn_in_safe_accommodation(old_residence_rules: bool = False) -> CaseState:
    """A third-country national residing illegally, in crisis accommodation from day 1, with a
    permit to stay and a residence permit, in criminal proceedings from day 3 and in safe
    accommodation from day 20 (``tests.test_law_residence.in_safe_accommodation``)."""
    state = interviewed(TCN_ILLEGAL)
    if old_residence_rules:
        state = state.model_copy(update={"seed_residence_rules": False})
    state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    state = accept(state, grant())
    state = accept(state, residence_permit(T0 + days(2), "2027-03-03"))
    state = accept(state, event("criminal_proceedings_opened", T0 + days(3)))
    return accept(state, event("safe_accommodation_placed", T0 + days(20)))


class TestK6Proceedings:
    """K6: “assistance and support prior to and during the criminal proceedings and in an
    appropriate period after their completion”."""

    def test_concluded_at_the_instant_they_opened(self) -> None:
        """K6: proceedings concluded at the very instant they opened did not conclude before
        they opened: accepted; a second earlier is refused (K6, ``occurred_at``)."""
        at = T0 + days(2)
        state = accept(interviewed(EU_ADULT), event("criminal_proceedings_opened", at))
        new = accept(state, event("criminal_proceedings_concluded", at))
        assert new.criminal_proceedings is not None
        assert new.criminal_proceedings.concluded_at == at
        r = reject(state, event("criminal_proceedings_concluded", at - timedelta(seconds=1)), at)
        assert (r.rule, r.field) == ("K6", "occurred_at")
        assert "cannot conclude before they opened" in r.reason

    def test_no_open_proceedings_no_conclusion(self) -> None:
        """K6: a conclusion without proceedings, or of proceedings already concluded, is
        refused under K6 at ``type``, saying there are no open proceedings."""
        none = interviewed(EU_ADULT)
        opened_ = accept(none, event("criminal_proceedings_opened", T0 + days(2)))
        done = accept(opened_, event("criminal_proceedings_concluded", T0 + days(3)))
        for state in (none, done):
            r = reject(state, event("criminal_proceedings_concluded", T0 + days(4)))
            assert (r.rule, r.field) == ("K6", "type")
            assert "no open criminal proceedings" in r.reason

    def test_old_cases_replay_a_conclusion_dated_before_the_opening(self) -> None:
        """K6, replay: a case recorded before the patch ``seed-child-rules`` accepted a
        conclusion dated before the opening, and replays it so."""
        at = T0 + days(2)
        old = interviewed(EU_ADULT).model_copy(update={"seed_child_rules": False})
        state = accept(old, event("criminal_proceedings_opened", at))
        new = accept(state, event("criminal_proceedings_concluded", at - days(1)), at)
        assert new.criminal_proceedings is not None
        assert new.criminal_proceedings.concluded_at == at - days(1)

    def test_open_twice_is_refused_reopened_after_the_conclusion_is_not(self) -> None:
        """K6: proceedings open once at a time: opened again while open, refused (K6, ``type``,
        saying they are already open); after they concluded, new proceedings open."""
        state = accept(interviewed(EU_ADULT), event("criminal_proceedings_opened", T0 + days(2)))
        r = reject(state, event("criminal_proceedings_opened", T0 + days(3)))
        assert (r.rule, r.field) == ("K6", "type")
        assert "already open" in r.reason
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(4)))
        again = accept(state, event("criminal_proceedings_opened", T0 + days(5)))
        assert again.criminal_proceedings is not None
        assert again.criminal_proceedings.opened_at == T0 + days(5)
        assert again.criminal_proceedings.concluded_at is None

    def test_a_minor_without_a_representative_is_told_under_c7(self) -> None:
        """C7: “the injured party who is a minor will throughout the criminal proceedings have
        an authorised representative”: proceedings opened for a minor without one tell the
        social work centre and the police under C7."""
        _, notes = _notes(
            interviewed(_child(16)), event("criminal_proceedings_opened", T0 + days(2))
        )
        told = {
            (n.recipient, n.rule) for n in notes if n.reason == "authorised_representative_missing"
        }
        assert told == {(Org.SOCIAL_WORK_CENTRE, "C7"), (Org.POLICE, "C7")}

    def test_the_representative_is_recorded_as_given(self) -> None:
        """C7: proceedings opened without an authorised representative record none; opened
        with one, record it (cases before ``seed-child-rules`` recorded none)."""
        without = accept(interviewed(EU_ADULT), event("criminal_proceedings_opened", T0 + days(2)))
        assert without.criminal_proceedings is not None
        assert without.criminal_proceedings.authorised_representative is False
        with_ = accept(
            interviewed(EU_ADULT),
            event("criminal_proceedings_opened", T0 + days(2), authorised_representative=True),
        )
        assert with_.criminal_proceedings is not None
        assert with_.criminal_proceedings.authorised_representative is True


class TestS5ConclusionForAThirdCountryNational:
    """S5: safe accommodation of a victim from a third country “may last until the conclusion of
    the criminal proceedings”; K6: support goes on “in an appropriate period after their
    completion”."""

    def test_not_placed_any_more_no_next_step_is_owed(self) -> None:
        """S5: safe accommodation ended before the proceedings concluded: there is no next step
        after it to agree (no obligation, no deadline)."""
        state = accept(
            _tcn_in_safe_accommodation(), event("safe_accommodation_ended", T0 + days(30))
        )
        new = accept(state, event("criminal_proceedings_concluded", T0 + days(40)))
        assert not _obligations(new, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)
        assert DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS not in new.deadlines

    def test_the_conclusion_is_told_to_the_provider_and_the_authorities(self) -> None:
        """S5: in safe accommodation at the conclusion, the provider (Ključ), the interior
        ministry (which co-finances) and the migration authority are each told under S5 that
        the proceedings concluded, with the date for the next step."""
        state, notes = _notes(
            _tcn_in_safe_accommodation(), event("criminal_proceedings_concluded", T0 + days(40))
        )
        due = state.deadlines[DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS].due_at
        (ob,) = _obligations(state, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)
        assert "proceedings concluded" in ob.action
        told = {
            (n.recipient, n.rule, n.due_at) for n in notes if n.reason == "proceedings_concluded"
        }
        assert told == {
            (Org.KLJUC, "S5", due),
            (Org.INTERIOR_MINISTRY, "S5", due),
            (Org.MIGRATION_AUTHORITY, "S5", due),
        }

    def test_old_cases_owe_kljuc_the_next_step_without_a_date(self) -> None:
        """S5, replay: in a case recorded before the patch ``seed-residence-rules``, the
        conclusion makes Ključ owe the next step after safe accommodation (S5, no date, no
        timer) and tells Ključ under S5."""
        state, notes = _notes(
            _tcn_in_safe_accommodation(old_residence_rules=True),
            event("criminal_proceedings_concluded", T0 + days(40)),
        )
        (ob,) = _obligations(state, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)
        assert (ob.owner, ob.rule, ob.is_open, ob.due_at) == (Org.KLJUC, "S5", True, None)
        assert DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS not in state.deadlines
        told = [(n.recipient, n.reason, n.rule) for n in notes]
        assert told == [(Org.KLJUC, "proceedings_concluded", "S5")]
        assert "next step" in notes[0].action

    def test_old_cases_owe_nothing_for_an_eu_citizen_or_without_a_placement(self) -> None:
        """S5, replay: the same old case owes no next step for an EU citizen (“for other victims
        the legislation does not define any time limit”), nor for a third-country national not
        in safe accommodation."""
        eu = interviewed(EU_ADULT).model_copy(update={"seed_residence_rules": False})
        eu = accept(eu, event("crisis_accommodation_placed", T0 + days(1)))
        eu = accept(eu, event("criminal_proceedings_opened", T0 + days(3)))
        eu = accept(eu, event("safe_accommodation_placed", T0 + days(20)))
        tcn = _tcn_in_safe_accommodation(old_residence_rules=True)
        tcn = accept(tcn, event("safe_accommodation_ended", T0 + days(30)))
        for state in (eu, tcn):
            new, notes = _notes(state, event("criminal_proceedings_concluded", T0 + days(40)))
            assert not _obligations(new, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)
            assert not notes
