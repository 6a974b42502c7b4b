"""One register per programme (P1 asylum-procedure interviews, X1 prostitution-exit
support): a deterministic shell around :mod:`pathway.domain.programmes`.

Live patches (``workflow.patched``; docs/versioning.md), with the date each was deployed:

- ``programme-statistics-ledger`` (not deployed yet): the register writes its statistics facts
  (:func:`pathway.domain.ledger.register_facts`) to the ledger through the case workflow's
  ``record_statistics`` activity (issue 15, docs/statistics.md).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import VersioningBehavior
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pathway.domain.ledger import StatisticsBatch, StatisticsFact, register_facts
    from pathway.domain.programmes import (
        ProgrammeResult,
        ProgrammeState,
        decide_programme,
    )
    from pathway.domain.rules import Rejection
    from pathway.domain.state import DeliveryOutcome, Notification
    from pathway.workflows.case import STATISTICS_RETRY, STATISTICS_TIMEOUT
    from pathway.workflows.delivery import Deliveries
    from pathway.workflows.inputs import RecordProgrammeEvent, RegisterInput
    from pathway.workflows.rejection import rejection_error

#: At most this many facts per ``record_statistics`` activity: a register holds every
#: interview and enrolment of every year, and its next run after continue-as-new stores them
#: all again once (the ledger keeps one record per fact), in batches of this size.
STATISTICS_BATCH = 200


@workflow.defn  # no versioning behaviour: VersionedProgrammeRegisterWorkflow below declares it
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
        # Histories recorded before the register wrote statistics (issue 15) schedule no
        # activity: they replay unchanged; a run started since writes its facts.
        self._statistics_ledger = workflow.patched("programme-statistics-ledger")
        #: The keys of the facts this run has stored, the write in flight, and the state the
        #: facts were last derived from (as in the case workflow).
        self._ledgered: set[str] = set()
        self._ledger_write: asyncio.Task[None] | None = None
        self._ledger_seen: ProgrammeState | None = None

    @workflow.run
    async def run(self, start: RegisterInput) -> None:
        while True:
            self._deliveries.dispatch(self._state.pending_notifications)
            self._dispatch_statistics(self._state)
            if (
                workflow.info().is_continue_as_new_suggested()
                and not self._deliveries.in_flight
                and self._ledger_write is None
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

    def _dispatch_statistics(self, state: ProgrammeState) -> None:
        """Store the facts of ``state`` this run has not stored yet (patch
        ``programme-statistics-ledger``): one ``record_statistics`` activity at a time, at most
        :data:`STATISTICS_BATCH` facts each, on the register's task queue (the case task queue,
        whose worker holds the activity); the rest follow when it is done."""
        if not self._statistics_ledger or self._ledger_write is not None:
            return
        if state is self._ledger_seen:
            return
        self._ledger_seen = state
        facts = [f for f in register_facts(state) if f.key not in self._ledgered]
        if facts:
            self._ledger_write = asyncio.create_task(
                self._record_statistics(facts[:STATISTICS_BATCH])
            )

    async def _record_statistics(self, facts: list[StatisticsFact]) -> None:
        try:
            await workflow.execute_activity(
                "record_statistics",
                StatisticsBatch(facts=facts),
                start_to_close_timeout=STATISTICS_TIMEOUT,
                retry_policy=STATISTICS_RETRY,
            )
            self._ledgered.update(f.key for f in facts)
            # Derive again: the rest of a large state, or what changed meanwhile.
            self._ledger_seen = None
        except ActivityError as err:
            # Only a non-retryable failure ends up here; the next state change tries again.
            workflow.logger.error(
                "statistics not recorded",
                extra={"register_id": self._state.register_id, "error": type(err.cause).__name__},
            )
        self._ledger_write = None
        self._wake = True

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


@workflow.defn(
    name="ProgrammeRegisterWorkflow", versioning_behavior=VersioningBehavior.AUTO_UPGRADE
)
class VersionedProgrammeRegisterWorkflow(ProgrammeRegisterWorkflow):
    """The same workflow type for a versioned worker (Worker Versioning, docs/versioning.md),
    declaring its behaviour: a register lives as long as its programme, as a case does. An
    unversioned worker (``pathway dev``) registers the base class, which declares none: the SDK
    sends a declared behaviour with every workflow task, and the server refuses one from an
    unversioned worker."""

    @workflow.run
    async def run(self, start: RegisterInput) -> None:
        await super().run(start)
