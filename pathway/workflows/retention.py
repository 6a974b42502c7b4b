"""The retention sweep as a workflow, started hourly by a Temporal schedule, so it runs exactly
once per tick whichever worker is up, and its failures are visible and retried."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pathway.activities.retention import SweepReport, SweepRequest


@workflow.defn  # versioning behaviour: the worker's default (docs/versioning.md)
class RetentionSweepWorkflow:
    @workflow.run
    async def run(self, request: SweepRequest) -> SweepReport:
        report: SweepReport = await workflow.execute_activity(
            "sweep_retention",
            request,
            start_to_close_timeout=timedelta(minutes=30),
            result_type=SweepReport,
        )
        return report
