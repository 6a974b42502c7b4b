"""Erasure by key destruction, on request (``pathway case erase``) and by retention.

Destroying an episode's data key makes every copy of its payloads (the Temporal history,
exports, backups of the history) unreadable for good. A case (one person) has episodes (issue
12, :class:`~pathway.privacy.keys.Episode`), each with its own key, retention clock and
erasure:

- :func:`erase_case` (an operator's request) erases every episode of the case not yet erased
  (or one, ``episode=N``): it terminates the current run first, named by its run ID, if it is
  running, so no worker writes more under a key that is about to go; then it destroys the keys
  of the episodes it found at the start, and no other (an identification that opens a new
  episode meanwhile keeps its own; R1).
- :func:`erase_expired` (the retention sweep) erases each episode closed longer than the
  retention period, by its own closure. It never terminates a run and never destroys a key a
  running run uses; before destroying it checks again that the run it found is still the one
  its decision was about, and refuses otherwise.

Each erasure is logged with the case ID, the episodes and run ID, who asked and why, and
nothing else.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from pathway.domain.ids import NotACaseId, is_case_id
from pathway.domain.state import CaseState
from pathway.privacy.codec import META_KEY_ID
from pathway.privacy.keys import (
    Episode,
    KeyStore,
    PrivacyError,
    UnknownKey,
    episode_number,
    scope_of,
)

if TYPE_CHECKING:
    from pathway.clients.cases import CurrentRun

log = structlog.stdlib.get_logger("pathway.erasure")

#: Default retention of closed cases before automatic erasure (PATHWAY_RETENTION_DAYS).
DEFAULT_RETENTION = timedelta(days=5 * 365)


@dataclass(frozen=True)
class Erasure:
    case_id: str
    was_running: bool
    key_destroyed: bool  # False: every episode found already was
    #: The organisations that held a role in the case at any time: they (and operators) are
    #: told the case was erased (410); everyone else that it does not exist (404).
    former_members: frozenset[str] = frozenset()
    #: The run found current when the erasure began (None: Temporal had none).
    run_id: str | None = None
    #: The episodes whose keys this erasure destroyed.
    episodes: tuple[int, ...] = ()


async def erase_case(
    client: Client,
    store: KeyStore,
    case_id: str,
    *,
    by: str,
    why: str,
    episode: int | None = None,
) -> Erasure:
    """Erase the case: every episode of it not yet erased, or only ``episode``.

    The run current at the start is named by its run ID: if it is running (and belongs to an
    episode being erased) that run, and no later one, is terminated (reason: the fixed phrase
    "case erased"). Then the keys of the episodes found at the start are destroyed; an episode
    opened meanwhile by a new identification is left alone (R1, issue 12). A case never opened
    gets an erased episode 1, so nothing is sealed under it until an identification opens the
    next.

    Before the keys go, the case's members at any time are read from the current run's state
    and kept beside each destroyed key (:meth:`KeyStore.destroy`), so that former members and
    operators learn of the erasure (410) and no one else learns the case existed (issue 11). If
    the state cannot be read (already erased, no worker), none are kept: only operators then get
    410.

    ``by`` names who asked (an operator's name or ``retention``); ``why`` is a category such as
    ``request`` or ``retention``: both are logged, so neither may carry personal data.

    Raises :class:`~pathway.domain.ids.NotACaseId` for anything but a case ID (an episode's
    address ``<case>/e<N>`` included: ``episode`` names one), and touches nothing.
    """
    from pathway.clients.cases import current_run

    if not is_case_id(case_id):
        # An episode's address (<case>/e<N>) or a stray string is no case: the key store would
        # resolve it to one episode's key without a run being stopped (review of issue 12).
        raise NotACaseId(case_id)
    found = [
        e
        for e in await asyncio.to_thread(store.episodes, case_id)
        if not e.erased and (episode is None or e.number == episode)
    ]
    run = await current_run(client, case_id)
    state: CaseState | None = None
    was_running = False
    if run is not None:
        pinned = client.get_workflow_handle(case_id, run_id=run.run_id)
        state = await _state_of(pinned)
        in_use = await run_episode(client, case_id, run.run_id)
        if run.running and (episode is None or in_use in (None, episode)):
            try:
                # The reason is stored in the history in clear text: a fixed phrase only.
                await pinned.terminate(reason="case erased")
                was_running = True
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise  # NOT_FOUND: that run ended meanwhile; no other run is touched
    members = _members_ever(state)
    if found:
        destroyed = [e.number for e in found if store.destroy(e.ref, former_members=members)]
    elif episode is None and not await asyncio.to_thread(store.episodes, case_id):
        destroyed = [1] if store.destroy(case_id, former_members=members) else []
    else:
        destroyed = []
    forgotten = await _forget_in_linked_cases(client, case_id, state)
    log.info(
        "case erased",
        case_id=case_id,
        episodes=destroyed,
        run_id=None if run is None else run.run_id,
        by=by,
        why=why,
        was_running=was_running,
        key_destroyed=bool(destroyed),
        former_members=sorted(members),
        linked_cases_updated=forgotten,
    )
    return Erasure(
        case_id,
        was_running,
        bool(destroyed),
        members,
        None if run is None else run.run_id,
        tuple(destroyed),
    )


async def run_episode(client: Client, case_id: str, run_id: str) -> int | None:
    """The episode whose key sealed the run's input (issue 12): the run's first event carries
    it in its payload metadata, so which episode a run belongs to needs no decryption and no
    clock. None if the run has no sealed input (no codec) or Temporal has no such run."""
    handle = client.get_workflow_handle(case_id, run_id=run_id)
    try:
        async for first in handle.fetch_history_events(page_size=1):
            for payload in first.workflow_execution_started_event_attributes.input.payloads:
                if key_id := payload.metadata.get(META_KEY_ID):
                    return episode_number(scope_of(key_id.decode()))
            return None
    except (RPCError, UnknownKey, UnicodeDecodeError):
        return None
    return None


#: How long erasure waits for the case's state before erasing without a record of its members.
_STATE_TIMEOUT = timedelta(seconds=30)


async def _state_of(handle: WorkflowHandle[object, object]) -> CaseState | None:
    """The case's state from its ``state`` query (None if the case is unknown, already erased
    or cannot answer)."""
    try:
        state = await handle.query("state", result_type=CaseState, rpc_timeout=_STATE_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError, PrivacyError):
        return None
    return state if isinstance(state, CaseState) else None


def _members_ever(state: CaseState | None) -> frozenset[str]:
    """The organisation codes that held any role in the case."""
    return (
        frozenset() if state is None else frozenset(m.organisation.value for m in state.membership)
    )


async def _forget_in_linked_cases(client: Client, case_id: str, state: CaseState | None) -> int:
    """Remove the erased case's ID from the state of each running case linked to it (issue 11
    item 6); returns how many changed. A linked case that is not running (closed, erased) keeps
    what its history holds: nothing can change it, and the ID now names nothing readable."""
    # Imported here: the client module imports the codec, which this package provides.
    from pathway.clients.cases import CaseBusy, OutcomeUnknown, UnknownCase, forget_linked_case

    changed = 0
    for linked in [] if state is None else state.linked_cases:
        try:
            changed += await forget_linked_case(client, linked, case_id)
        except UnknownCase:
            continue
        except (CaseBusy, OutcomeUnknown, RPCError) as err:
            # The erasure stands; the linked case keeps an ID that names nothing readable now.
            log.warning(
                "linked case not updated",
                case_id=case_id,
                linked_case_id=linked,
                error=type(err).__name__,
            )
    return changed


def closed_cases_query(cutoff: datetime) -> str:
    """Visibility query for case runs that completed (closed) before ``cutoff``."""
    return (
        "WorkflowType = 'VictimCaseWorkflow' AND ExecutionStatus = 'Completed' "
        f"AND CloseTime < '{cutoff.isoformat()}'"
    )


@dataclass(frozen=True)
class Expired:
    """An episode whose retention is over, as the sweep found it: the case, the episode, the
    run found closed (None: Temporal no longer has it) and when the episode closed."""

    case_id: str
    episode: int
    run_id: str | None
    closed_at: datetime


async def erase_expired(
    client: Client,
    store: KeyStore,
    *,
    retention: timedelta,
    now: datetime,
    dry_run: bool = False,
) -> list[Expired]:
    """Erase every episode closed more than ``retention`` before ``now`` (each by its own
    closure, issue 12); returns those erased (with ``dry_run``, those it would erase, and
    nothing is destroyed).

    Candidates are the cases with a run completed before the cutoff (visibility) and the cases
    with an earlier episode recorded closed before it (the key store). For each case:

    - an *earlier* episode (one a later identification succeeded) closed when the next opened:
      its clock runs from the close recorded then;
    - the *current* episode closes with its current run: it is due only if that run (the case's
      latest) belongs to it, is completed and closed before the cutoff.

    Never: an episode whose key a running run uses (the current run's episode, read from the
    key ID of its input), a case that never had a data key (nothing to erase; its person can
    still be identified, R1), or an episode whose run changed between the finding and the
    destroying (checked again just before: the sweep acts only on the run it found). No run is
    ever terminated.
    """
    cutoff = now - retention
    candidates: dict[str, None] = {}
    async for execution in client.list_workflows(closed_cases_query(cutoff)):
        candidates.setdefault(execution.id)
    for earlier in await asyncio.to_thread(store.episodes_closed_before, cutoff):
        candidates.setdefault(earlier.case_id)
    done = []
    for case_id in candidates:
        for expired in await _expired_episodes(client, store, case_id, cutoff):
            if dry_run or await _erase_expired(client, store, expired):
                done.append(expired)
    return done


async def _in_use(
    client: Client, case_id: str, latest: int
) -> tuple[CurrentRun | None, int | None]:
    """The case's current run and the episode whose key it uses if it is running (None if it
    is not; the latest episode if its input names none)."""
    from pathway.clients.cases import current_run

    run = await current_run(client, case_id)
    if run is None:
        return None, None
    episode = await run_episode(client, case_id, run.run_id)
    return run, ((episode or latest) if run.running else episode)


async def _expired_episodes(
    client: Client, store: KeyStore, case_id: str, cutoff: datetime
) -> list[Expired]:
    """The case's episodes that are due (the rules of :func:`erase_expired`); each one skipped
    is logged with a fixed phrase saying why."""
    episodes = await asyncio.to_thread(store.episodes, case_id)
    if not episodes:
        log.info("retention skipped", case_id=case_id, because="it never had a data key")
        return []
    run, run_of = await _in_use(client, case_id, episodes[-1].number)
    due = []
    for index, episode in enumerate(episodes):
        if episode.erased:
            continue
        verdict = _verdict(episodes, index, run, run_of, cutoff)
        if isinstance(verdict, Expired):
            due.append(verdict)
        else:
            log.info("retention skipped", case_id=case_id, episode=episode.number, because=verdict)
    return due


def _verdict(
    episodes: list[Episode],
    index: int,
    run: CurrentRun | None,
    run_of: int | None,
    cutoff: datetime,
) -> Expired | str:
    """Episode ``episodes[index]`` is due (:class:`Expired`), or why not (a fixed phrase)."""
    episode = episodes[index]
    if run is not None and run.running and run_of == episode.number:
        return "its current run is not closed"
    if index < len(episodes) - 1:
        closed = episode.closed_at or episodes[index + 1].opened_at
        if closed >= cutoff:
            return "it closed within the retention period"
        return Expired(episode.case_id, episode.number, episode.closed_run, closed)
    # The current episode closes with the case's latest run, if that run is its own.
    if run is None or (run_of is not None and run_of != episode.number):
        return "it has no closed run of its own"
    if run.close_time is None or run.close_time >= cutoff:
        return "its latest run closed within the retention period"
    return Expired(episode.case_id, episode.number, run.run_id, run.close_time)


async def _erase_expired(client: Client, store: KeyStore, expired: Expired) -> bool:
    """Destroy the key of the episode found due, after checking again that no running run uses
    it and that a current episode's run is still the run found; False (and nothing destroyed)
    otherwise, or if it was erased meanwhile."""
    episodes = await asyncio.to_thread(store.episodes, expired.case_id)
    episode = next((e for e in episodes if e.number == expired.episode), None)
    if episode is None or episode.erased:
        return False
    run, run_of = await _in_use(client, expired.case_id, episodes[-1].number)
    changed = (
        run is not None
        and run_of == expired.episode
        and (run.running or run.run_id != expired.run_id)
    )
    if changed:
        log.info(
            "retention refused",
            case_id=expired.case_id,
            episode=expired.episode,
            run_id=expired.run_id,
            because="the run found is no longer the case's current run",
        )
        return False
    state = (
        None
        if expired.run_id is None
        else await _state_of(client.get_workflow_handle(expired.case_id, run_id=expired.run_id))
    )
    members = _members_ever(state)
    if not store.destroy(episode.ref, former_members=members):
        return False
    forgotten = await _forget_in_linked_cases(client, expired.case_id, state)
    log.info(
        "case erased",
        case_id=expired.case_id,
        episodes=[expired.episode],
        run_id=expired.run_id,
        by="retention",
        why="retention",
        was_running=False,
        key_destroyed=True,
        former_members=sorted(members),
        linked_cases_updated=forgotten,
    )
    return True
