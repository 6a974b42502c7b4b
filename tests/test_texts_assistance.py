"""The texts people read, pinned in full (issue 13, docs/mutation.md: the words of the law's core
are part of what it produces): the refusals, notices, reminders, obligation titles, member
purposes and timeline lines of the general rights and accommodation (pathway/domain/rules/
assistance.py, safe_accommodation.py, services.py: R1–R4, K1–K5, S1, S5), reintegration
(reintegration.py: I1), the operator's member changes (members.py: MEMBERS), the noted
rejections (rejections.py), the rules' shared machinery (core.py), the dispatch of events
(dispatch.py) and the timers (deadlines.py). Pure: ``decide``, ``fire_due``,
``decide_membership`` and ``note_rejection`` on a case's state, no Temporal server.

Each test triggers its rule with a real scenario and asserts the whole text with ``==``; the
dynamic parts (dates, letters) are filled in from the scenario's known values. A rewording is a
deliberate change that updates its test here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import describe_end, local_date
from pathway.domain.events import CaseEvent, WrittenConsent
from pathway.domain.membership import MemberRole, Membership, MembershipChange
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import Accepted, Rejection, decide, fire_due
from pathway.domain.rules.members import decide_membership
from pathway.domain.rules.reintegration import reintegration_eligibility
from pathway.domain.rules.rejections import RejectionNote, note_rejection
from pathway.domain.state import (
    CaseState,
    DeadlineKind,
    Notification,
    ObligationKind,
    Reminder,
    TimelineEntry,
)
from tests.factories import (
    ALL_SUBJECTS,
    CASE_ID,
    EU_ADULT,
    SI_CITIZEN,
    T0,
    TCN_ILLEGAL,
    accept,
    days,
    event,
    opened,
    reject,
)
from tests.test_children import interviewed
from tests.test_law_moot import fired_until
from tests.test_law_residence import in_safe_accommodation
from tests.test_law_services import PLACED, in_crisis, in_safe, service

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _decided(state: CaseState | None, ev: CaseEvent) -> tuple[CaseState, list[Notification]]:
    """``ev`` accepted at its own time: the new state and the notifications it sent."""
    decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision.state, list(decision.effects.notifications)


def _texts(notes: list[Notification], reason: str) -> dict[str, str]:
    """Each recipient of the notifications sent for ``reason``, with the text it reads."""
    return {n.recipient.value: n.action for n in notes if n.reason == reason}


def _actions(state: CaseState, kind: ObligationKind) -> list[str]:
    return [o.action for o in state.obligations if o.kind is kind]


def _member(state: CaseState, org: Org, role: MemberRole) -> Membership:
    (found,) = [m for m in state.membership if m.organisation is org and m.role is role]
    return found


def _refusal(r: Rejection) -> tuple[str, str | None, str]:
    return (r.rule, r.field, r.reason)


def _fired(state: CaseState, until: datetime) -> tuple[CaseState, list[Notification]]:
    """Every timer due by ``until`` fires when it falls; the state and everything sent."""
    sent: list[Notification] = []
    while (wake := state.next_wake_at()) is not None and wake <= until:
        state, effects = fire_due(state, wake)
        sent.extend(effects.notifications)
    return state, sent


def _entry(state: CaseState, event_id: str) -> TimelineEntry:
    (found,) = [e for e in state.timeline if e.event_id == event_id]
    return found


# ---------------------------------------------------------------------------------------------
# assistance.py: identification and the first steps (R1–R4, INPUT)
# ---------------------------------------------------------------------------------------------


class TestIdentificationTexts:
    """R1: assistance starts at identification; R2: the NGO interview first; R3: the nine
    subjects; INPUT: an EU citizen is never an applicant for international protection."""

    def test_an_eu_applicant_is_told_what_to_record(self) -> None:
        """INPUT (reading 23): the sender reads which statuses to record instead."""
        person = {**EU_ADULT, "residence_status": "international_protection_applicant"}
        r = reject(None, event("identified", person=person))
        assert _refusal(r) == (
            "INPUT",
            "person.residence_status",
            "an EU citizen is not an applicant for international protection (an applicant is "
            "a third-country national or stateless person): record eu_citizen or "
            "slovenian_citizen",
        )

    def test_the_lead_ngo_reads_its_first_duties(self) -> None:
        """R1, R2, R3: the lead NGO's obligations and its notice of the new case; the police
        and the NGO's member purposes."""
        state, notes = _decided(None, event("identified"))
        assert _actions(state, ObligationKind.NGO_INTERVIEW) == [
            "Hold the individual interview with the victim before the police gather information."
        ]
        assert _actions(state, ObligationKind.RIGHTS_INFORMATION) == [
            f"Inform the victim, in a language they understand, on subject ({s[0]})."
            for s in ALL_SUBJECTS
        ]
        assert _texts(notes, "case_identified") == {
            "caritas": "New case: assistance starts now. Hold the individual interview (R2) and "
            "give the rights information on all nine subjects (R3)."
        }
        assert _member(state, Org.POLICE, MemberRole.IDENTIFYING_AUTHORITY).why == (
            "identified the person on reasonable grounds and opened the case (R1)"
        )
        assert _member(state, Org.CARITAS, MemberRole.LEAD_NGO).why == (
            "leads the case as the NGO: the individual interview, the rights information, the "
            "decision on further support (R2, R3, K5)"
        )

    def test_the_police_read_a_case_another_authority_opened(self) -> None:
        """R1, R2: identified by the social work centre, the police are told and become a
        member, each with its text."""
        state, notes = _decided(None, event("identified", organisation="social_work_centre"))
        assert _texts(notes, "case_identified")["police"] == (
            "New case identified by another authority; no information gathering before the NGO "
            "interview (R2)."
        )
        assert _member(state, Org.POLICE, MemberRole.ASSIGNED).why == (
            "told of the new case: no information gathering before the NGO interview (R2)"
        )
        assert _member(state, Org.SOCIAL_WORK_CENTRE, MemberRole.IDENTIFYING_AUTHORITY).why == (
            "identified the person on reasonable grounds and opened the case (R1)"
        )

    def test_rights_information_refusals_say_why(self) -> None:
        """R3: no language recorded, or one the victim is not recorded as understanding."""
        none = opened({**EU_ADULT, "languages": []})
        r = reject(none, event("rights_information_given", T0 + timedelta(hours=1)))
        assert _refusal(r) == (
            "R3",
            "language",
            "record the languages the victim understands first (facts_updated): information "
            "is given in a language the victim understands",
        )
        r = reject(opened(), event("rights_information_given", T0, language="fr"))
        assert _refusal(r) == (
            "R3",
            "language",
            "information must be given in a language the victim is recorded as understanding",
        )

    def test_police_before_the_interview_are_told_why(self) -> None:
        """R2: the police may not gather information before the NGO interview."""
        r = reject(opened(), event("police_information_gathering_started", T0))
        assert _refusal(r) == (
            "R2",
            "type",
            "the individual interview with an NGO must take place before the police start "
            "gathering information",
        )

    def test_no_trusted_person_offered_tells_police_and_ngo(self) -> None:
        """R4: the police's obligation and the notice to police and lead NGO read the same;
        the timeline cites R2 and R4."""
        state = accept(opened(), event("ngo_interview_held", T0 + timedelta(hours=1)))
        police = event(
            "police_information_gathering_started",
            T0 + timedelta(hours=2),
            trusted_person_offered=False,
            present="nobody",
        )
        state, notes = _decided(state, police)
        text = (
            "The victim was not offered the presence of an NGO representative or a person they "
            "trust at the police interview (R4): offer it before questioning goes on, and "
            "record the interview with the offer."
        )
        assert _actions(state, ObligationKind.TRUSTED_PERSON) == [text]
        assert _texts(notes, "trusted_person_not_offered") == {"police": text, "caritas": text}
        assert _entry(state, police.event_id).rule == "R2, R4"


# ---------------------------------------------------------------------------------------------
# assistance.py: special needs (K4)
# ---------------------------------------------------------------------------------------------


class TestK4SpecialNeedTexts:
    """K4: a special need calls for appropriate help from an organisation that gives care."""

    def test_the_provider_reads_its_duty_and_purpose(self) -> None:
        """K4: the referral obligation, the notice and, once referred, the member purpose."""
        flag = event("special_need_flagged", T0 + days(1), need="pregnancy")
        state, notes = _decided(opened(), flag)
        assert _actions(state, ObligationKind.SPECIAL_NEED_REFERRAL) == [
            "Refer the person for appropriate help with a special need (K4)."
        ]
        assert _texts(notes, "special_need_referral") == {
            "caritas": "A special need calls for appropriate help: see the case and refer (K4)."
        }
        state = accept(state, event("special_need_referral_made", T0 + days(2), need="pregnancy"))
        assert _member(state, Org.CARITAS, MemberRole.PROVIDER).why == (
            "provides appropriate help with a special need (K4)"
        )

    def test_refusals_name_the_providers_and_the_missing_need(self) -> None:
        """K4: a provider that gives no care is told who does; a referral with no need flagged
        is refused."""
        flag = event("special_need_flagged", T0 + days(1), need="pregnancy", provider="police")
        assert _refusal(reject(opened(), flag)) == (
            "K4",
            "provider",
            "help with a special need is given by an organisation that gives care (caritas, "
            "guardian, kljuc, social_work_centre), not 'police'",
        )
        referral = event("special_need_referral_made", T0 + days(1), need="pregnancy")
        assert _refusal(reject(opened(), referral)) == (
            "K4",
            "need",
            "no unreferred special need of this kind is flagged",
        )


# ---------------------------------------------------------------------------------------------
# assistance.py: crisis accommodation, consent, reflection (K1, K2, K5, S1)
# ---------------------------------------------------------------------------------------------


class TestPlacementRefusalTexts:
    """K1, K2, K5, S1: the refusals of a placement, a second start, an end of nothing."""

    @pytest.mark.parametrize(
        ("type_", "rule", "state"),
        [
            ("crisis_accommodation_placed", "K2", lambda: interviewed(EU_ADULT)),
            ("safe_accommodation_placed", "S1", in_crisis),
        ],
    )
    def test_consent_refusals(self, type_: str, rule: str, state: Any) -> None:
        """K2, S1: “by way of a written statement”: none, dated after the placement, dated
        before the case. The event model refuses the first two before any case is asked; an
        event built without that check (``model_copy``) reaches the rules, which say the same."""
        at = PLACED + days(1)
        placed = event(type_, at)
        none = placed.model_copy(update={"consent": None})
        assert _refusal(reject(state(), none)) == (
            rule,
            "consent",
            "placement needs the victim's consent by written statement",
        )
        later = placed.model_copy(
            update={"consent": WrittenConsent(signed_on=local_date(at) + timedelta(days=1))}
        )
        assert _refusal(reject(state(), later)) == (
            rule,
            "consent.signed_on",
            "the written consent is dated after the placement",
        )
        earlier = {"signed_on": local_date(T0 - days(1)).isoformat()}
        assert _refusal(reject(state(), event(type_, at, consent=earlier))) == (
            rule,
            "consent.signed_on",
            "the written consent is dated before the day the victim was identified: it is "
            "given upon placement, to an identified victim",
        )

    def test_crisis_refusals(self) -> None:
        """K1: never twice at once, never beside safe accommodation, no end of nothing."""
        crisis = in_crisis()
        again = event("crisis_accommodation_placed", PLACED + days(1))
        assert _refusal(reject(crisis, again)) == (
            "K1",
            "type",
            "the victim is already in crisis accommodation",
        )
        safe = in_safe()
        assert _refusal(reject(safe, event("crisis_accommodation_placed", PLACED + days(12)))) == (
            "K1",
            "type",
            "the victim is in safe accommodation: crisis accommodation and safe accommodation "
            "are never both active (end safe accommodation first)",
        )
        ended = event("crisis_accommodation_ended", PLACED + days(1))
        assert _refusal(reject(opened(), ended)) == (
            "K1",
            "type",
            "the victim is not in crisis accommodation",
        )

    def test_reflection_started_twice(self) -> None:
        """K5: the reflection period starts once."""
        again = event("reflection_period_started", PLACED + days(1))
        assert _refusal(reject(in_crisis(), again)) == (
            "K5",
            "type",
            "the reflection period has already started",
        )


class TestPlacementRecordTexts:
    """K1, K2, S1: what the members are for, why a placement ended, the offer owed."""

    def test_crisis_placement_members_and_offer(self) -> None:
        """K1, S1: the provider's and the labour ministry's purposes; the offer of safe
        accommodation owed by the lead NGO, dated; the timeline cites K1 and K2."""
        state = accept(opened(), event("ngo_interview_held", T0 + timedelta(hours=2)))
        placed = event("crisis_accommodation_placed", PLACED)
        state = accept(state, placed)
        assert _member(state, Org.CARITAS, MemberRole.PROVIDER).why == (
            "provides crisis accommodation (K1, K3)"
        )
        assert _member(state, Org.LABOUR_MINISTRY, MemberRole.CO_FINANCER).why == (
            "co-finances crisis accommodation; alerted at 30 days (K1)"
        )
        due = state.deadlines[DeadlineKind.SAFE_ACCOMMODATION_OFFER].due_at
        assert _actions(state, ObligationKind.SAFE_ACCOMMODATION_OFFER) == [
            "Offer the victim long-term assistance and safe accommodation during crisis "
            f"accommodation, and record the offer with their answer by {describe_end(due)} (S1)."
        ]
        assert _entry(state, placed.event_id).rule == "K1, K2"

    def test_safe_placement_members_and_the_crisis_end(self) -> None:
        """S1: the provider's and the interior ministry's purposes; the crisis placement ends
        as moved; the timeline cites S1 and S3."""
        moved = event("safe_accommodation_placed", PLACED + days(10))
        state = accept(in_crisis(), moved)
        assert _member(state, Org.KLJUC, MemberRole.PROVIDER).why == (
            "provides safe accommodation (S1, S2)"
        )
        assert _member(state, Org.INTERIOR_MINISTRY, MemberRole.CO_FINANCER).why == (
            "co-finances safe accommodation (S1)"
        )
        assert state.crisis_accommodation is not None
        assert state.crisis_accommodation.end_reason == "moved to safe accommodation"
        assert _entry(state, moved.event_id).rule == "S1, S3"

    def test_a_withdrawal_of_consent_is_the_reason_recorded(self) -> None:
        """K2: the placement ended because consent was withdrawn; its roles end saying so."""
        state = accept(
            in_crisis(),
            event("consent_withdrawn", PLACED + days(1), placement="crisis_accommodation"),
        )
        assert state.crisis_accommodation is not None
        assert state.crisis_accommodation.end_reason == "consent withdrawn (K2)"
        ended = [m for m in state.membership if m.organisation is Org.LABOUR_MINISTRY]
        assert [m.removed_why for m in ended] == ["the placement ended: consent withdrawn (K2)"]

    def test_an_arbitrary_departure_tells_police_and_ngo(self) -> None:
        """R1: a victim who left without notice: both are told to check on their safety."""
        _, notes = _decided(in_crisis(), event("departed", PLACED + days(2), arbitrary=True))
        text = (
            "The victim left assistance without notice: check on their safety. The case stays "
            "open and assistance resumes if they return."
        )
        assert _texts(notes, "arbitrary_departure") == {"police": text, "caritas": text}


# ---------------------------------------------------------------------------------------------
# assistance.py: the timers (R3, K1, K5, S1)
# ---------------------------------------------------------------------------------------------


class TestAssistanceTimerTexts:
    """R3, K1, K5, S1: the reminders before a deadline and the escalations at it."""

    def test_rights_information_escalation(self) -> None:
        """R3: at 24 hours with subjects missing, the lead NGO reads which letters."""
        state = accept(
            opened(),
            event("rights_information_given", T0 + timedelta(hours=1), subjects=["a_institutions"]),
        )
        due = state.deadlines[DeadlineKind.RIGHTS_INFORMATION].due_at
        _, sent = _fired(state, due)
        letters = ", ".join(f"({s[0]})" for s in ALL_SUBJECTS[1:])
        assert letters.startswith("(b), (c)")
        assert _texts(sent, "rights_information_escalation") == {
            "caritas": f"Rights information is overdue on subjects {letters}: give it now, in "
            "a language the victim understands."
        }

    def test_a_rights_information_reminder_reads_its_due_time(self) -> None:
        """R3: the reminder text of the information deadline. No rule sets a reminder on it
        today (the 24 hours have none), so the deadline is given one by hand: ``fire_due``
        sends it with this text."""
        state = opened()
        deadline = state.deadlines[DeadlineKind.RIGHTS_INFORMATION]
        reminder = Reminder(at=deadline.due_at - timedelta(hours=2), recipients=[Org.CARITAS])
        deadline.reminders.append(reminder)
        _, effects = fire_due(state, reminder.at)
        assert _texts(list(effects.notifications), "rights_information_reminder") == {
            "caritas": f"Rights information (R3) is due by {describe_end(deadline.due_at)}."
        }

    def test_crisis_reflection_and_offer_texts(self) -> None:
        """K1, K5, S1: in crisis accommodation with nothing decided or offered, each reminder
        and escalation reads its text (obligations and notices alike)."""
        state = accept(
            in_crisis(),
            event("rights_information_given", PLACED, subjects=ALL_SUBJECTS),
        )
        offer_due = state.deadlines[DeadlineKind.SAFE_ACCOMMODATION_OFFER].due_at
        reflection_due = state.deadlines[DeadlineKind.REFLECTION_PERIOD].due_at
        crisis_due = state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at
        state, sent = _fired(state, max(offer_due, reflection_due, crisis_due))
        assert set(_texts(sent, "safe_accommodation_offer_reminder").values()) == {
            "Offer the victim long-term assistance and safe accommodation during crisis "
            f"accommodation, and record the offer with their answer by {describe_end(offer_due)}"
            " (S1)."
        }
        assert set(_texts(sent, "safe_accommodation_offer_overdue").values()) == {
            "No offer of long-term assistance and safe accommodation is recorded, and crisis "
            "accommodation ends soon: offer it now and record the answer (S1)."
        }
        assert set(_texts(sent, "reflection_period_reminder").values()) == {
            f"The reflection period ends on {describe_end(reflection_due)}: prepare the "
            "decision on further support (K5)."
        }
        reflection = (
            "The reflection period has ended: decide with the victim on safe accommodation, "
            "return or other support. The victim stays in assistance (K5, R5)."
        )
        assert set(_texts(sent, "reflection_period_ended").values()) == {reflection}
        assert _actions(state, ObligationKind.REFLECTION_DECISION) == [reflection]
        assert set(_texts(sent, "crisis_accommodation_reminder").values()) == {
            f"Crisis accommodation reaches 30 days on {describe_end(crisis_due)}: arrange the "
            "follow-on placement (K1)."
        }
        crisis = (
            "Crisis accommodation reached 30 days with no follow-on placement decided: "
            "decide the follow-on placement (K1)."
        )
        assert set(_texts(sent, "crisis_accommodation_escalation").values()) == {crisis}
        assert _actions(state, ObligationKind.FOLLOW_ON_PLACEMENT) == [crisis]


# ---------------------------------------------------------------------------------------------
# safe_accommodation.py (S1, S5)
# ---------------------------------------------------------------------------------------------


class TestSafeAccommodationTexts:
    """S1: safe accommodation follows crisis accommodation and is offered during it; S5: the
    next step after the proceedings."""

    def test_refusals(self) -> None:
        """S1, S5: straight from identification with no reason, placed or offered twice, an
        end with no placement."""
        state = interviewed(EU_ADULT)
        straight = event("safe_accommodation_placed", T0 + days(1))
        assert _refusal(reject(state, straight)) == (
            "S1",
            "reason",
            "safe accommodation is offered during crisis accommodation: a placement straight "
            "from identification needs its reason recorded",
        )
        safe = in_safe()
        at = PLACED + days(11)
        assert _refusal(reject(safe, event("safe_accommodation_placed", at))) == (
            "S1",
            "type",
            "the victim is already in safe accommodation",
        )
        offered = event("safe_accommodation_offered", at, answer="accepted")
        assert _refusal(reject(safe, offered)) == (
            "S1",
            "type",
            "the victim is already in safe accommodation",
        )
        assert _refusal(reject(in_crisis(), event("safe_accommodation_ended", at))) == (
            "S5",
            "type",
            "the victim is not in safe accommodation",
        )

    def test_next_step_after_the_proceedings_overdue(self) -> None:
        """S5: proceedings concluded for a third-country national in safe accommodation, and
        no next step recorded by the date: the provider and the interior ministry read it."""
        state = in_safe_accommodation()
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(40)))
        due = state.deadlines[DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS].due_at
        _, sent = _fired(state, due)
        text = (
            "The criminal proceedings concluded and no next step after safe accommodation of "
            "the third-country national is recorded by the date set (S5): agree and record it."
        )
        assert _texts(sent, "accommodation_after_proceedings_overdue") == {
            "kljuc": text,
            "interior_ministry": text,
        }


# ---------------------------------------------------------------------------------------------
# services.py (K3, S2)
# ---------------------------------------------------------------------------------------------


class TestServiceTexts:
    """K3, S2: a service of the programme the person was in on its day."""

    def test_refusals_name_the_programme_and_its_days(self) -> None:
        """K3: never placed, before the placement began, after it ended."""
        name = "accommodation_and_assistance"
        r = reject(opened(), service(T0 + days(1), name))
        assert _refusal(r) == (
            "K3",
            "programme",
            "the person has not been placed in crisis accommodation in this case",
        )
        later = PLACED + days(2)
        r = reject(in_crisis(later), service(PLACED, name))
        assert _refusal(r) == (
            "K3",
            "occurred_at",
            f"the service lies before the crisis accommodation began ({local_date(later)}): a "
            "service of the programme is given while the person is in it",
        )
        ended = accept(in_crisis(), event("crisis_accommodation_ended", PLACED + days(1)))
        r = reject(ended, service(PLACED + days(3), name))
        assert _refusal(r) == (
            "K3",
            "occurred_at",
            f"the service lies after the crisis accommodation ended "
            f"({local_date(PLACED + days(1))}): a service of the programme is given while the "
            "person is in it",
        )

    def test_the_timeline_cites_k3_and_s2(self) -> None:
        """K3, S2: an accepted service's timeline entry cites both rules."""
        recorded = service(PLACED + days(1), "accommodation_and_assistance")
        state = accept(in_crisis(), recorded)
        assert _entry(state, recorded.event_id).rule == "K3, S2"


# ---------------------------------------------------------------------------------------------
# reintegration.py (I1)
# ---------------------------------------------------------------------------------------------


ENROLLED = T0 + days(2)


def _enrol(at: datetime = ENROLLED) -> CaseEvent:
    return event("reintegration_enrolled", at, personal_plan=True)


class TestReintegrationTexts:
    """I1: who the programme is for, and its services."""

    def test_a_slovenian_citizen_treated_as_victim_in_slovenia(self) -> None:
        """I1: the programme takes Slovenian citizens treated as victims abroad only."""
        state = interviewed(SI_CITIZEN)
        assert _refusal(reject(state, _enrol())) == (
            "I1",
            "type",
            "the programme takes Slovenian citizens treated as victims abroad; one treated as "
            "a victim in Slovenia is not in it",
        )

    def test_no_proceedings_by_the_day_of_the_enrolment(self) -> None:
        """I1: an EU citizen not treated as a victim in Slovenian proceedings."""
        state = interviewed(EU_ADULT)
        assert _refusal(reject(state, _enrol())) == (
            "I1",
            "type",
            "reintegration needs a Slovenian citizen treated as a victim abroad, or a person "
            "treated as a victim in Slovenian pre-trial or criminal proceedings by the day of "
            "the enrolment",
        )
        old = state.model_copy(update={"seed_reintegration_dates": False})
        assert _refusal(reject(old, _enrol())) == (
            "I1",
            "type",
            "reintegration needs a Slovenian citizen treated as a victim abroad, or a person "
            "treated as a victim in Slovenian pre-trial or criminal proceedings",
        )

    def test_a_third_country_national_residing_illegally(self) -> None:
        """I1: a permit to stay is not legal residence."""
        state = interviewed(TCN_ILLEGAL)
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        assert _refusal(reject(state, _enrol())) == (
            "I1",
            "type",
            "a third-country national must reside legally (a legal status or a valid temporary "
            "residence permit; a permit to stay is not legal residence)",
        )

    def test_enrolled_once_with_its_purpose_and_services_after_it(self) -> None:
        """I1: the provider's purpose; enrolled twice; a service with no enrolment or before
        it."""
        state = interviewed(EU_ADULT)
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        psycho = event("reintegration_service_recorded", T0 + days(2), service="psychotherapy")
        assert _refusal(reject(state, psycho)) == (
            "I1",
            "type",
            "the person is not enrolled in reintegration",
        )
        enrolled_at = T0 + days(3)
        state = accept(state, _enrol(enrolled_at))
        assert _member(state, Org.KLJUC, MemberRole.PROVIDER).why == (
            "provides the reintegration programme (I1)"
        )
        assert _refusal(reject(state, _enrol(T0 + days(4)))) == (
            "I1",
            "type",
            "already enrolled in reintegration",
        )
        assert _refusal(reject(state, psycho, enrolled_at)) == (
            "I1",
            "occurred_at",
            "a reintegration service is one of the programme's: it cannot be dated before the "
            f"enrolment ({enrolled_at.isoformat()})",
        )

    @pytest.mark.parametrize(
        ("person", "expected"),
        [
            (
                {**SI_CITIZEN, "exploited_abroad": True},
                "Slovenian citizen treated as a victim abroad",
            ),
            (EU_ADULT, "treated as a victim in Slovenian proceedings and residing legally"),
        ],
    )
    def test_the_reason_of_an_eligible_person(self, person: dict[str, Any], expected: str) -> None:
        """I1: the reason given for one who is in the programme."""
        state = interviewed(person)
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        assert reintegration_eligibility(state, T0 + days(2)) == (True, expected)


# ---------------------------------------------------------------------------------------------
# members.py, rejections.py (MEMBERS, CASE, ACCESS)
# ---------------------------------------------------------------------------------------------


def _change(change_id: str | None = None) -> MembershipChange:
    return MembershipChange(
        action="add",
        organisation=Org.KLJUC,
        role=MemberRole.REFERRED,
        why="ticket 42",
        by="ops",
        change_id=change_id,
    )


class TestMembershipChangeTexts:
    """MEMBERS: the operator's change is refused with a reason."""

    def test_refusals(self) -> None:
        """CASE and MEMBERS: not opened, closed, the same change again."""
        now = T0 + days(1)
        r = decide_membership(None, _change(), now)
        assert isinstance(r, Rejection)
        assert _refusal(r) == ("CASE", "case_id", "the case has not been opened")
        closed = accept(opened(), event("case_closed", now))
        r = decide_membership(closed, _change(), now)
        assert isinstance(r, Rejection)
        assert _refusal(r) == ("CASE", "case_id", "the case is closed")
        done = decide_membership(opened(), _change("c-1"), now)
        assert isinstance(done, CaseState)
        r = decide_membership(done, _change("c-1"), now)
        assert isinstance(r, Rejection)
        assert _refusal(r) == ("MEMBERS", "change_id", "this change was made already")


def _note(**fields: Any) -> RejectionNote:
    data: dict[str, Any] = {
        "event_id": "ev-note",
        "event_type": "ngo_interview_held",
        "organisation": "caritas",
        "rule": "R2",
        "field": "type",
        "reason": "a reason",
    }
    data.update(fields)
    return RejectionNote(**data)


class TestRejectionNoteTexts:
    """R6: what is never noted in a case, and why."""

    def test_an_unknown_event_type(self) -> None:
        """The note's event type must be one of a case."""
        with pytest.raises(ValidationError) as raised:
            _note(event_type="no_such_event")
        (error,) = raised.value.errors()
        assert error["msg"] == "Value error, not an event type of a case"

    def test_access_refusals_and_closed_cases(self) -> None:
        """ACCESS is never noted (R6); a closed case notes nothing (CASE)."""
        now = T0 + days(1)
        r = note_rejection(opened(), _note(rule="ACCESS"), now)
        assert isinstance(r, Rejection)
        assert _refusal(r) == ("ACCESS", "rule", "a refusal of access is never noted in the case")
        closed = accept(opened(), event("case_closed", now))
        r = note_rejection(closed, _note(), now)
        assert isinstance(r, Rejection)
        assert _refusal(r) == ("CASE", "type", "the case is closed")


# ---------------------------------------------------------------------------------------------
# dispatch.py, core.py (ACCESS, TIME, IDEMPOTENCY, CASE; the timeline)
# ---------------------------------------------------------------------------------------------


class TestDispatchTexts:
    """The checks every event passes before its rule: sender, time, repeat, case."""

    def test_a_sender_that_may_not_send_reads_who_may(self) -> None:
        """ACCESS: the allowed senders, listed."""
        r = reject(opened(), event("ngo_interview_held", T0, organisation="police"))
        assert _refusal(r) == (
            "ACCESS",
            "organisation",
            "'police' may not send ngo_interview_held events (allowed: caritas, kljuc)",
        )

    def test_time_and_case_refusals(self) -> None:
        """TIME, IDEMPOTENCY, CASE: before identification, a reused ID, identified twice, not
        opened, closed."""
        state = opened()
        r = reject(state, event("ngo_interview_held", T0 - timedelta(hours=1)))
        assert _refusal(r) == (
            "TIME",
            "occurred_at",
            "the event lies before the case's identification",
        )
        held = event("ngo_interview_held", T0 + timedelta(hours=1), event_id="ev-reused")
        state = accept(state, held)
        other = event("ngo_interview_held", T0 + timedelta(hours=2), event_id="ev-reused")
        assert _refusal(reject(state, other)) == (
            "IDEMPOTENCY",
            "event_id",
            "this event_id was already used for a different event",
        )
        assert _refusal(reject(state, event("identified", T0 + timedelta(hours=2)))) == (
            "CASE",
            "type",
            "this case has already been identified",
        )
        assert _refusal(reject(None, event("ngo_interview_held", T0))) == (
            "CASE",
            "type",
            "the case has not been opened: the first event must be 'identified'",
        )
        closed = accept(state, event("case_closed", T0 + days(1)))
        assert _refusal(reject(closed, event("departed", T0 + days(2), arbitrary=False))) == (
            "CASE",
            "type",
            "the case is closed",
        )

    def test_the_timeline_names_what_happened_in_words(self) -> None:
        """The timeline line of an event: its type in words."""
        held = event("ngo_interview_held", T0 + timedelta(hours=1))
        state = accept(opened(), held)
        assert _entry(state, held.event_id).what == "ngo interview held"

    def test_a_late_event_reads_that_the_escalation_is_moot(self) -> None:
        """R3 (core's moot escalation): the nine subjects given before the escalation,
        recorded after it: the lead NGO reads the whole account."""
        state = fired_until(opened(), T0 + timedelta(hours=25))
        given = event("rights_information_given", T0 + timedelta(hours=20), subjects=ALL_SUBJECTS)
        now = T0 + days(2)
        decision = decide(state, given, now, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        fired = min(
            local_date(o.escalated_at)
            for o in state.obligations
            if o.escalated_at is not None and o.kind is ObligationKind.RIGHTS_INFORMATION
        )
        assert _texts(list(decision.effects.notifications), "escalation_moot") == {
            "caritas": f"The rights information escalation of {fired} (R3) is moot: rights "
            f"information given on {local_date(given.occurred_at)}, before it, was recorded "
            f"only on {local_date(now)}. Nothing more is needed for it."
        }


# ---------------------------------------------------------------------------------------------
# deadlines.py: a reminder not delivered in time
# ---------------------------------------------------------------------------------------------


class TestUndeliveredReminderTexts:
    """A reminder still undelivered at its deadline: someone reachable must tell the
    recipient another way."""

    def test_the_escalation_reads_whom_to_tell_and_how(self) -> None:
        """K5: the reminders of the reflection period's end, never delivered, at its end: the
        obligations and notices read whom to tell and that it must be another way."""
        state = in_crisis()
        due = state.deadlines[DeadlineKind.REFLECTION_PERIOD].due_at
        state, sent = _fired(state, due)
        texts = {
            org: f"A reminder to {org} about the reflection_period deadline (K5) could not be "
            "delivered before the deadline: tell them another way."
            for org in ("police", "caritas")
        }
        assert set(texts.values()) <= set(_actions(state, ObligationKind.NOTIFICATION_UNDELIVERED))
        told = [n for n in sent if n.reason == "notification_undelivered"]
        assert {(n.recipient.value, n.action) for n in told} >= {
            ("caritas", texts["police"]),
            ("interior_ministry", texts["caritas"]),
        }
