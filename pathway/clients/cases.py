"""Client-side operations on cases, shared by the operator CLI and the HTTP gateway.

Errors are typed so callers can tell a rule violation from an unknown case or a bad input, and
Temporal's "not now" from its silence and from its absence:

- :class:`CaseBusy`: Temporal refused the event for now and nothing was recorded (the server's
  limit of in-flight updates per workflow, RESOURCE_EXHAUSTED; an update aborted because the
  workflow was continuing as new or closing). Send it again in a moment.
- :class:`OutcomeUnknown`: the event was sent and no answer came in time; it may or may not have
  been recorded. Send it again with the same ``event_id`` (a repeat answers the first result).
- an :class:`~temporalio.service.RPCError` (UNAVAILABLE) or ``RuntimeError`` (no connection):
  Temporal cannot be reached.

A case's data key is made only by the identification that opens it (one key per episode,
issue 12): an event for a case is encoded only under a key that exists
(:func:`~pathway.privacy.codec.existing_keys_only`), so an event for an unknown case is
:class:`UnknownCase` and leaves no key behind; and an identification that would start a new
run (a new person, or one whose earlier episode closed or was erased) is checked by the rules
before anything is encoded for the case, so a rejected one makes no key (nor a run that waits
for nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Final, TypeVar

import structlog
from pydantic import ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from pathway.domain.config import CaseConfig
from pathway.domain.events import CaseEvent, Identified, RecordEvent
from pathway.domain.ids import case_id_for
from pathway.domain.membership import Membership, MembershipChange
from pathway.domain.organisations import CASE_TASK_QUEUE
from pathway.domain.rules import (
    RULE_ACCESS,
    Rejection,
    RejectionNote,
    admit,
    decide,
    unstated_refusal,
)
from pathway.domain.state import CaseStanding, CaseState, EventResult
from pathway.privacy.codec import CaseCodec, NoDataKey, existing_keys_only
from pathway.privacy.keys import CaseErased, Episode, KeyStore, case_of, episode_number
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.inputs import CaseInput
from pathway.workflows.rejection import EVENT_REJECTED

log = structlog.stdlib.get_logger("pathway.cases")

A = TypeVar("A")
R = TypeVar("R")


class CaseError(Exception):
    """Base of the errors a caller of this module can act on."""


@dataclass
class EventRejected(CaseError):
    """The event broke a rule (``rule`` is a rule ID of docs/rules.md or a service check) and
    changed nothing."""

    rule: str
    field: str | None
    reason: str

    def __str__(self) -> str:
        return Rejection(self.rule, self.field, self.reason).message()


class UnknownCase(CaseError):
    """No running case has this ID (never opened, closed, or erased)."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"unknown case {case_id!r} (not opened, or no longer running)")
        self.case_id = case_id


class CaseBusy(CaseError):
    """Temporal refused the event for now; nothing was recorded. Send it again (the same
    ``event_id``) in a moment."""

    def __init__(self, case_id: str) -> None:
        super().__init__(
            f"{case_id} is busy (more events at once than it takes, or it is continuing as "
            "new); nothing was recorded: send the event again in a moment"
        )
        self.case_id = case_id


class OutcomeUnknown(CaseError):
    """The event was sent but no answer came in time: it may or may not have been recorded.
    Send it again with the same ``event_id``."""

    def __init__(self, case_id: str) -> None:
        super().__init__(
            f"no answer from {case_id} in time: the event may or may not have been recorded; "
            "send it again with the same event_id (a repeat answers the first result)"
        )
        self.case_id = case_id


#: What the server says of an update it aborted, to be sent again (with gRPC status
#: UNAVAILABLE, which otherwise means the server cannot be reached): the workflow was
#: continuing as new or closing while the update waited.
_ABORTED: Final = ("update was aborted", "update registry was cleared", "workflow is closing")


def is_busy(err: RPCError) -> bool:
    """``err`` is Temporal saying "not now" (nothing was applied), not "I am not there":
    RESOURCE_EXHAUSTED (the in-flight update limit of a workflow, a rate limit, a workflow that
    is closing), or an update aborted around continue-as-new."""
    if err.status is RPCStatusCode.RESOURCE_EXHAUSTED:
        return True
    return err.status is RPCStatusCode.UNAVAILABLE and any(m in err.message for m in _ABORTED)


@contextlib.contextmanager
def update_outcomes(case_id: str) -> Iterator[None]:
    """Inside, Temporal's "not now" for an update of workflow ``case_id`` (a case or a
    register) is :class:`CaseBusy` and its silence :class:`OutcomeUnknown`; being unreachable
    stays an ``RPCError``."""
    try:
        yield
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:
        raise OutcomeUnknown(case_id) from err
    except RPCError as err:
        if is_busy(err):
            raise CaseBusy(case_id) from err
        raise


def _from_update_failure(err: WorkflowUpdateFailedError) -> CaseError | None:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == EVENT_REJECTED:
        details = cause.details[0] if cause.details else {}
        if isinstance(details, dict):
            return EventRejected(
                rule=str(details.get("rule", "?")),
                field=details.get("field"),
                reason=str(details.get("reason", cause.message)),
            )
        return EventRejected(rule="?", field=None, reason=cause.message)
    return None


@contextlib.contextmanager
def rejections_raised() -> Iterator[None]:
    """Inside, a rule rejection of an update surfaces as :class:`EventRejected`."""
    try:
        yield
    except WorkflowUpdateFailedError as err:
        raise (_from_update_failure(err) or err) from err


def new_link_secret() -> str:
    """A case's random link secret (64 hex characters, 256 bits from the OS), from which the
    IDs of the cases it opens derive (R1, :func:`pathway.domain.ids.linked_case_id`). Made
    here, by the client that opens the case, never in the workflow."""
    return secrets.token_hex(32)


async def open_case(
    client: Client,
    event: Identified,
    *,
    pepper: bytes,
    config: CaseConfig | None = None,
    task_queue: str = CASE_TASK_QUEUE,
) -> tuple[str, EventResult]:
    """Open (or rejoin) the case of the identified person, with update-with-start so that two
    identifications of the same person meet in one workflow (R1).

    A person's case has episodes (issue 12, :class:`~pathway.privacy.keys.Episode`): while its
    current run is running, an identification joins it (the workflow's rules decide); when the
    person has no running case (never identified, the earlier episode closed, or erased) the
    identification opens a new episode, with a key of its own, in a new run. That new-run path
    is checked by the rules first (:func:`~pathway.domain.rules.decide` on no state, as the new
    run's validator will): a rejected identification is :class:`EventRejected` before anything
    is encoded, so it makes no key, opens no episode and starts no run (issue 12 item 3). R1
    always holds: an erased person identified again gets a new episode, never a refusal.
    """
    case_id = case_id_for(event.subject_ref, pepper)
    store = _key_store(client)
    for _ in range(JOIN_ATTEMPTS - 1):
        try:
            return case_id, await _identify(
                client, store, case_id, event, config=config, task_queue=task_queue
            )
        except WorkflowAlreadyStartedError:
            continue  # the run it was to join closed meanwhile: look again
    return case_id, await _identify(
        client, store, case_id, event, config=config, task_queue=task_queue
    )


#: How often an identification looks for the person's running case when the run it was to
#: join closed before the identification reached it (each look after sees the closure).
JOIN_ATTEMPTS: Final = 3


async def _identify(
    client: Client,
    store: KeyStore | None,
    case_id: str,
    event: Identified,
    *,
    config: CaseConfig | None,
    task_queue: str,
) -> EventResult:
    """One attempt of :func:`open_case`. Joining a running run, the start may not make a new
    run (``REJECT_DUPLICATE``: Temporal refuses, atomically, to start one where a run of the ID
    existed): if that run closed since it was seen running, the identification would otherwise
    start a new run in the closed episode, under its key. Temporal refuses with
    :class:`WorkflowAlreadyStartedError`, and :func:`open_case` looks again, sees the closure
    and opens the next episode (issue 12 item 1)."""
    episode, joins = None, False
    if store is not None:
        episode, joins = await _open_episode_if_needed(client, store, case_id, event, config)
    start = WithStartWorkflowOperation(
        VictimCaseWorkflow.run,
        # A fresh secret for every start: only the run that the identification opens keeps it
        # (a repeat joins the running case, whose state has its own). The run is the episode's:
        # its payloads are sealed under that episode's key (pathway.privacy.sealing).
        CaseInput(config=config or CaseConfig(), link_secret=new_link_secret(), episode=episode),
        id=case_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=(
            WorkflowIDReusePolicy.REJECT_DUPLICATE
            if joins
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE
        ),
    )
    with update_outcomes(case_id), rejections_raised():
        return await client.execute_update_with_start_workflow(
            VictimCaseWorkflow.record_event,
            RecordEvent(event=event),
            start_workflow_operation=start,
        )


@dataclass(frozen=True)
class CurrentRun:
    """The run a case ID names now (its latest), as :func:`current_run` found it."""

    run_id: str
    status: WorkflowExecutionStatus
    close_time: datetime | None

    @property
    def running(self) -> bool:
        return self.status is WorkflowExecutionStatus.RUNNING


async def current_run(client: Client, case_id: str) -> CurrentRun | None:
    """The case's current run (None if Temporal has no run of it: never started, or its
    history is gone)."""
    try:
        description = await client.get_workflow_handle(case_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    status = description.status or WorkflowExecutionStatus.RUNNING
    return CurrentRun(description.run_id, status, description.close_time)


async def _open_episode_if_needed(
    client: Client,
    store: KeyStore,
    case_id: str,
    event: Identified,
    config: CaseConfig | None,
) -> tuple[int, bool]:
    """Before an identification: if the person has no running case, check it by the rules
    (:class:`EventRejected` if refused) and open the next episode (issue 12). Returns the
    episode the identification belongs to, and whether it joins a running run (True: the
    running one's episode) or starts the episode's first (False: the one opened)."""
    episodes = await asyncio.to_thread(store.episodes, case_id)
    latest = episodes[-1] if episodes else None
    run = None
    if latest is not None and not latest.erased:
        run = await current_run(client, case_id)
        if run is not None and run.running:
            return latest.number, True  # joins the running case: its workflow decides
    # The admission checks too (as the case's validator makes them): a refused identification
    # makes no key, nor a run that waits for nothing.
    now = datetime.now(UTC)
    decision = admit(
        None, event, now, partial(decide, None, event, now, case_id=case_id, config=config)
    )
    if isinstance(decision, Rejection):
        raise EventRejected(decision.rule, decision.field, decision.reason)
    if latest is not None and not latest.erased and _not_started(episodes, run):
        # A concurrent identification opened this episode and has not started its run yet:
        # this one belongs to the same episode (and starts or joins that run), rather than
        # opening another whose key the run would refuse (CI: two authorities at once).
        return latest.number, False
    opened = await asyncio.to_thread(
        store.open_episode,
        case_id,
        after=0 if latest is None else latest.number,
        closed_at=None if run is None else run.close_time,
        closed_run=None if run is None else run.run_id,
    )
    return opened.number, False


def _not_started(episodes: list[Episode], run: CurrentRun | None) -> bool:
    """The newest episode has no run of its own yet: Temporal has no run of the case, or the
    run it has is the one the previous episode was recorded closing with."""
    if run is None:
        return True
    return len(episodes) >= 2 and episodes[-2].closed_run == run.run_id


def _key_store(client: Client) -> KeyStore | None:
    """The key store of the client's codec (None without the project's codec)."""
    codec = client.data_converter.payload_codec
    return codec.store if isinstance(codec, CaseCodec) else None


async def case_episodes(client: Client, case_id: str) -> list[Episode]:
    """The case's episodes, oldest first (issue 12); empty without the project's codec or for
    a case never opened."""
    store = _key_store(client)
    return [] if store is None else await asyncio.to_thread(store.episodes, case_id)


async def record_event(
    client: Client, case_id: str, event: CaseEvent, *, sender: str | None = None
) -> EventResult:
    """Send one event to a running case; returns only once the workflow accepted it durably.

    ``sender`` (the authenticated role, ``"operator"`` or an organisation's) has the case check
    that it may send the event as the membership stands when the event arrives: if not,
    :class:`EventRejected` with rule ``ACCESS`` and field ``organisation`` (no member) or
    ``type`` (issue 11; :func:`pathway.access.policy.send_refusal`).

    An event the case's rules reject (:class:`EventRejected` with any rule but ``ACCESS``) is
    noted in the case before the error is raised (:func:`note_rejection`: metadata only, for
    the timeline, issue 17 item 3); an ``ACCESS`` refusal never is.

    A case without a data key was never opened: :class:`UnknownCase`, without asking Temporal
    and without making a key. :class:`CaseBusy` and :class:`OutcomeUnknown` as above.

    A ``safe_accommodation_placed`` that does not state ``preliminary_programme`` is refused
    here, before the case is asked (S1; :func:`~pathway.domain.rules.admission.unstated_refusal`:
    the workflow decodes the field's default as if stated), and noted as the case's refusals
    are."""
    try:
        unstated = unstated_refusal(event)
        if unstated is not None:
            raise EventRejected(unstated.rule, unstated.field, unstated.reason)
        return await _update(
            client,
            case_id,
            VictimCaseWorkflow.record_event,
            RecordEvent(event=event, sender=sender),
        )
    except EventRejected as err:
        if err.rule != RULE_ACCESS:
            await note_rejection(client, case_id, event, err, sender=sender)
        raise


async def note_rejection(
    client: Client,
    case_id: str,
    event: CaseEvent,
    rejection: EventRejected,
    *,
    sender: str | None = None,
) -> bool:
    """Note in the case that its rules rejected ``event`` (the case workflow's
    ``note_rejection`` update; :func:`pathway.domain.rules.note_rejection`): the event's ID and
    type, its organisation, and the rule, field and reason of ``rejection``; none of the
    event's values. ``sender`` as for :func:`record_event`: the case refuses the note of a
    sender that is no member or may not send the event (rule ``ACCESS``), as it refuses an
    ``ACCESS`` rejection itself (R6: what may not be sent to a case leaves nothing in it).

    Best effort, for the timeline only: True if the case noted it now; False if it was noted
    already, or could not be noted (refused, a case that is gone, busy or not answering, an
    older worker without the update), which is logged with codes only and never hides the
    rejection from its sender."""
    try:
        note = RejectionNote(
            event_id=event.event_id,
            event_type=event.type,
            organisation=event.organisation,
            rule=rejection.rule,
            field=rejection.field,
            reason=rejection.reason[:500],
            sender=sender,
        )
    except ValidationError:
        log.warning("rejection not noted", case_id=case_id, rule=rejection.rule, error="shape")
        return False
    try:
        return await _update(client, case_id, VictimCaseWorkflow.note_rejection, note)
    except (CaseError, RPCError, WorkflowUpdateFailedError, CaseErased) as err:
        log.warning(
            "rejection not noted",
            case_id=case_id,
            rule=rejection.rule,
            error=type(err).__name__,
        )
        return False


async def change_membership(
    client: Client, case_id: str, change: MembershipChange
) -> list[Membership]:
    """The operator adds or removes a member of a running case, with a reason (MEMBERS;
    :func:`pathway.domain.rules.decide_membership`); returns every membership record of the
    case after the change. Callers check that the caller is an operator (the CLI does).

    Raises :class:`EventRejected` (rule ``MEMBERS`` and the field: a role given only by rules,
    an analyst, no reason, a role already held or not held; ``CASE``: a closed case), which
    changed nothing; :class:`UnknownCase`, :class:`CaseBusy`, :class:`OutcomeUnknown` as
    :func:`record_event` does."""
    return await _update(client, case_id, VictimCaseWorkflow.change_membership, change)


async def forget_linked_case(client: Client, case_id: str, erased_case_id: str) -> bool:
    """Remove every trace of the erased case ``erased_case_id`` from the state of the running
    case ``case_id`` that it is linked to (issue 11 item 6: ``linked_cases``, the accompanying
    children's ``own_case_id``, ``pending_case_starts``, timeline mentions). True if something
    was removed, False if the case held no trace of it (idempotent: calling again is a no-op).

    Raises :class:`UnknownCase` for a case that is not running (never opened, closed, or
    erased itself: then there is no state left to change), :class:`CaseBusy` and
    :class:`OutcomeUnknown` as :func:`record_event` does (both safe to retry)."""
    return await _update(client, case_id, VictimCaseWorkflow.forget_linked_case, erased_case_id)


async def _update(
    client: Client,
    case_id: str,
    update: UpdateMethodMultiParam[[VictimCaseWorkflow, A], R],
    arg: A,
) -> R:
    """Run ``update`` of the running case ``case_id`` with ``arg``; the errors of
    :func:`record_event`."""
    handle: WorkflowHandle[VictimCaseWorkflow, object] = client.get_workflow_handle_for(
        VictimCaseWorkflow.run, case_id
    )
    with _opened_case(case_id), existing_keys_only(), update_outcomes(case_id), rejections_raised():
        return await handle.execute_update(update, arg)


@contextlib.contextmanager
def _opened_case(case_id: str) -> Iterator[None]:
    """Inside, a case never opened raises :class:`UnknownCase`: the codec has no data key for
    it (:class:`NoDataKey`, under :func:`existing_keys_only`), or Temporal has no such
    workflow (``NOT_FOUND``). Every other error passes unchanged."""
    try:
        yield
    except NoDataKey as err:
        raise UnknownCase(case_id) from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise UnknownCase(case_id) from err
        raise


def _refuse_if_erased(client: Client, case_id: str) -> None:
    codec = client.data_converter.payload_codec
    if isinstance(codec, CaseCodec) and codec.store.is_destroyed(case_id):
        raise CaseErased(case_id)


async def case_state(client: Client, case_id: str) -> CaseState:
    """The whole case, read from the running (or completed) workflow.

    Raises :class:`UnknownCase`, or ``CaseErased`` for an erased case (whose history no worker
    can decode any more).
    """
    _refuse_if_erased(client, case_id)
    return await _query_state(client, case_id)


async def case_standing(client: Client, case_id: str, organisation: str) -> CaseStanding:
    """``organisation``'s standing in the case (its phase and the organisation's roles in it,
    :class:`~pathway.domain.state.CaseStanding`), read from the running (or completed)
    workflow's ``standing`` query: what the gateway checks before an event, without the whole
    state (issue 14). Raises as :func:`case_state` does."""
    _refuse_if_erased(client, case_id)
    handle = client.get_workflow_handle_for(VictimCaseWorkflow.run, case_id)
    # The argument is sealed under the case's key: a case never opened gets none made.
    with _opened_case(case_id), existing_keys_only():
        standing = await handle.query(VictimCaseWorkflow.standing, organisation)
    if standing is None:
        raise UnknownCase(case_id)
    return standing


async def _query_state(client: Client, case_id: str, run_id: str | None = None) -> CaseState:
    """The state query of the case's run ``run_id`` (its current run if None)."""
    handle = client.get_workflow_handle_for(VictimCaseWorkflow.run, case_id, run_id=run_id)
    with _opened_case(case_id):
        state = await handle.query(VictimCaseWorkflow.state)
    if state is None:
        raise UnknownCase(case_id)
    return state


async def episode_state(client: Client, ref: str) -> CaseState:
    """The state of one episode of a case (issue 12). ``ref`` is ``<case>/e<N>``
    (:func:`~pathway.privacy.keys.episode_ref`), or a case ID for its current episode.

    The case's latest episode is read from its current run (:func:`case_state`); an earlier one
    from the run it closed with, recorded when the next episode opened (``Episode.closed_run``;
    queried by run ID, so never from a later episode's run). Raises :class:`UnknownCase` for an
    episode this key store does not know or whose last run it did not record, and as
    :func:`case_state` does."""
    case_id = case_of(ref)
    store = _key_store(client)
    if ref == case_id or store is None:
        return await case_state(client, case_id)
    number = episode_number(ref)
    episodes = await asyncio.to_thread(store.episodes, case_id)
    if episodes and episodes[-1].number == number:
        return await case_state(client, case_id)
    episode = next((e for e in episodes if e.number == number), None)
    if episode is None or episode.closed_run is None:
        raise UnknownCase(case_id)
    _refuse_if_erased(client, episode.ref)
    return await _query_state(client, case_id, episode.closed_run)


async def is_running(client: Client, case_id: str) -> bool:
    desc = await client.get_workflow_handle(case_id).describe()
    return desc.status is WorkflowExecutionStatus.RUNNING
