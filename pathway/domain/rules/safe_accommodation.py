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
accommodation offers) is not yet modelled.
"""

from __future__ import annotations

from pathway.domain import events as ev
from pathway.domain.events import BaseEvent, Placement
from pathway.domain.rules.assistance import (
    _consent_or_reject,
    _decision_taken,
    _end_placement,
    _placement_members,
)
from pathway.domain.rules.core import Handler, _Change, _reject
from pathway.domain.rules.residence import _safe_accommodation_permits
from pathway.domain.state import ObligationKind, Phase, PlacementRecord


def _safe_accommodation(change: _Change, event: ev.SafeAccommodationPlaced) -> None:
    state = change.state
    consent = _consent_or_reject("S1", event)
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        _reject("S1", "type", "the victim is already in safe accommodation")
    _safe_accommodation_permits(state, event.occurred_at)
    _end_placement(change, Placement.CRISIS_ACCOMMODATION, "moved to safe accommodation")
    state.safe_accommodation = PlacementRecord(
        provider=event.organisation,
        since=event.occurred_at,
        consent_signed_on=consent.signed_on,
    )
    change.set_lead(event.organisation, "S1")
    _placement_members(change, Placement.SAFE_ACCOMMODATION, event.organisation)
    state.phase = Phase.SAFE_ACCOMMODATION
    _decision_taken(change, event.event_id)


def _safe_ended(change: _Change, event: ev.SafeAccommodationEnded) -> None:
    if not _end_placement(change, Placement.SAFE_ACCOMMODATION, "ended"):
        _reject("S5", "type", "the victim is not in safe accommodation")
    change.close_obligations(event.event_id, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.SafeAccommodationPlaced: _safe_accommodation,
    ev.SafeAccommodationEnded: _safe_ended,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "safe_accommodation_placed": "S1, S3",
    "safe_accommodation_ended": "S5",
}
