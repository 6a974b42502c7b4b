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

from datetime import date, datetime, timedelta

from pathway.domain import events as ev
from pathway.domain.calendar import (
    add_months,
    describe_end,
    end_of_day,
    local_date,
    months_through,
    start_of_day,
)
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import ResidenceStatus
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
    if (
        state.seed_residence_rules
        and state.person.residence_status is not ResidenceStatus.THIRD_COUNTRY_ILLEGAL
    ):
        # Read with K7: the permits are those of a victim residing illegally. A third-country
        # national residing legally, or an applicant for international protection (allowed to
        # remain while the application runs), gets no permit to stay and needs none here.
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


def _permit_to_stay_checks(state: CaseState, event: ev.PermitToStayGranted) -> None:
    """K7 as the seed states it: “The Police allow victims who reside illegally in the Republic
    of Slovenia to stay … for a period of 3 (three) months (which includes the 30-day period of
    recovery and reflection)”."""
    status = state.person.residence_status
    if status is not ResidenceStatus.THIRD_COUNTRY_ILLEGAL:
        _reject(
            "K7",
            "type",
            f"a permit to stay is for victims residing illegally, not for a person recorded as "
            f"{status.value.replace('_', ' ')} (record the residence status first if it changed)",
        )
    opened = local_date(state.opened_at)
    if event.valid_from < opened:
        _reject("K7", "valid_from", f"the permit to stay cannot start before the case ({opened})")
    if event.valid_from > local_date(event.occurred_at):
        _reject("K7", "valid_from", "the permit to stay cannot start after the day it is granted")
    if state.reflection_started_at is not None:
        reflection = local_date(state.reflection_started_at)
        if event.valid_from > reflection:
            _reject(
                "K7",
                "valid_from",
                f"the 3 months include the 30-day reflection period, which started on "
                f"{reflection}: the permit to stay starts on that day or before",
            )


def _permit_to_stay(change: _Change, event: ev.PermitToStayGranted) -> None:
    state, cfg = change.state, change.config
    if state.seed_residence_rules:
        _permit_to_stay_checks(state, event)
    if state.person.is_eu_citizen:
        _reject("K7", "type", "a permit to stay is for victims residing illegally, not EU citizens")
    if state.permit_to_stay is not None:
        _reject("K7", "type", "a permit to stay was already granted; extend it instead")
    until = _permit_last_day(state, event.valid_from, cfg.permit_to_stay_months)
    state.permit_to_stay = PermitToStay(
        basis=event.basis,
        valid_from=event.valid_from,
        valid_until=until,
        granted_at=event.occurred_at,
    )
    change.add_member(
        Org.POLICE,
        MemberRole.RESIDENCE_AUTHORITY,
        "K7",
        "decided the stay of a victim residing illegally, and may record the return home at "
        "its end (K7)",
    )
    _set_permit_deadline(change)
    if state.seed_residence_rules:
        # K7: the one extension is decided while the permit runs, at the latest on its last day.
        due = end_of_day(until)
        change.open_obligation(
            _Duty(
                ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION,
                "K7",
                Org.POLICE,
                f"Decide by {until} whether reasonable grounds allow the one extension of the "
                f"permit to stay, of at most {cfg.permit_to_stay_extension_max_months} months "
                "(K7).",
            ),
            due_at=due,
        )


def _permit_last_day(state: CaseState, first: date, months: int) -> date:
    """K7: the last day of validity of a permit to stay (or its extension) of ``months``
    months valid from ``first``: through the day before the same date ``months`` months on, or
    through the last day of that month when it has no such date (1 March + 3 months: 31 May;
    30 November 2026 + 3: 28 February 2027; docs/rules.md "Legal time"). Cases recorded before
    the patch ``seed-residence-rules`` replay the day they had, a day short at month ends."""
    if state.seed_residence_rules:
        return months_through(first, months)
    return add_months(first, months) - timedelta(days=1)


def _set_permit_deadline(change: _Change) -> None:
    state, cfg = change.state, change.config
    assert state.permit_to_stay is not None
    due = end_of_day(state.permit_to_stay.valid_until)
    change.set_deadline(
        DeadlineKind.PERMIT_TO_STAY,
        "K7",
        due,
        change.reminder_before(due, cfg.permit_to_stay_reminder),
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
    if state.seed_residence_rules:
        day = local_date(event.occurred_at)
        if day > permit.valid_until:
            _reject(
                "K7",
                "occurred_at",
                f"the permit to stay expired on {permit.valid_until}: an extension is decided "
                "before it expires (on its last day at the latest)",
            )
        if day < permit.valid_from:
            _reject("K7", "occurred_at", "an extension cannot predate the permit to stay")
    if event.months > cfg.permit_to_stay_extension_max_months:
        _reject(
            "K7",
            "months",
            f"an extension may last at most {cfg.permit_to_stay_extension_max_months} months",
        )
    # The permit's expiry was reached before the extension was recorded (its deadline is gone):
    # under the patch, its notice that no extension was possible is moot (below).
    expiry_told = DeadlineKind.PERMIT_TO_STAY not in state.deadlines
    lapsed_on = permit.valid_until
    permit.extended_by_months = event.months
    permit.valid_until = _permit_last_day(
        state, permit.valid_until + timedelta(days=1), event.months
    )
    if state.permits_restored_moot and expiry_told and state.seed_residence_rules:
        _expiry_notice_moot(change, event, lapsed_on)
    _set_permit_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
    if state.permits_restored_moot:
        # S3: the extended permit to stay restores the permits like a renewed residence
        # permit does (known gap 2 before the patch 's3-permits-restored-moot'); decided on
        # the permit's last day at the latest (above), it is always in time.
        _permits_restored(change, event.event_id, in_time=True)


def _expiry_notice_moot(change: _Change, event: ev.PermitToStayExtended, last_day: date) -> None:
    """K7 and late-recorded events (``CaseState.permits_restored_moot``): an extension decided
    on the permit's last day at the latest but recorded after its expiry was noticed makes
    that notice ("expired without an extension … none is possible now", to the police and the
    lead NGO) moot: they are told so, with the permit's new last day, and the timeline says so.
    Its S3 notice, if the person was in safe accommodation, is settled by
    :func:`_permits_restored`."""
    state = change.state
    assert state.permit_to_stay is not None
    happened = local_date(event.occurred_at)
    expired = last_day + timedelta(days=1)
    change.notify(
        [Org.POLICE, state.lead_ngo],
        "escalation_moot",
        "K7",
        f"The permit to stay's expiry notice of {expired} (K7) is moot: its extension, decided "
        f"on {happened}, was recorded only on {local_date(change.now)}. The permit to stay "
        f"runs until {state.permit_to_stay.valid_until}.",
    )
    change.record_timer(f"permit_to_stay expiry notice moot: extended on {happened}", "K7")


def _set_residence_deadline(change: _Change) -> None:
    state, cfg = change.state, change.config
    assert state.residence_permit is not None
    due = end_of_day(state.residence_permit.valid_until)
    change.set_deadline(
        DeadlineKind.TEMPORARY_RESIDENCE_PERMIT,
        "S4",
        due,
        change.reminder_before(due, cfg.residence_permit_reminder),
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
    current = state.residence_permit
    if (
        state.seed_residence_rules
        and current is not None
        and local_date(event.occurred_at) <= current.valid_until
    ):
        _reject(
            "S4",
            "type",
            f"a temporary residence permit valid until {current.valid_until} was already "
            "granted: record its renewal instead (a new permit is granted only after it expired)",
        )
    state.residence_permit = ResidencePermit(
        basis=event.basis,
        valid_from=event.valid_from,
        valid_until=event.valid_until,
        permit_number=event.permit_number,
    )
    _set_residence_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.RESIDENCE_PERMIT_RENEWAL)
    # A new permit is granted only after the last one expired (above): never in time.
    _permits_restored(change, event.event_id, in_time=False)


def _residence_renewed(change: _Change, event: ev.TemporaryResidencePermitRenewed) -> None:
    permit = change.state.residence_permit
    if permit is None:
        _reject("S4", "type", "there is no temporary residence permit to renew")
    if event.valid_until <= permit.valid_until:
        _reject("S4", "valid_until", "a renewal must end after the current permit")
    # In time: decided before the permit it renews lapsed (24:00 of its last day).
    in_time = event.occurred_at < end_of_day(permit.valid_until)
    permit.valid_until = event.valid_until
    _set_residence_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.RESIDENCE_PERMIT_RENEWAL)
    _permits_restored(change, event.event_id, in_time=in_time)


def _in_safe_accommodation(state: CaseState) -> bool:
    return state.safe_accommodation is not None and state.safe_accommodation.active


def _permits_restored(change: _Change, by: str, *, in_time: bool) -> None:
    """S3: a permit of a third-country national in safe accommodation was restored: a renewed
    or new residence permit, or, under ``CaseState.permits_restored_moot``, the permit to
    stay's extension. ``in_time``: decided before the permit it restores lapsed.

    With both permits valid now the S3 obligation is settled. Under ``permits_restored_moot``
    it is judged on the facts as now known, whatever order they were recorded in: its notice
    was moot when both permits, as now recorded, were valid when the lapse it answers happened
    (``Obligation.lapsed_at``) and every permit restored while it was open was restored in
    time (``Obligation.restored_late``), and no lapse since is noticed and unanswered (each
    permit's expiry deadline still pending, even if already due: an extension recorded only
    after the extended permit ran out too settles the first lapse as moot, and the second is
    noticed afresh when the case wakes). Then those the notice told (the provider, the police,
    the migration authority and the interior ministry) and those its escalation told are told
    so. Otherwise the gap was real, and only an escalation the restoring event preceded is moot
    (``_Change.close_obligations``)."""
    state = change.state
    now = change.now
    restored = _permit_to_stay_valid(state, now) and _residence_permit_valid(state, now)
    if not state.permits_restored_moot:
        if _in_safe_accommodation(state) and restored:
            change.close_obligations(by, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
            change.end_deadline(DeadlineKind.SAFE_ACCOMMODATION_PERMITS)
        return
    lapses = [
        o for o in state.open_obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS
    ]
    for ob in lapses:
        ob.restored_late = ob.restored_late or not in_time
    if not _in_safe_accommodation(state):
        return
    # No lapse noticed that is still unanswered: each permit's expiry is still ahead of the
    # case (its deadline pending), though it may be due already (an extension recorded after
    # the extended permit ran out too: that lapse is noticed afresh when the case wakes).
    unnoticed = {DeadlineKind.PERMIT_TO_STAY, DeadlineKind.TEMPORARY_RESIDENCE_PERMIT}
    none_noticed = unnoticed <= state.deadlines.keys()
    settled = False
    for ob in lapses:
        lapsed = ob.lapsed_at or ob.opened_at
        if (
            none_noticed
            and not ob.restored_late
            and _permit_to_stay_valid(state, lapsed)
            and _residence_permit_valid(state, lapsed)
        ):
            change.close_moot(by, ob, _lapse_told(ob.owner), lapsed)
            settled = True
        elif restored:
            change.close_obligations(by, ids=[ob.id])
            settled = True
    if settled:
        change.end_deadline(DeadlineKind.SAFE_ACCOMMODATION_PERMITS)


def settle_safe_accommodation_permits(change: _Change, by: str) -> None:
    """S3: the placement ended, so the question of its permits is settled. Under
    ``CaseState.permits_restored_moot`` a placement that ended before the lapse happened
    (``Obligation.lapsed_at``), recorded after the notice, made the notice moot: those it told
    and those its escalation told are told so; one that ended between the notice and the
    escalation makes only the escalation moot (``_Change.close_obligations``)."""
    state, cause = change.state, change.cause
    for ob in state.open_obligations:
        if ob.kind is not ObligationKind.SAFE_ACCOMMODATION_PERMITS:
            continue
        lapsed = ob.lapsed_at or ob.opened_at
        if state.permits_restored_moot and cause is not None and cause.occurred_at < lapsed:
            change.close_moot(by, ob, _lapse_told(ob.owner), lapsed)
        else:
            change.close_obligations(by, ids=[ob.id])
    change.end_deadline(DeadlineKind.SAFE_ACCOMMODATION_PERMITS)


def _lapse_told(provider: Org) -> list[Org]:
    """S3: who the notice of a permit lapsed in safe accommodation tells: the provider, then
    the police, the migration authority and the interior ministry (the settle-by reminder
    goes to the first three)."""
    return [provider, Org.POLICE, Org.MIGRATION_AUTHORITY, Org.INTERIOR_MINISTRY]


def _permit_lapsed_in_safe_accommodation(change: _Change, what: str, last_day: date) -> None:
    """S3: “conditional on their having a permit to stay and a temporary residence permit” …
    “included in the safe accommodation programme for the period of validity of the permit to
    stay”. A permit of a third-country national in safe accommodation lapsed: the provider must
    agree with the police and the migration authority, by a date, whether the placement ends
    (the service never ends it by the clock); reminded before, escalated at the date.

    ``last_day``: the permit's last day of validity, which the notice names and the settle-by
    date counts from, however late the case woke (``CaseState.lapsed_permit_day_from_validity``;
    a history recorded before it took the Ljubljana day of one second before the wake-up)."""
    state = change.state
    if not (
        state.seed_residence_rules
        and state.person.is_third_country_national
        and _in_safe_accommodation(state)
    ):
        return
    assert state.safe_accommodation is not None
    provider = state.safe_accommodation.provider
    day = (
        last_day
        if state.lapsed_permit_day_from_validity
        else local_date(change.now - timedelta(seconds=1))
    )
    # S3's period (CaseConfig.s3_decision_period) counts from the permit's last day.
    due = change.days_end(
        DeadlineKind.SAFE_ACCOMMODATION_PERMITS, start_of_day(day), change.config.s3_decision_period
    )
    action = (
        f"The {what} of a third-country national in safe accommodation expired on {day}: safe "
        "accommodation is conditional on a permit to stay and a temporary residence permit, and "
        "lasts for the validity of the permit to stay (S3). Agree with the police and the "
        f"migration authority whether the placement ends, and record it, by {describe_end(due)}."
    )
    ob = change.open_obligation(
        _Duty(ObligationKind.SAFE_ACCOMMODATION_PERMITS, "S3", provider, action), due_at=due
    )
    if ob.lapsed_at is None:
        # The lapse itself, which a late wake may have noticed later (read only under
        # CaseState.permits_restored_moot, so older histories replay as they were).
        ob.lapsed_at = end_of_day(last_day)
    recipients = _lapse_told(provider)
    if DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in state.deadlines:
        change.set_deadline(
            DeadlineKind.SAFE_ACCOMMODATION_PERMITS,
            "S3",
            due,
            change.reminder_before(due, change.config.s3_reminder),
            recipients[:3],
        )
    change.notify(recipients, "safe_accommodation_permit_lapsed", "S3", action, due_at=due)


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def _expire_permit_to_stay(change: _Change) -> None:
    state = change.state
    permit = state.permit_to_stay
    assert permit is not None
    if state.seed_residence_rules:
        # K7: the extension was to be decided before the permit expired; none is possible now.
        change.close_obligations("expired", ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
        action = (
            "The permit to stay has expired; no (further) extension is possible (K7)."
            if permit.extended_by_months is not None
            else "The permit to stay has expired without an extension, which had to be decided "
            "before it expired; none is possible now (K7)."
        )
        change.notify([Org.POLICE, state.lead_ngo], "permit_to_stay_expired", "K7", action)
        _permit_lapsed_in_safe_accommodation(change, "permit to stay", permit.valid_until)
        return
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
    if state.seed_residence_rules:
        # The renewal is S4's; S3's own obligation follows if the person is placed.
        change.notify(recipients, "residence_permit_expired", "S4", action)
        permit = state.residence_permit
        # The deadline is set with the permit; without one, the day before the wake-up.
        last_day = (
            permit.valid_until
            if permit is not None
            else local_date(change.now - timedelta(seconds=1))
        )
        _permit_lapsed_in_safe_accommodation(change, "temporary residence permit", last_day)
        return
    if _in_safe_accommodation(state):
        action += " Safe accommodation of a third-country national depends on it (S3)."
    change.notify(recipients, "residence_permit_expired", "S3", action)


def _expire_safe_accommodation_permits(change: _Change) -> None:
    """S3: the date to settle a lapsed permit during safe accommodation is reached."""
    state = change.state
    if not _in_safe_accommodation(state):
        settle_safe_accommodation_permits(change, "placement ended")
        return
    open_ = [
        o for o in state.open_obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS
    ]
    if not open_:
        return
    assert state.safe_accommodation is not None
    action = (
        "Safe accommodation of a third-country national continues without the permits it is "
        "conditional on, past the date to settle it (S3): agree and record whether it ends."
    )
    told = [state.safe_accommodation.provider, Org.INTERIOR_MINISTRY]
    if state.moot_every_track:  # before it, S3 and S5 kept no escalation on the obligation
        for ob in open_:
            change.escalated(ob, told)
    change.notify(
        told,
        "safe_accommodation_permits_overdue",
        "S3",
        action,
    )


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
    DeadlineKind.SAFE_ACCOMMODATION_PERMITS: _expire_safe_accommodation_permits,
}

#: The reminder sent before each of this track's deadlines that has one (``{due}``: its day).
REMINDERS: dict[DeadlineKind, str] = {
    DeadlineKind.PERMIT_TO_STAY: (
        "The permit to stay expires on {due}: decide on the extension (K7)."
    ),
    DeadlineKind.TEMPORARY_RESIDENCE_PERMIT: (
        "The temporary residence permit expires on {due}: renewal is due (S3, S4)."
    ),
    DeadlineKind.SAFE_ACCOMMODATION_PERMITS: (
        "A permit of a third-country national in safe accommodation has lapsed: agree and "
        "record by {due} whether the placement ends (S3)."
    ),
}
