"""Residence: the permit to stay (K7), the temporary residence permit (S4), and safe
accommodation's dependence on both (S3).

- K7, the permit to stay: “The Police allow victims who reside illegally in the Republic of
  Slovenia to stay, upon their own request or ex officio, for a period of 3 (three) months
  (which includes the 30-day period of recovery and reflection)” … “If reasonable grounds
  exist, the victims may be permitted to remain for another period of three months at the
  most.” (:func:`_permit_to_stay`, :func:`_permit_extended`, :func:`_set_permit_deadline`,
  :func:`_expire_permit_to_stay`).
- S4, the temporary residence permit (Foreigners Act, Article 50): “A temporary residence
  permit may be issued to victims of trafficking in human beings if the victims are willing to
  participate as witnesses in criminal proceedings or if there are personal circumstances
  justifying their residence in the Republic of Slovenia.” (:func:`_residence_permit`,
  :func:`_residence_renewed`, :func:`_set_residence_deadline`,
  :func:`_expire_residence_permit`; the migration authority is a member of a third-country
  national's case, :func:`_residence_authority`).
- S3, both permits for safe accommodation: “For victims who are citizens of third countries
  such a form of long-term safe accommodation is conditional on their having a permit to stay
  and a temporary residence permit.” … “these victims are included in the safe accommodation
  programme for the period of validity of the permit to stay”
  (:func:`_safe_accommodation_permits`; the expiry of the residence permit says so,
  :func:`_expire_residence_permit`).

What counts as legal residence for reintegration (I1) is in
:mod:`pathway.domain.rules.reintegration`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pathway.domain import events as ev
from pathway.domain.calendar import add_months, end_of_day, local_date
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules.core import Expiry, Handler, _Change, _Duty, _reject
from pathway.domain.state import (
    CaseState,
    DeadlineKind,
    ObligationKind,
    PermitToStay,
    ResidencePermit,
)


def _residence_authority(change: _Change) -> None:
    """S3, S4: a third-country national's stay depends on a temporary residence permit, which
    the migration authority decides."""
    if change.state.person.is_third_country_national:
        change.add_member(
            Org.MIGRATION_AUTHORITY,
            MemberRole.RESIDENCE_AUTHORITY,
            "S4",
            "decides the temporary residence permit of a third-country national (S3, S4)",
        )


def _permit_to_stay_valid(state: CaseState, at: datetime) -> bool:
    p = state.permit_to_stay
    return p is not None and p.valid_from <= local_date(at) <= p.valid_until


def _residence_permit_valid(state: CaseState, at: datetime) -> bool:
    p = state.residence_permit
    return p is not None and p.valid_from <= local_date(at) <= p.valid_until


def _safe_accommodation_permits(state: CaseState, at: datetime) -> None:
    """S3: safe accommodation of a third-country national needs both permits valid on the day
    of placement, the permit to stay (K7) and the temporary residence permit (S4); checked by
    :func:`~pathway.domain.rules.safe_accommodation._safe_accommodation`."""
    if not state.person.is_third_country_national:
        return
    if not _permit_to_stay_valid(state, at):
        _reject(
            "S3",
            "type",
            "safe accommodation of a third-country national requires a valid permit to stay (K7)",
        )
    if not _residence_permit_valid(state, at):
        _reject(
            "S3",
            "type",
            "safe accommodation of a third-country national requires a valid temporary "
            "residence permit (S4)",
        )


def _permit_to_stay(change: _Change, event: ev.PermitToStayGranted) -> None:
    state, cfg = change.state, change.config
    if state.person.is_eu_citizen:
        _reject("K7", "type", "a permit to stay is for victims residing illegally, not EU citizens")
    if state.permit_to_stay is not None:
        _reject("K7", "type", "a permit to stay was already granted; extend it instead")
    # Valid through the day before the same date N months on (1 March + 3 months: 31 May).
    until = add_months(event.valid_from, cfg.permit_to_stay_months) - timedelta(days=1)
    state.permit_to_stay = PermitToStay(
        basis=event.basis, valid_from=event.valid_from, valid_until=until
    )
    change.add_member(
        Org.POLICE,
        MemberRole.RESIDENCE_AUTHORITY,
        "K7",
        "decided the stay of a victim residing illegally, and may record the return home at "
        "its end (K7)",
    )
    _set_permit_deadline(change)


def _set_permit_deadline(change: _Change) -> None:
    state, cfg = change.state, change.config
    assert state.permit_to_stay is not None
    due = end_of_day(state.permit_to_stay.valid_until)
    change.set_deadline(
        DeadlineKind.PERMIT_TO_STAY,
        "K7",
        due,
        due - cfg.permit_to_stay_reminder,
        [Org.POLICE],
        lead_ngo=True,
    )


def _permit_extended(change: _Change, event: ev.PermitToStayExtended) -> None:
    state, cfg = change.state, change.config
    permit = state.permit_to_stay
    if permit is None:
        _reject("K7", "type", "there is no permit to stay to extend")
    if permit.extended_by_months is not None:
        _reject("K7", "type", "the permit to stay may be extended only once")
    if event.months > cfg.permit_to_stay_extension_max_months:
        _reject(
            "K7",
            "months",
            f"an extension may last at most {cfg.permit_to_stay_extension_max_months} months",
        )
    permit.extended_by_months = event.months
    permit.valid_until = add_months(
        permit.valid_until + timedelta(days=1), event.months
    ) - timedelta(days=1)
    _set_permit_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)


def _set_residence_deadline(change: _Change) -> None:
    state, cfg = change.state, change.config
    assert state.residence_permit is not None
    due = end_of_day(state.residence_permit.valid_until)
    change.set_deadline(
        DeadlineKind.TEMPORARY_RESIDENCE_PERMIT,
        "S4",
        due,
        due - cfg.residence_permit_reminder,
        [Org.MIGRATION_AUTHORITY],
        lead_ngo=True,
    )


def _residence_permit(change: _Change, event: ev.TemporaryResidencePermitGranted) -> None:
    state = change.state
    if state.person.is_eu_citizen:
        _reject(
            "S4",
            "type",
            "a temporary residence permit under Article 50 is for third-country nationals",
        )
    if event.valid_until <= event.valid_from:
        _reject("S4", "valid_until", "the permit must end after it starts")
    state.residence_permit = ResidencePermit(
        basis=event.basis,
        valid_from=event.valid_from,
        valid_until=event.valid_until,
        permit_number=event.permit_number,
    )
    _set_residence_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.RESIDENCE_PERMIT_RENEWAL)


def _residence_renewed(change: _Change, event: ev.TemporaryResidencePermitRenewed) -> None:
    permit = change.state.residence_permit
    if permit is None:
        _reject("S4", "type", "there is no temporary residence permit to renew")
    if event.valid_until <= permit.valid_until:
        _reject("S4", "valid_until", "a renewal must end after the current permit")
    permit.valid_until = event.valid_until
    _set_residence_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.RESIDENCE_PERMIT_RENEWAL)


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def _expire_permit_to_stay(change: _Change) -> None:
    state = change.state
    permit = state.permit_to_stay
    assert permit is not None
    if permit.extended_by_months is None:
        action = (
            "The permit to stay has expired: decide on the one extension of at most "
            f"{change.config.permit_to_stay_extension_max_months} months (K7)."
        )
        change.open_obligation(
            _Duty(ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION, "K7", Org.POLICE, action)
        )
    else:
        action = "The extended permit to stay has expired; no further extension is possible (K7)."
    change.notify([Org.POLICE, state.lead_ngo], "permit_to_stay_expired", "K7", action)


def _expire_residence_permit(change: _Change) -> None:
    state = change.state
    action = "The temporary residence permit has expired: renewal is due (S4)."
    change.open_obligation(
        _Duty(ObligationKind.RESIDENCE_PERMIT_RENEWAL, "S4", Org.MIGRATION_AUTHORITY, action)
    )
    recipients = [Org.MIGRATION_AUTHORITY, state.lead_ngo]
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        action += " Safe accommodation of a third-country national depends on it (S3)."
    change.notify(recipients, "residence_permit_expired", "S3", action)


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.PermitToStayGranted: _permit_to_stay,
    ev.PermitToStayExtended: _permit_extended,
    ev.TemporaryResidencePermitGranted: _residence_permit,
    ev.TemporaryResidencePermitRenewed: _residence_renewed,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "permit_to_stay_granted": "K7",
    "permit_to_stay_extended": "K7",
    "temporary_residence_permit_granted": "S4",
    "temporary_residence_permit_renewed": "S4",
}

#: What each of this track's deadlines does when it is reached.
EXPIRIES: dict[DeadlineKind, Expiry] = {
    DeadlineKind.PERMIT_TO_STAY: _expire_permit_to_stay,
    DeadlineKind.TEMPORARY_RESIDENCE_PERMIT: _expire_residence_permit,
}

#: The reminder sent before each of this track's deadlines that has one (``{due}``: its day).
REMINDERS: dict[DeadlineKind, str] = {
    DeadlineKind.PERMIT_TO_STAY: (
        "The permit to stay expires on {due}: decide on the extension (K7)."
    ),
    DeadlineKind.TEMPORARY_RESIDENCE_PERMIT: (
        "The temporary residence permit expires on {due}: renewal is due (S3, S4)."
    ),
}
