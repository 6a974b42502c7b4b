"""The reintegration programme (I1).

I1: “intended for citizens of the Republic of Slovenia who have been treated as victims of
trafficking in human beings abroad and for EU citizens and third-country nationals who have
been treated as victims of trafficking in human beings in the Republic of Slovenia in pre-trial
or criminal proceedings and legally reside there” … “other services agreed in personal plans”

Who may enrol: :func:`reintegration_eligibility`, from :func:`in_criminal_or_pretrial_proceedings`
and :func:`resides_legally` (a permit to stay, K7, is not legal residence). Enrolment:
:func:`_reintegration`; the services of the personal plan: :func:`_reintegration_service`.

The other programmes, interviews in asylum procedures (P1, PATS) and support for persons in
prostitution (X1), are not a victim's case: :mod:`pathway.domain.programmes` keeps them.
"""

from __future__ import annotations

from datetime import datetime

from pathway.domain import events as ev
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.person import ResidenceStatus
from pathway.domain.rules.assistance import _decision_taken
from pathway.domain.rules.core import Handler, _Change, _reject
from pathway.domain.rules.residence import _residence_permit_valid
from pathway.domain.state import CaseState, Phase, Reintegration


def in_criminal_or_pretrial_proceedings(state: CaseState, at: datetime | None = None) -> bool:
    """Treated as a victim in Slovenian pre-trial (police information gathering) or criminal
    proceedings (I1); with ``at``, proceedings that had begun by then (an enrolment dated
    before the proceedings began is decided on what stood on its day,
    ``CaseState.seed_reintegration_dates``)."""
    interview, proceedings = state.police_interview, state.criminal_proceedings
    if at is None:
        return interview is not None or proceedings is not None
    return (interview is not None and interview.at <= at) or (
        proceedings is not None and proceedings.opened_at <= at
    )


def resides_legally(state: CaseState, at: datetime) -> bool:
    """I1: legal residence. Citizens of Slovenia and of EU states reside legally; a third-country
    national does with a legal residence status or a temporary residence permit valid at ``at``.
    A permit to stay (K7) only tolerates the stay of a victim residing illegally, so it does not
    count; nor does a pending application for international protection."""
    status = state.person.residence_status
    if status in (
        ResidenceStatus.SLOVENIAN_CITIZEN,
        ResidenceStatus.EU_CITIZEN,
        ResidenceStatus.THIRD_COUNTRY_LEGAL,
    ):
        return True
    return _residence_permit_valid(state, at)


def is_slovenian_citizen(state: CaseState) -> bool:
    """A citizen of the Republic of Slovenia (also one holding another citizenship too)."""
    person = state.person
    return "SI" in person.citizenships or (
        person.residence_status is ResidenceStatus.SLOVENIAN_CITIZEN
    )


def reintegration_eligibility(state: CaseState, at: datetime) -> tuple[bool, str]:
    """I1: who the reintegration programme is for, with the reason either way.

    The seed names two groups: “citizens of the Republic of Slovenia who have been treated as
    victims of trafficking in human beings abroad” and “EU citizens and third-country nationals
    who have been treated as victims of trafficking in human beings in the Republic of Slovenia
    in pre-trial or criminal proceedings and legally reside there”. A Slovenian citizen is in
    the first group only: treated as a victim in Slovenia, they are not in the programme (read:
    “EU citizens” are citizens of the other member states). ``exploited_abroad`` stands for
    “treated as a victim abroad”.
    """
    person = state.person
    if is_slovenian_citizen(state) and person.exploited_abroad:
        return True, "Slovenian citizen treated as a victim abroad"
    if is_slovenian_citizen(state) and state.seed_residence_rules:
        return False, (
            "the programme takes Slovenian citizens treated as victims abroad; one treated as "
            "a victim in Slovenia is not in it"
        )
    as_of = at if state.seed_reintegration_dates else None
    if not in_criminal_or_pretrial_proceedings(state, as_of):
        return False, (
            "reintegration needs a Slovenian citizen treated as a victim abroad, or a person "
            "treated as a victim in Slovenian pre-trial or criminal proceedings"
            + (" by the day of the enrolment" if as_of is not None else "")
        )
    if not resides_legally(state, at):
        return False, (
            "a third-country national must reside legally (a legal status or a valid temporary "
            "residence permit; a permit to stay is not legal residence)"
        )
    return True, "treated as a victim in Slovenian proceedings and residing legally"


def _reintegration(change: _Change, event: ev.ReintegrationEnrolled) -> None:
    state = change.state
    if state.reintegration is not None:
        _reject("I1", "type", "already enrolled in reintegration")
    eligible, why = reintegration_eligibility(state, event.occurred_at)
    if not eligible:
        _reject("I1", "type", why)
    state.reintegration = Reintegration(
        enrolled_at=event.occurred_at, personal_plan=event.personal_plan
    )
    change.add_member(
        event.organisation, MemberRole.PROVIDER, "I1", "provides the reintegration programme (I1)"
    )
    state.phase = Phase.REINTEGRATION
    _decision_taken(change, event.event_id)


def _reintegration_service(change: _Change, event: ev.ReintegrationServiceRecorded) -> None:
    enrolment = change.state.reintegration
    if enrolment is None:
        _reject("I1", "type", "the person is not enrolled in reintegration")
    if change.state.seed_reintegration_dates and event.occurred_at < enrolment.enrolled_at:
        _reject(
            "I1",
            "occurred_at",
            "a reintegration service is one of the programme's: it cannot be dated before the "
            f"enrolment ({enrolment.enrolled_at.isoformat()})",
        )
    enrolment.services.append(event.service)


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.ReintegrationEnrolled: _reintegration,
    ev.ReintegrationServiceRecorded: _reintegration_service,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "reintegration_enrolled": "I1",
    "reintegration_service_recorded": "I1",
}
