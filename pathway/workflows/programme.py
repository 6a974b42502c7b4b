"""One register per programme (P1 asylum-procedure interviews, X1 prostitution-exit
support): a deterministic shell around :mod:`pathway.domain.programmes`."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pathway.domain.organisations import NOTIFICATION_QUEUE_PREFIX
    from pathway.domain.programmes import (
        Programme,
        ProgrammeEvent,
        ProgrammeResult,
        ProgrammeState,
        decide_programme,
    )
    from pathway.domain.rules import Rejection
    from pathway.domain.state import DeliveryOutcome, Notification
    from pathway.workflows.delivery import Deliveries
    from pathway.workflows.rejection import rejection_error


class RegisterInput(BaseModel):
    programme: Programme
    notification_queue_prefix: str = NOTIFICATION_QUEUE_PREFIX
    state: ProgrammeState | None = None


class RecordProgrammeEvent(BaseModel):
    event: ProgrammeEvent


@workflow.defn  # versioning behaviour: the worker's default (docs/versioning.md)
class ProgrammeRegisterWorkflow:
    """Runs for as long as the register is used (continuing as new when history grows)."""

    @workflow.init
    def __init__(self, start: RegisterInput) -> None:
        self._state = start.state or ProgrammeState(
            register_id=workflow.info().workflow_id,
            programme=start.programme,
        )
        self._deliveries = Deliveries(start.notification_queue_prefix, self._settle_notification)
        self._wake = False

    @workflow.run
    async def run(self, start: RegisterInput) -> None:
        while True:
            self._deliveries.dispatch(self._state.pending_notifications)
            if (
                workflow.info().is_continue_as_new_suggested()
                and not self._deliveries.in_flight
                and workflow.all_handlers_finished()
            ):
                workflow.continue_as_new(
                    RegisterInput(
                        programme=start.programme,
                        notification_queue_prefix=start.notification_queue_prefix,
                        state=self._state,
                    )
                )
            self._wake = False
            # No timer: history (and so the continue-as-new suggestion) only grows when an
            # update or a delivery wakes the register.
            await workflow.wait_condition(lambda: self._wake)

    def _settle_notification(self, notification: Notification, _outcome: DeliveryOutcome) -> None:
        # The register keeps no timeline: delivered or failed, a notification leaves the list.
        self._state.pending_notifications = [
            n
            for n in self._state.pending_notifications
            if n.idempotency_key != notification.idempotency_key
        ]
        self._wake = True

    def _decide(self, request: RecordProgrammeEvent) -> tuple[ProgrammeState, ProgrammeResult]:
        decision = decide_programme(self._state, request.event, workflow.now())
        if isinstance(decision, Rejection):
            raise rejection_error(decision)
        return decision

    @workflow.update
    def record(self, request: RecordProgrammeEvent) -> ProgrammeResult:
        state, result = self._decide(request)
        self._state = state
        self._wake = True
        return result

    @record.validator
    def _validate(self, request: RecordProgrammeEvent) -> None:
        self._decide(request)

    @workflow.query
    def state(self) -> ProgrammeState:
        return self._state
