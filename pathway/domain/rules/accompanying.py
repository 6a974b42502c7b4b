"""Children placed with a victim, and their own cases (R1, with K1 and S1).

A child placed in crisis or safe accommodation with a victim is recorded only with a running
placement (K1: crisis accommodation is for “identified victims, both adults and children”; S1:
safe accommodation): :func:`_accompanying_child`. A child identified as a victim in their own
right gets their own case (R1: “assistance and support as soon as the authorised authorities
have reasonable grounds to suspect that the person has been a victim of trafficking in human
beings”), linked to the parent's by a keyed hash neither ID reveals:
:func:`_accompanying_child_identified`, :func:`_linked_case`. The workflow reports the linked
case started (:func:`settle_case_start`), and erasure makes a case forget an erased linked case
(:func:`forget_linked_case`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import ValidationError

from pathway.domain import events as ev
from pathway.domain import ids
from pathway.domain.events import BaseEvent, Placement
from pathway.domain.person import PersonFacts
from pathway.domain.rules.core import RULE_CASE, Handler, _Change, _reject, working_copy
from pathway.domain.state import AccompanyingChild, CaseStart, CaseState, TimelineEntry


def _accompanying_child(change: _Change, event: ev.AccompanyingChildRecorded) -> None:
    state = change.state
    if any(c.child_ref == event.child_ref for c in state.accompanying_children):
        _reject(RULE_CASE, "child_ref", "this accompanying child is already recorded")
    placement = (
        state.crisis_accommodation
        if event.placed_with is Placement.CRISIS_ACCOMMODATION
        else state.safe_accommodation
    )
    if placement is None or not placement.active:
        rule = "K1" if event.placed_with is Placement.CRISIS_ACCOMMODATION else "S1"
        _reject(rule, "placed_with", f"the victim is not in {event.placed_with.value}")
    state.accompanying_children.append(
        AccompanyingChild(
            child_ref=event.child_ref,
            birth_date=event.birth_date,
            age_estimate=event.age_estimate,
            gender=event.gender,
            citizenships=list(event.citizenships),
            placed_with=event.placed_with,
            recorded_at=event.occurred_at,
        )
    )


def _accompanying_child_identified(change: _Change, event: ev.AccompanyingChildIdentified) -> None:
    """R1: the child's own case opens, started by this workflow and linked to this case."""
    state = change.state
    child = next((c for c in state.accompanying_children if c.child_ref == event.child_ref), None)
    if child is None:
        _reject("R1", "child_ref", "no accompanying child with this reference is recorded")
    if child.own_case_id is not None:
        _reject("R1", "child_ref", "this child's own case is already open")
    _refuse_before_birth(child, event)
    try:
        person = PersonFacts(
            birth_date=child.birth_date,
            age_estimate=child.age_estimate,
            gender=child.gender,
            citizenships=child.citizenships,
            residence_status=event.residence_status,
            languages=event.languages,
            unaccompanied=event.unaccompanied,
        )
    except ValidationError as err:
        field = _field_of(err)
        if field in ("residence_status", "child_ref"):
            # The facts recorded for the child are at fault, or disagree with this event: the
            # reason names no recorded value (the sender may not read them, R6; review of
            # issue 17: a citizenship told through the validation's message).
            _reject("R1", field, "these facts do not agree with the child's recorded facts")
        _reject("R1", field, str(err.errors()[0]["msg"]))
    case_id, subject_ref, secret = _linked_case(state, event.child_ref)
    try:
        identified = ev.Identified(
            event_id=own_case_event_id(event.event_id),
            organisation=event.organisation,
            actor=event.actor,
            occurred_at=event.occurred_at,
            reason=event.reason,
            subject_ref=subject_ref,
            person=person,
        )
    except ValidationError as err:  # what _refuse_before_birth missed: refused, never a crash
        _reject("R1", "occurred_at", str(err.errors()[0]["msg"]))
    child.own_case_id = case_id
    state.linked_cases.append(case_id)
    state.pending_case_starts.append(
        CaseStart(case_id=case_id, identified=identified, link_secret=secret)
    )


#: What the child's own case's identification adds to the ``event_id`` it was made from.
OWN_CASE_SUFFIX = "/own-case"


def own_case_event_id(event_id: str) -> str:
    """The ``event_id`` of the identification that opens an accompanying child's own case (R1),
    made from the ``accompanying_child_identified`` event's ``event_id``:
    ``<event_id>/own-case``; for an ``event_id`` too long to take the suffix within
    :data:`~pathway.domain.events.EVENT_ID_MAX_LENGTH`, its SHA-256 (64 hex digits) instead
    of it, so that every valid ``event_id`` gives a valid one (review of issue 13: an
    ``event_id`` of 120 to 128 characters was refused). The same ``event_id`` always gives the
    same result."""
    own = f"{event_id}{OWN_CASE_SUFFIX}"
    if len(own) <= ev.EVENT_ID_MAX_LENGTH:
        return own
    return hashlib.sha256(event_id.encode()).hexdigest() + OWN_CASE_SUFFIX


#: The fields of the child's facts that this event states; the others come from the child's
#: record (``accompanying_child_recorded``), named here by the reference to it.
_STATED_HERE = frozenset({"residence_status", "languages", "unaccompanied"})


def _field_of(err: ValidationError) -> str:
    """The field of ``accompanying_child_identified`` at fault in the child's facts: a field it
    states (``languages.0``); ``residence_status`` for a status that the child's recorded
    citizenships contradict (the facts as a whole); ``child_ref`` for the recorded facts."""
    loc = err.errors()[0]["loc"]
    if not loc:
        return "residence_status"
    if loc[0] in _STATED_HERE:
        return ".".join(str(part) for part in loc)
    return "child_ref"


def _refuse_before_birth(child: AccompanyingChild, event: ev.AccompanyingChildIdentified) -> None:
    """R1: a child is not identified before the day (in Ljubljana) of the birth date, or of the
    age estimate, recorded for them: their case would open before they were born, or on an
    estimate not yet made."""
    # The reasons name no recorded date: the identifying authority may not read the child's
    # birth date (R6; review of issue 17, where the rejection noted in the case kept it).
    if child.birth_date is not None and child.birth_date > event.day:
        _reject(
            "R1", "occurred_at", "the child cannot be identified before their recorded birth date"
        )
    if child.age_estimate is not None and child.age_estimate.as_of > event.day:
        _reject(
            "R1",
            "occurred_at",
            "the child cannot be identified before the day of their recorded age estimate",
        )


def _linked_case(state: CaseState, child_ref: str) -> tuple[str, str, str | None]:
    """R1: the child's own case ID, the reference its identification carries, and its link
    secret.

    With the case's link secret (every case opened since linked cases had one): a keyed hash
    of the child's reference (:func:`~pathway.domain.ids.linked_case_id`), in the format of
    every case ID, which reveals nothing of this case's ID; the identification's reference is
    the child's own case ID (so the child's case holds no trace of the parent's ID but its
    ``linked_cases``); the child's secret derives from this one. Without it (cases opened
    before, replayed from their histories), the old scheme, unchanged: the parent's ID with the
    child's reference appended.
    """
    if state.link_secret is None:
        return f"{state.case_id}-{child_ref}", f"{state.case_id}/{child_ref}", None
    case_id = ids.linked_case_id(state.link_secret, child_ref)
    return case_id, case_id, ids.linked_case_secret(state.link_secret, child_ref)


def settle_case_start(state: CaseState, case_id: str, now: datetime) -> None:
    """Record that a linked case was started (in place, on workflow-owned state); nothing if
    it is no longer pending (:func:`forget_linked_case` removed it meanwhile)."""
    if not any(c.case_id == case_id for c in state.pending_case_starts):
        return
    state.pending_case_starts = [c for c in state.pending_case_starts if c.case_id != case_id]
    # Not the linked case's ID: every reader of the case reads the timeline, while the ID is
    # in ``linked_cases`` for those the read matrix lets see it (issue 11 item 6).
    state.timeline.append(
        TimelineEntry(at=now, recorded_at=now, who="pathway", what="linked case opened", rule="R1")
    )


def forget_linked_case(state: CaseState, case_id: str, now: datetime) -> CaseState | None:
    """The state without any trace of the linked case ``case_id``, which was erased (issue 11
    item 6): gone from ``linked_cases``, from the accompanying children's ``own_case_id`` (the
    child stays recorded) and from ``pending_case_starts``, and replaced by "(erased)" in the
    timeline entries that named it; one timeline entry says a linked case was erased.

    Pure; ``None`` if the state holds no trace of ``case_id``, or ``case_id`` is the case's own
    ID (nothing to do: idempotent)."""
    if case_id == state.case_id:
        return None
    named = [t for t in state.timeline if case_id in t.what]
    if not (
        case_id in state.linked_cases
        or any(c.own_case_id == case_id for c in state.accompanying_children)
        or any(c.case_id == case_id for c in state.pending_case_starts)
        or named
    ):
        return None
    new = working_copy(state)
    new.linked_cases = [c for c in new.linked_cases if c != case_id]
    for child in new.accompanying_children:
        if child.own_case_id == case_id:
            child.own_case_id = None
    new.pending_case_starts = [c for c in new.pending_case_starts if c.case_id != case_id]
    new.timeline = [
        t.model_copy(update={"what": t.what.replace(case_id, "(erased)")})
        if case_id in t.what
        else t
        for t in new.timeline
    ]
    new.timeline.append(
        TimelineEntry(
            at=now,
            recorded_at=now,
            who="pathway",
            what="a linked case was erased: its ID is no longer kept in this case",
        )
    )
    return new


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.AccompanyingChildRecorded: _accompanying_child,
    ev.AccompanyingChildIdentified: _accompanying_child_identified,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "accompanying_child_recorded": "K1, S1",
    "accompanying_child_identified": "R1",
}
