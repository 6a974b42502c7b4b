"""Builders for events and cases in tests: defaults for everything a test does not care about."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from pathway.domain.calendar import local_date
from pathway.domain.events import CaseEvent, RightsSubject, parse_event
from pathway.domain.rules import Accepted, Rejection, decide
from pathway.domain.state import CaseState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE_ID = "case-test"

#: The organisation that normally sends each event type.
DEFAULT_SENDER = {
    "identified": "police",
    "ngo_interview_held": "caritas",
    "rights_information_given": "caritas",
    "police_information_gathering_started": "police",
    "crisis_accommodation_placed": "caritas",
    "reflection_period_started": "police",
    "further_support_decided": "caritas",
    "crisis_accommodation_ended": "caritas",
    "safe_accommodation_placed": "kljuc",
    "safe_accommodation_ended": "kljuc",
    "consent_withdrawn": "caritas",
    "permit_to_stay_granted": "police",
    "permit_to_stay_extended": "police",
    "temporary_residence_permit_granted": "migration_authority",
    "temporary_residence_permit_renewed": "migration_authority",
    "criminal_proceedings_opened": "police",
    "criminal_proceedings_concluded": "police",
    "cooperation_recorded": "police",
    "reintegration_enrolled": "kljuc",
    "facts_updated": "police",
    "returned_home": "caritas",
    "departed": "caritas",
    "case_closed": "kljuc",
    "reintegration_service_recorded": "kljuc",
    "swc_interview_held": "social_work_centre",
    "child_accommodated_in_facility": "social_work_centre",
    "guardian_appointed": "social_work_centre",
    "family_contact_recorded": "social_work_centre",
    "authorised_representative_appointed": "social_work_centre",
    "main_hearing_scheduled": "police",
    "accompanying_child_recorded": "caritas",
    "accompanying_child_identified": "police",
    "special_need_flagged": "caritas",
    "special_need_referral_made": "caritas",
    "accommodation_service_recorded": "caritas",
    "safe_accommodation_offered": "caritas",
}

_ids = itertools.count(1)

EU_ADULT: dict[str, Any] = {
    "citizenships": ["DE"],
    "residence_status": "eu_citizen",
    "gender": "female",
    "languages": ["de"],
    "birth_date": "1995-04-01",
}
TCN_ILLEGAL: dict[str, Any] = {
    "citizenships": ["CO"],
    "residence_status": "third_country_illegal",
    "gender": "female",
    "languages": ["es"],
    "birth_date": "1990-07-12",
}
SI_CITIZEN: dict[str, Any] = {
    "citizenships": ["SI"],
    "residence_status": "slovenian_citizen",
    "gender": "male",
    "languages": ["sl"],
}


def event(type_: str, at: datetime = T0, **fields: Any) -> CaseEvent:
    """An event of ``type_`` at ``at``; any field can be overridden."""
    data: dict[str, Any] = {
        "type": type_,
        "event_id": fields.pop("event_id", f"ev-{next(_ids)}"),
        "organisation": fields.pop("organisation", DEFAULT_SENDER[type_]),
        "occurred_at": at.isoformat(),
    }
    if type_ == "identified":
        data["subject_ref"] = fields.pop("subject_ref", "ref-1")
        data["person"] = fields.pop("person", EU_ADULT)
    if type_ in ("crisis_accommodation_placed", "safe_accommodation_placed"):
        data["consent"] = fields.pop("consent", {"signed_on": local_date(at).isoformat()})
    if type_ == "safe_accommodation_placed":  # S1: stated, never assumed (admission checks)
        data["preliminary_programme"] = fields.pop("preliminary_programme", True)
    if type_ in ("ngo_interview_held", "rights_information_given"):
        data.setdefault("language", fields.pop("language", "de"))
        data.setdefault("interpreter_used", fields.pop("interpreter_used", False))
    if type_ == "rights_information_given":
        data["subjects"] = fields.pop("subjects", ["a_institutions"])
    if type_ == "police_information_gathering_started":
        data["trusted_person_offered"] = fields.pop("trusted_person_offered", True)
        data["present"] = fields.pop("present", "ngo_representative")
    data.update(fields)
    return parse_event(data)


ALL_SUBJECTS = [subject.value for subject in RightsSubject]  # R3 (a)-(i)


def accept(state: CaseState | None, ev: CaseEvent, now: datetime | None = None) -> CaseState:
    """Apply an event that must be accepted; fails the test with the rejection otherwise."""
    decision = decide(state, ev, now or ev.occurred_at, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision.state


def reject(state: CaseState | None, ev: CaseEvent, now: datetime | None = None) -> Rejection:
    """Apply an event that must be rejected; returns the rejection."""
    decision = decide(state, ev, now or ev.occurred_at, case_id=CASE_ID)
    assert isinstance(decision, Rejection), f"expected a rejection, got {decision}"
    return decision


def opened(person: dict[str, Any] | None = None, at: datetime = T0) -> CaseState:
    """A case just identified by the police."""
    return accept(None, event("identified", at, person=person or EU_ADULT))


def days(n: float) -> timedelta:
    return timedelta(days=n)


def on(d: datetime) -> str:
    return d.date().isoformat()
