"""The retention sweep as a workflow, started hourly by a Temporal schedule, so it runs exactly
once per tick whichever worker is up, and its failures are visible and retried."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from pathway.activities.retention import SweepReport, SweepRequest


@workflow.defn  # no versioning behaviour: VersionedRetentionSweepWorkflow below declares it
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


@workflow.defn(name="RetentionSweepWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class VersionedRetentionSweepWorkflow(RetentionSweepWorkflow):
    """The same workflow type for a versioned worker (Worker Versioning, docs/versioning.md),
    declaring its behaviour: an hourly sweep is done in minutes and finishes on the build that
    started it. An unversioned worker (``pathway dev``) registers the base class, which
    declares none: the SDK sends a declared behaviour with every workflow task, and the server
    refuses one from an unversioned worker."""

    @workflow.run
    async def run(self, request: SweepRequest) -> SweepReport:
        return await super().run(request)
