"""The case workflow as cases running before a patch recorded it, to record their histories
for the replay corpus (docs/versioning.md): each class answers its patch as a history from
before the patch does, without asking it. A module of its own, imported by the workflow
sandbox with nothing else of the tests."""

from __future__ import annotations

from temporalio import workflow

from pathway.workflows.case import VictimCaseWorkflow

with workflow.unsafe.imports_passed_through():
    from pathway.domain.state import CaseState
    from pathway.workflows.inputs import CaseInput, CaseOutcome


@workflow.defn(name="VictimCaseWorkflow")
class CaseBeforePermitsRestoredMoot(VictimCaseWorkflow):
    """Before the patch ``s3-permits-restored-moot``: never asked, every event decided under
    its old branch (an extension leaves S3's lapse open; no lapse notice is moot)."""

    def _permits_restored_moot(
        self, state: CaseState | None, *, ask: bool, event_type: str = ""
    ) -> bool | None:
        return False

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        return await super().run(start)


@workflow.defn(name="VictimCaseWorkflow")
class CaseIgnoringPermitsRestoredMoot(VictimCaseWorkflow):
    """A wrong change, for the test that the corpus catches it (tests/test_replay.py): the
    patch ``s3-permits-restored-moot``'s new branch taken without asking the patch, as if
    its answer were ignored."""

    def _permits_restored_moot(
        self, state: CaseState | None, *, ask: bool, event_type: str = ""
    ) -> bool | None:
        return super()._permits_restored_moot(state, ask=False, event_type=event_type)

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        return await super().run(start)
