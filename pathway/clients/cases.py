"""Client-side operations on cases, shared by the operator CLI and the HTTP gateway.

Errors are typed so callers can tell a rule violation from an unknown case or a bad input.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from pathway.domain.config import CaseConfig
from pathway.domain.events import CaseEvent, Identified, RecordEvent
from pathway.domain.ids import case_id_for
from pathway.domain.organisations import CASE_TASK_QUEUE
from pathway.domain.rules import Rejection
from pathway.domain.state import CaseState, EventResult
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import CaseErased
from pathway.workflows.case import CaseInput, VictimCaseWorkflow
from pathway.workflows.rejection import EVENT_REJECTED


class CaseError(Exception):
    """Base of the errors a caller of this module can act on."""


@dataclass
class EventRejected(CaseError):
    """The event broke a rule (``rule`` is a SPEC rule ID or a service check) and changed
    nothing."""

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


async def open_case(
    client: Client,
    event: Identified,
    *,
    pepper: bytes,
    config: CaseConfig | None = None,
    task_queue: str = CASE_TASK_QUEUE,
) -> tuple[str, EventResult]:
    """Open (or rejoin) the case of the identified person, with update-with-start so that two
    identifications of the same person meet in one workflow (R1)."""
    case_id = case_id_for(event.subject_ref, pepper)
    start = WithStartWorkflowOperation(
        VictimCaseWorkflow.run,
        CaseInput(config=config or CaseConfig()),
        id=case_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    with rejections_raised():
        result = await client.execute_update_with_start_workflow(
            VictimCaseWorkflow.record_event,
            RecordEvent(event=event),
            start_workflow_operation=start,
        )
    return case_id, result


async def record_event(client: Client, case_id: str, event: CaseEvent) -> EventResult:
    """Send one event to a running case; returns only once the workflow accepted it durably."""
    handle: WorkflowHandle[VictimCaseWorkflow, object] = client.get_workflow_handle_for(
        VictimCaseWorkflow.run, case_id
    )
    try:
        with rejections_raised():
            return await handle.execute_update(
                VictimCaseWorkflow.record_event, RecordEvent(event=event)
            )
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
    handle = client.get_workflow_handle_for(VictimCaseWorkflow.run, case_id)
    try:
        state = await handle.query(VictimCaseWorkflow.state)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise UnknownCase(case_id) from err
        raise
    if state is None:
        raise UnknownCase(case_id)
    return state


async def is_running(client: Client, case_id: str) -> bool:
    desc = await client.get_workflow_handle(case_id).describe()
    return desc.raw_description.workflow_execution_info.status == (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    )
