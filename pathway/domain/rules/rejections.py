"""Rejected events noted in the case (issue 17 item 3: the timeline marks rejected events).

A rejected event changes nothing and its payload never reaches the case's history (the
workflow's update validator rejects it). What the case keeps of it is a
:class:`~pathway.domain.state.RejectionEntry`: metadata only (the event's ID and type, the
organisation that sent it, the rule, the field and the rule's reason), noted by a second,
accepted update that the client sends after the rejection
(:func:`pathway.clients.cases.record_event`).

- Only a rule's rejection is noted, never an ``ACCESS`` refusal: an organisation that may not
  send to the case (no member, or not this event) must not be able to write into it, nor learn
  that it exists (R6). The workflow also checks the sender against the membership, as it checks
  an event.
- A repeat of a note (the same event ID from the same organisation, rejected by the same rule
  at the same field: a double click, a retried request) is kept once, as first noted; the same
  event corrected and rejected again for another reason is a new entry.
- Only the latest :data:`~pathway.domain.state.REJECTIONS_KEPT` of each organisation are
  kept, so a flood of rejected events cannot grow the state, and one organisation's flood
  cannot push another's rejections out.

No Temporal import here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pathway.domain.events import EVENT_TYPES, EventId
from pathway.domain.organisations import Organisation
from pathway.domain.rules.core import RULE_ACCESS, RULE_CASE, Rejection
from pathway.domain.state import REJECTIONS_KEPT, CaseState, Phase, RejectionEntry

__all__ = ["RejectionNote", "is_noted", "note_rejection"]

#: A rule ID of docs/rules.md or a service check (``R3``, ``K7``, ``TIME``, ``IDEMPOTENCY``).
RuleId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9_]+$")]
#: A field path of an event (``language``, ``consent.signed_on``).
FieldPath = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_.]+$")]


class RejectionNote(BaseModel):
    """The argument of the case workflow's ``note_rejection`` update: the rejection the case's
    own rules answered to an event (``rule``, ``field``, ``reason`` as the ``EventRejected``
    error carried them), the event's ``event_id``, ``type`` and ``organisation``, and
    ``sender`` as :class:`~pathway.domain.events.RecordEvent` has it (the authenticated role,
    checked against the membership; None for the operator's CLI). Nothing the event carried
    besides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: EventId
    event_type: str
    organisation: Organisation
    rule: RuleId
    field: FieldPath | None = None
    reason: str = Field(min_length=1, max_length=500)
    sender: str | None = None

    @field_validator("event_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError("not an event type of a case")
        return value


def note_rejection(state: CaseState, note: RejectionNote, now: datetime) -> CaseState | Rejection:
    """``state`` with ``note`` kept as its latest :class:`RejectionEntry` (noted at ``now``),
    the organisation's oldest dropped beyond :data:`REJECTIONS_KEPT`; ``state`` itself
    (unchanged) if the same rejection of the same event is kept already. Pure.

    Returns a :class:`Rejection` (nothing noted) for an ``ACCESS`` refusal (rule ``ACCESS``,
    field ``rule``: never noted, R6) and for a closed case (rule ``CASE``)."""
    if note.rule == RULE_ACCESS:
        return Rejection(RULE_ACCESS, "rule", "a refusal of access is never noted in the case")
    if state.phase is Phase.CLOSED:
        return Rejection(RULE_CASE, "type", "the case is closed")
    if is_noted(state, note):
        return state
    entry = RejectionEntry(
        at=now,
        event_id=note.event_id,
        event_type=note.event_type,
        organisation=note.organisation,
        rule=note.rule,
        field=note.field,
        reason=note.reason,
    )
    mine = [i for i, r in enumerate(state.rejections) if r.organisation == note.organisation]
    dropped = set(mine[: max(0, len(mine) + 1 - REJECTIONS_KEPT)])
    kept = [r for i, r in enumerate(state.rejections) if i not in dropped] + [entry]
    return state.model_copy(update={"rejections": kept})


def is_noted(state: CaseState, note: RejectionNote) -> bool:
    """Whether ``state`` keeps ``note`` already: the same event ID from the same organisation,
    rejected by the same rule at the same field. The workflow's validator refuses such a repeat,
    so that it adds nothing to the case's history either (review of issue 17: repeats of one
    rejected event grew the history without end)."""
    key = (note.event_id, note.organisation, note.rule, note.field)
    return any((r.event_id, r.organisation, r.rule, r.field) == key for r in state.rejections)
