"""Checks an event meets when it arrives, besides :func:`~pathway.domain.rules.decide`'s (issue
13; docs/rules.md "Admission checks"): refusals found missing after cases were already running.

The case workflow makes them in its update validator only, which Temporal does not run when a
history replays: a history that recorded such an event as accepted replays unchanged, with no
patch (docs/versioning.md, "No patch is needed for"), and every event that arrives from now on
meets them. They only refuse; they never change what an accepted event does.

- :func:`admission_refusal`, before deciding: a ``facts_updated`` that would drop the recorded
  birth date or age estimate (C1, C8: a child's protection rests on the age), an age estimate
  that puts the birth before 1900 (INPUT), a placement dated so that crisis and safe
  accommodation would both be active (K1, S1), and a permit-to-stay extension dated before the
  permit's grant (K7).
- :func:`linked_case_refusal`, after deciding: an accepted event that would start a linked
  case whose own identification would be refused (R1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pathway.domain.calendar import local_date
from pathway.domain.events import (
    CaseEvent,
    CrisisAccommodationPlaced,
    FactsUpdated,
    Identified,
    PermitToStayExtended,
    SafeAccommodationPlaced,
)
from pathway.domain.person import PersonFacts
from pathway.domain.plausible import EARLIEST_DATE, RULE_INPUT
from pathway.domain.rules.core import Accepted, Rejection
from pathway.domain.rules.dispatch import decide, idempotency_key
from pathway.domain.state import CaseState, Phase


def admission_refusal(state: CaseState | None, event: CaseEvent) -> Rejection | None:
    """The refusal of ``event`` by an admission check, or None. Pure.

    - INPUT, ``person.age_estimate``: an ``identified`` or ``facts_updated`` whose age estimate
      puts the birth before :data:`~pathway.domain.plausible.EARLIEST_DATE` (as a birth date
      before it is refused).
    - K1, ``occurred_at``: a crisis placement dated before the end of the case's safe
      placement that has ended since (recorded late: from its date on it would run beside
      it; one while a safe placement still runs is :func:`decide`'s refusal). S1,
      ``occurred_at``: a safe placement dated before the case's crisis placement began (from
      its date on it would run beside it). Only the latest placement of each kind is kept,
      so only those are compared; not in cases recorded before ``seed_assistance_rules``,
      whose placements ended when the end was recorded, not when it happened.
    - K7, ``occurred_at``: a ``permit_to_stay_extended`` dated on a day (in Ljubljana) before
      the day the permit to stay was granted (the grant's own date, from the case's timeline;
      its ``valid_from`` may lie earlier).
    - INPUT, ``person.birth_date`` (or ``person.age_estimate``): a ``facts_updated`` that
      leaves out the birth date (or, with none recorded, the age estimate) the case holds,
      with neither in its place. The person's facts are replaced whole; an age left out would
      read as unknown, and an unknown age as an adult's, closing a child's protection (C1,
      C4-C8). A wrong birth date is corrected, or replaced by an estimate; never dropped.

    None, and no check made, for a repeat of an event the case holds (it answers its first
    result) and in a closed case (``decide`` refuses with CASE).
    """
    if state is not None and (
        state.phase is Phase.CLOSED or idempotency_key(state, event) in state.processed
    ):
        return None  # decide's to answer: a repeat gets its first result, a closed case CASE
    if isinstance(event, Identified | FactsUpdated):
        refusal = _estimate_before_earliest(event.person)
        if refusal is not None:
            return refusal
    if state is not None and isinstance(event, FactsUpdated):
        return _age_dropped(state.person, event.person)
    if (
        state is not None
        and state.seed_assistance_rules
        and isinstance(event, CrisisAccommodationPlaced | SafeAccommodationPlaced)
    ):
        return _placements_overlap(state, event)
    if state is not None and isinstance(event, PermitToStayExtended):
        return _extension_before_grant(state, event)
    return None


def _estimate_before_earliest(person: PersonFacts) -> Rejection | None:
    estimate = person.age_estimate
    if estimate is None or person.birth_date is not None:
        return None
    born = person.birthday(0)
    if born is None or born >= EARLIEST_DATE:
        return None
    return Rejection(
        RULE_INPUT,
        "person.age_estimate.years",
        f"an estimate of {estimate.years} years on {estimate.as_of} puts the birth in "
        f"{born.year}, before {EARLIEST_DATE.year}: no one the service assists was born then",
    )


def _age_dropped(recorded: PersonFacts, updated: PersonFacts) -> Rejection | None:
    if updated.birth_date is not None or updated.age_estimate is not None:
        return None
    if recorded.birth_date is not None:
        return Rejection(
            RULE_INPUT,
            "person.birth_date",
            "the case holds a birth date: send it with the other facts, corrected if it was "
            "wrong, or an age estimate in its place; it is never left out (a child's "
            "protection rests on the age, C1)",
        )
    if recorded.age_estimate is not None:
        return Rejection(
            RULE_INPUT,
            "person.age_estimate",
            "the case holds an age estimate: send it with the other facts, corrected if it was "
            "wrong, or a birth date in its place; it is never left out (a child's protection "
            "rests on the age, C1)",
        )
    return None


def _placements_overlap(
    state: CaseState, event: CrisisAccommodationPlaced | SafeAccommodationPlaced
) -> Rejection | None:
    at = event.occurred_at
    safe, crisis = state.safe_accommodation, state.crisis_accommodation
    if isinstance(event, CrisisAccommodationPlaced):
        if safe is not None and safe.ended_at is not None and at < safe.ended_at:
            return Rejection(
                "K1",
                "occurred_at",
                f"safe accommodation ran from {local_date(safe.since)} to "
                f"{local_date(safe.ended_at)}: a crisis placement dated before its end would "
                "make both active, and crisis and safe accommodation are never both active",
            )
        return None
    if crisis is not None and at < crisis.since:
        return Rejection(
            "S1",
            "occurred_at",
            f"the crisis accommodation placed on {local_date(crisis.since)} would run beside "
            "it: safe accommodation follows crisis accommodation, so it cannot be dated before "
            "it",
        )
    return None


#: The timeline's ``what`` of an accepted ``permit_to_stay_granted`` (its type, spaced).
GRANTED: Final = "permit to stay granted"


def _extension_before_grant(state: CaseState, event: PermitToStayExtended) -> Rejection | None:
    grants = [entry.at for entry in state.timeline if entry.what == GRANTED]
    if not grants or local_date(event.occurred_at) >= local_date(grants[-1]):
        return None
    return Rejection(
        "K7",
        "occurred_at",
        f"the permit to stay was granted on {local_date(grants[-1])}: its extension cannot be "
        "decided before it",
    )


def linked_case_refusal(
    previous: CaseState | None, decision: Accepted, now: datetime
) -> Rejection | None:
    """R1: the refusal of an accepted event (``decision``, taken on ``previous`` at ``now``)
    that would start a linked case whose own identification would be refused, or None. Pure.

    An accompanying child identified as a victim gets a case of their own (R1). Each case the
    decision adds to ``pending_case_starts`` is decided as the started case will decide it
    (its identification, ID and link secret, this case's configuration); if that refuses, so
    does this event, under R1, naming the child's field and giving the child's reason. Without
    it the parent would record a link to a case that never opens."""
    before = set() if previous is None else {s.case_id for s in previous.pending_case_starts}
    for start in decision.state.pending_case_starts:
        if start.case_id in before:
            continue
        own = admission_refusal(None, start.identified) or decide(
            None,
            start.identified,
            now,
            case_id=start.case_id,
            config=decision.state.config,
            link_secret=start.link_secret,
        )
        if isinstance(own, Rejection):
            field = (own.field or "").removeprefix("person.") or None
            # The child's reason is not passed on: it may name recorded facts (a citizenship)
            # the sender may not read (R6; as _accompanying_child_identified words it).
            return Rejection(
                "R1",
                field,
                "the accompanying child's own case could not open: these facts do not agree "
                "with the child's recorded facts",
            )
    return None
