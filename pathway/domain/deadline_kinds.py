"""The kinds of deadline a case keeps (docs/rules.md "Deadlines"): a module of its own so that
the configuration (:mod:`pathway.domain.config`, which says how each is counted) and the state
(:mod:`pathway.domain.state`, which re-exports it) both name them without importing each
other."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeadlineKind"]


class DeadlineKind(StrEnum):
    """The deadlines of docs/rules.md "Deadlines", one durable timer each."""

    RIGHTS_INFORMATION = "rights_information"
    REFLECTION_PERIOD = "reflection_period"
    CRISIS_ACCOMMODATION = "crisis_accommodation"
    PERMIT_TO_STAY = "permit_to_stay"
    TEMPORARY_RESIDENCE_PERMIT = "temporary_residence_permit"
    GUARDIAN_APPOINTMENT = "guardian_appointment"
    FAMILY_CONTACT = "family_contact"
    SWC_INTERVIEW = "swc_interview"
    FACILITY_ACCOMMODATION = "facility_accommodation"
    AUTHORISED_REPRESENTATIVE = "authorised_representative"
    TURNS_15 = "turns_15"
    TURNS_18 = "turns_18"
    SAFE_ACCOMMODATION_PERMITS = "safe_accommodation_permits"
    ACCOMMODATION_AFTER_PROCEEDINGS = "accommodation_after_proceedings"
    SAFE_ACCOMMODATION_OFFER = "safe_accommodation_offer"
