"""The case and register workflows' inputs and outcomes (their payloads' models).

They live outside the workflow modules on purpose (issue 14): the workflow sandbox imports a
workflow's own module again for every run, so a pydantic model defined there was built again,
with its validator and serializer, for every case a worker held: about half a megabyte of
memory and milliseconds of CPU per cached case (``CaseInput`` holds the whole
:class:`~pathway.domain.state.CaseState`). Imported from here (passed through the sandbox),
they are built once per process. The workflow modules re-export them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from pathway.domain.config import CaseConfig
from pathway.domain.events import Identified
from pathway.domain.organisations import NOTIFICATION_QUEUE_PREFIX
from pathway.domain.programmes import Programme, ProgrammeEvent, ProgrammeState
from pathway.domain.state import CaseState, Phase

__all__ = [
    "CaseInput",
    "CaseOutcome",
    "LinkedCaseStart",
    "RecordProgrammeEvent",
    "RegisterInput",
]


class CaseInput(BaseModel):
    """Start (or continue-as-new) input: the configuration and, after the first run, the state.

    A case opened by another case (an accompanying child identified as a victim, R1) starts
    with its identification and the case it is linked to.

    ``link_secret`` is the new case's random secret (made by the client that opens it, or
    derived by the case that opens it), kept in its state by the identification; the IDs of
    the cases it opens derive from it (:func:`pathway.domain.ids.linked_case_id`). It is never
    made inside the workflow: a workflow's randomness is seeded from its run ID, which is no
    secret. Inputs recorded before it existed have none (their children keep the old IDs).

    ``episode`` is the episode of the case this run belongs to (issue 12), from 1: set by the
    client that opened the episode, carried over continue-as-new. The run's payloads are sealed
    under that episode's key (:mod:`pathway.privacy.sealing`), query answers on a closed run
    included, so a later episode's members never read an earlier one and an erased episode
    answers nothing. None (a linked case's first run, inputs recorded before it existed): the
    case's current episode.
    """

    config: CaseConfig = CaseConfig()
    state: CaseState | None = None
    identified: Identified | None = None
    linked_case_id: str | None = None
    link_secret: str | None = None
    episode: int | None = Field(default=None, ge=1)


class LinkedCaseStart(BaseModel):
    """The input of the ``start_linked_case`` activity (:mod:`pathway.activities.linked_cases`):
    the linked case's ID, its task queue and its start input (R1, issue 11 item 6)."""

    case_id: str
    task_queue: str
    input: CaseInput


class CaseOutcome(BaseModel):
    """How a case's run ended: whether the identification opened it, and its phase."""

    case_id: str
    opened: bool
    phase: Phase | None = None


class RegisterInput(BaseModel):
    """A programme register's start (or continue-as-new) input: its programme and state."""

    programme: Programme
    notification_queue_prefix: str = NOTIFICATION_QUEUE_PREFIX
    state: ProgrammeState | None = None


class RecordProgrammeEvent(BaseModel):
    """The ``record`` update's argument: one programme event (P1, X1)."""

    event: ProgrammeEvent
