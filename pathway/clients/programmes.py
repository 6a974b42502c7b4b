"""Client-side operations on the programme registers (P1, X1), shared by the CLI and gateway."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from pathway.clients.cases import EventRejected, open_case, rejections_raised, update_outcomes
from pathway.domain.config import CaseConfig
from pathway.domain.events import Identified
from pathway.domain.organisations import CASE_TASK_QUEUE, NOTIFICATION_QUEUE_PREFIX
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import PersonFacts
from pathway.domain.programmes import (
    PatsInterviewRecorded,
    Programme,
    ProgrammeEvent,
    ProgrammeResult,
    ProgrammeState,
    register_id,
    register_of,
)
from pathway.workflows.inputs import RecordProgrammeEvent, RegisterInput
from pathway.workflows.programme import ProgrammeRegisterWorkflow


async def record_programme_event(
    client: Client,
    event: ProgrammeEvent,
    *,
    task_queue: str = CASE_TASK_QUEUE,
    notification_queue_prefix: str = NOTIFICATION_QUEUE_PREFIX,
) -> ProgrammeResult:
    """Record one event in its programme's register (started on first use). Temporal's "not
    now" is :class:`~pathway.clients.cases.CaseBusy`, its silence
    :class:`~pathway.clients.cases.OutcomeUnknown`, as for a case."""
    register = register_of(event)
    start = WithStartWorkflowOperation(
        ProgrammeRegisterWorkflow.run,
        RegisterInput(
            programme=event.programme, notification_queue_prefix=notification_queue_prefix
        ),
        id=register,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    with update_outcomes(register), rejections_raised():
        return await client.execute_update_with_start_workflow(
            ProgrammeRegisterWorkflow.record,
            RecordProgrammeEvent(event=event),
            start_workflow_operation=start,
        )


async def register_state(client: Client, programme: Programme) -> ProgrammeState:
    """The register of ``programme`` as its workflow holds it (the ``state`` query); an empty
    register if it was never started (its first event starts it)."""
    register = register_id(programme)
    try:
        return await client.get_workflow_handle(register).query(ProgrammeRegisterWorkflow.state)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return ProgrammeState(register_id=register, programme=programme)
        raise


class SuspectedVictim(BaseModel):
    """Who the case is opened for when a PATS interview raises suspicion. Kept out of the
    register: it goes only into the person's own case (where erasure can reach it)."""

    model_config = ConfigDict(extra="forbid")

    subject_ref: str = Field(min_length=1, max_length=200)
    person: PersonFacts


class PatsInterviewReport(BaseModel):
    """P1: the interview for the register and, on suspicion, the person to open a case for."""

    model_config = ConfigDict(extra="forbid")

    interview: PatsInterviewRecorded
    suspected_victim: SuspectedVictim | None = None


async def report_pats_interview(
    client: Client,
    report: PatsInterviewReport,
    *,
    pepper: bytes,
    config: CaseConfig | None = None,
    task_queue: str = CASE_TASK_QUEUE,
) -> tuple[ProgrammeResult, str | None]:
    """P1: count the interview; on suspicion UOIM is notified (by the register) and the case is
    opened (R1). Both steps are idempotent on the interview's event_id, so a retry after a
    failure in between completes the pair."""
    interview = report.interview
    if interview.suspicion and report.suspected_victim is None:
        raise EventRejected(
            "P1", "suspected_victim", "a suspicion needs the person the case is opened for"
        )
    prefix = (config or CaseConfig()).notification_queue_prefix
    result = await record_programme_event(
        client, interview, task_queue=task_queue, notification_queue_prefix=prefix
    )
    if not interview.suspicion or report.suspected_victim is None:
        return result, None
    victim = report.suspected_victim
    identified = Identified(
        event_id=f"{interview.event_id}/case",
        organisation=Org.UOIM,
        actor=interview.actor,
        occurred_at=interview.occurred_at,
        subject_ref=victim.subject_ref,
        person=victim.person,
        found_in="asylum_procedure_interview",
        reason="suspicion raised in an asylum-procedure interview (P1)",
    )
    case_id, _ = await open_case(
        client, identified, pepper=pepper, config=config, task_queue=task_queue
    )
    return result, case_id
