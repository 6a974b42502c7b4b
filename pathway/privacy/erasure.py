"""Erasure by key destruction, on request (``pathway case erase``) and by retention.

Destroying a case's data key makes every copy of its payloads (the Temporal history, exports,
backups of the history) unreadable for good. The workflow is terminated first, so no worker
tries to write more under a key that is about to go. Each erasure is logged with the case ID,
who asked and why, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from pathway.domain.state import CaseState
from pathway.privacy.keys import CaseErased, KeyStore, PrivacyError, UnknownKey, key_id_for

log = structlog.stdlib.get_logger("pathway.erasure")

#: Default retention of closed cases before automatic erasure (PATHWAY_RETENTION_DAYS).
DEFAULT_RETENTION = timedelta(days=5 * 365)


@dataclass(frozen=True)
class Erasure:
    case_id: str
    was_running: bool
    key_destroyed: bool  # False: it already had been
    #: The organisations that held a role in the case at any time: they (and operators) are
    #: told the case was erased (410); everyone else that it does not exist (404).
    former_members: frozenset[str] = frozenset()


async def erase_case(
    client: Client, store: KeyStore, case_id: str, *, by: str, why: str
) -> Erasure:
    """Terminate the case's workflow if it runs, then destroy its data key.

    Before the key goes, the case's members at any time are read from its state and kept beside
    the destroyed key (:meth:`KeyStore.destroy`), so that former members and operators learn of
    the erasure (410) and no one else learns the case existed (issue 11). If the state cannot
    be read (already erased, no worker), none are kept: only operators then get 410.

    ``by`` names who asked (an operator's name or ``retention``); ``why`` is a category such as
    ``request`` or ``retention``: both are logged, so neither may carry personal data.
    """
    was_running = False
    handle = client.get_workflow_handle(case_id)
    state = await _state_of(handle)
    members = _members_ever(state)
    try:
        description = await handle.describe()
        if description.status is WorkflowExecutionStatus.RUNNING:
            # The reason is stored in the history in clear text: a fixed phrase only.
            await handle.terminate(reason="case erased")
            was_running = True
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    destroyed = store.destroy(case_id, former_members=members)
    forgotten = await _forget_in_linked_cases(client, case_id, state)
    log.info(
        "case erased",
        case_id=case_id,
        by=by,
        why=why,
        was_running=was_running,
        key_destroyed=destroyed,
        former_members=sorted(members),
        linked_cases_updated=forgotten,
    )
    return Erasure(case_id, was_running, destroyed, members)


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
    """Visibility query for cases that completed (closed) before ``cutoff``."""
    return (
        "WorkflowType = 'VictimCaseWorkflow' AND ExecutionStatus = 'Completed' "
        f"AND CloseTime < '{cutoff.isoformat()}'"
    )


async def erase_expired(
    client: Client, store: KeyStore, *, retention: timedelta, now: datetime
) -> list[str]:
    """Erase every case whose latest run closed more than ``retention`` before ``now``;
    returns their IDs.

    A case ID (the person's pseudonym) can have several runs: one per continue-as-new, a new
    one when the person is identified again after a closure, one left by a rejected
    re-identification. The visibility query finds old completed *runs*; a case is erased only
    if its *current* run is that run or is itself closed past retention, and never while a run
    of it is open (issue 12: retention must never touch a live case). A case that never had a
    data key has nothing to erase and is left alone, so that its person can still be
    identified (R1).
    """
    erased = []
    cutoff = now - retention
    seen: set[str] = set()
    async for execution in client.list_workflows(closed_cases_query(cutoff)):
        case_id = execution.id
        if case_id in seen or store.is_destroyed(case_id):
            continue
        seen.add(case_id)
        skipped = await _not_yet(client, store, case_id, cutoff)
        if skipped is not None:
            log.info("retention skipped", case_id=case_id, because=skipped)
            continue
        await erase_case(client, store, case_id, by="retention", why="retention")
        erased.append(case_id)
    return erased


async def _not_yet(client: Client, store: KeyStore, case_id: str, cutoff: datetime) -> str | None:
    """Why the case must not be erased now (a fixed phrase), or None if it may."""
    current = await client.get_workflow_handle(case_id).describe()
    if current.status is not WorkflowExecutionStatus.COMPLETED:
        # Running (re-identified, or continued as new), or ended some other way.
        return "its current run is not closed"
    if current.close_time is None or current.close_time >= cutoff:
        return "its latest run closed within the retention period"
    if not _has_data_key(store, case_id):
        return "it never had a data key"
    return None


def _has_data_key(store: KeyStore, case_id: str) -> bool:
    try:
        store.data_key_by_id(key_id_for(case_id))
    except UnknownKey:
        return False
    except CaseErased:
        return True
    return True
