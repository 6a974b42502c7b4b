"""Safe accommodation at the Ključ Society (S1, S5).

- S1, long-term safe accommodation by written consent: “During crisis accommodation, victims
  are offered long-term assistance and safe accommodation.” … “By way of a written statement
  the victim accepts assistance and accommodation” … “on the basis of a preliminary assistance
  and protection programme” (:func:`_safe_accommodation`: consent, one placement at a time; it
  ends crisis accommodation and the reflection decision point).
- S5, voluntary, and how long: “Accommodation within the programme is voluntary and for the
  victims from third countries it may last until the conclusion of the criminal proceedings,
  while for other victims the legislation does not define any time limit.”
  (:func:`_safe_ended`; the victim may leave at any time by withdrawing consent,
  :func:`~pathway.domain.rules.assistance._consent_withdrawn`; the conclusion of proceedings
  opens the next-step obligation, :mod:`pathway.domain.rules.proceedings`).

A third-country national also needs both permits (S3,
:func:`~pathway.domain.rules.residence._safe_accommodation_permits`). S2 (what safe
accommodation offers) is :mod:`pathway.domain.rules.services`.
"""

from __future__ import annotations

from pathway.domain import events as ev
from pathway.domain.calendar import describe_end, local_date
from pathway.domain.events import BaseEvent, Placement
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules.assistance import (
    _back_in_assistance,
    _consent_or_reject,
    _decision_taken,
    _end_placement,
    _placement_members,
    settle_safe_accommodation_end,
    settle_safe_accommodation_offer,
)
from pathway.domain.rules.core import Handler, _Change, _Duty, _reject
from pathway.domain.rules.residence import _safe_accommodation_permits
from pathway.domain.state import (
    DeadlineKind,
    ObligationKind,
    Phase,
    PlacementRecord,
    SafeAccommodationOffer,
)


def after_proceedings(change: _Change, reason: str, what: str) -> None:
    """S5: “for the victims from third countries it may last until the conclusion of the
    criminal proceedings”. A third-country national is in safe accommodation after their
    proceedings concluded: the provider agrees the next step by a date, with a reminder before
    and an escalation at the date (:func:`expire_after_proceedings`); nobody leaves by the
    clock."""
    state = change.state
    assert state.safe_accommodation is not None
    provider = state.safe_accommodation.provider
    # S5's period (CaseConfig.s5_next_step_period; K6: support goes on "in an appropriate
    # period after their completion", the seed gives no period) counts from now.
    due = change.days_end(
        DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS, change.now, change.config.s5_next_step_period
    )
    action = (
        f"{what}: safe accommodation of a third-country national lasts until the conclusion of "
        f"the criminal proceedings (S5). Agree the victim's next step and record it by "
        f"{describe_end(due)}; K6 support continues for an appropriate period."
    )
    change.open_obligation(
        _Duty(ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS, "S5", provider, action), due_at=due
    )
    recipients = [provider, Org.INTERIOR_MINISTRY, Org.MIGRATION_AUTHORITY]
    change.set_deadline(
        DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS,
        "S5",
        due,
        change.reminder_before(due, change.config.s5_reminder),
        recipients[:2],
    )
    change.notify(recipients, reason, "S5", action, due_at=due)


def expire_after_proceedings(change: _Change) -> None:
    """S5: the date to agree the next step after the proceedings is reached."""
    state = change.state
    placed = state.safe_accommodation
    open_ = [
        o
        for o in state.open_obligations
        if o.kind is ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS
    ]
    if placed is None or not placed.active or not open_:
        return
    told = [placed.provider, Org.INTERIOR_MINISTRY]
    if state.moot_every_track:  # before it, S3 and S5 kept no escalation on the obligation
        for ob in open_:
            change.escalated(ob, told)
    change.notify(
        told,
        "accommodation_after_proceedings_overdue",
        "S5",
        "The criminal proceedings concluded and no next step after safe accommodation of the "
        "third-country national is recorded by the date set (S5): agree and record it.",
    )


def _straight_from_identification(change: _Change, event: ev.SafeAccommodationPlaced) -> None:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation”; “To begin with, the accommodation of victims is organised within the Crisis
    Accommodation Programme, which is (or may be) then extended to the Safe Accommodation
    Programme”. A placement with no crisis accommodation before it in the case departs from
    that order: it is accepted only with its reason recorded (S1, ``reason``)."""
    state = change.state
    if state.seed_assistance_rules and state.crisis_accommodation is None and not event.reason:
        _reject(
            "S1",
            "reason",
            "safe accommodation is offered during crisis accommodation: a placement straight "
            "from identification needs its reason recorded",
        )


def _safe_accommodation(change: _Change, event: ev.SafeAccommodationPlaced) -> None:
    state = change.state
    consent = _consent_or_reject(change, "S1", event)
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        _reject("S1", "type", "the victim is already in safe accommodation")
    _safe_accommodation_permits(state, event.occurred_at)
    _straight_from_identification(change, event)
    _back_in_assistance(change, event.occurred_at)
    _end_placement(change, Placement.CRISIS_ACCOMMODATION, "moved to safe accommodation")
    state.safe_accommodation = PlacementRecord(
        provider=event.organisation,
        since=event.occurred_at,
        consent_signed_on=consent.signed_on,
        preliminary_programme=event.preliminary_programme if state.seed_assistance_rules else None,
    )
    change.set_lead(event.organisation, "S1")
    _placement_members(change, Placement.SAFE_ACCOMMODATION, event.organisation)
    state.phase = Phase.SAFE_ACCOMMODATION
    _decision_taken(change, event.event_id)
    cp = state.criminal_proceedings
    if (
        state.seed_residence_rules
        and state.person.is_third_country_national
        and cp is not None
        and cp.concluded_at is not None
    ):
        after_proceedings(
            change,
            "placed_after_proceedings",
            f"Placed in safe accommodation after the criminal proceedings concluded on "
            f"{local_date(cp.concluded_at)}",
        )


def _safe_accommodation_offered(change: _Change, event: ev.SafeAccommodationOffered) -> None:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation.” The offer is recorded with the victim's answer, and settles the obligation
    to make it (:func:`~pathway.domain.rules.assistance._offer_safe_accommodation`) whatever
    the answer: a refusal is the victim's choice (R5: nothing else follows from it). Refused
    while the victim is in safe accommodation (S1, ``type``): there is nothing to offer."""
    state = change.state
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        _reject("S1", "type", "the victim is already in safe accommodation")
    state.safe_accommodation_offer = SafeAccommodationOffer(
        at=event.occurred_at, by=event.organisation, answer=event.answer
    )
    settle_safe_accommodation_offer(change, event.event_id)


def _safe_ended(change: _Change, event: ev.SafeAccommodationEnded) -> None:
    if not _end_placement(change, Placement.SAFE_ACCOMMODATION, "ended", "S5"):
        _reject("S5", "type", "the victim is not in safe accommodation")
    settle_safe_accommodation_end(change, event.event_id)


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.SafeAccommodationPlaced: _safe_accommodation,
    ev.SafeAccommodationOffered: _safe_accommodation_offered,
    ev.SafeAccommodationEnded: _safe_ended,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "safe_accommodation_placed": "S1, S3",
    "safe_accommodation_offered": "S1",
    "safe_accommodation_ended": "S5",
}
