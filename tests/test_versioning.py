"""The replay net catches an incompatible workflow change, and a patch makes the same change safe.

The changed workflows live here, never in ``workflows/``: each is ``VictimCaseWorkflow``,
registered under the same workflow type name, with one timer inserted where every stored history
passes (the very start of a case, before its first notification). That is the kind of change
docs/versioning.md says must go behind ``workflow.patched``; these tests prove the corpus in
tests/histories/ would stop it otherwise, and walk the patch through its life (patched →
deprecated → removed).
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import timedelta

from temporalio import activity, workflow

# This module is imported again inside the workflow sandbox: everything but the workflow API
# passes through, as in pathway/workflows/case.py.
with workflow.unsafe.imports_passed_through():
    from pathlib import Path

    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.api.history.v1 import HistoryEvent
    from temporalio.client import WorkflowHistory
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Replayer, Worker

    from pathway.clients import cases
    from pathway.domain.config import CaseConfig
    from pathway.domain.events import Identified
    from pathway.domain.ledger import StatisticsBatch
    from pathway.domain.organisations import NOTIFIED, notification_task_queue
    from pathway.domain.state import DeliveryOutcome, Notification
    from pathway.temporal_connection import data_converter
    from pathway.workflows.case import VictimCaseWorkflow
    from pathway.workflows.inputs import CaseInput, CaseOutcome
    from tests.factories import EU_ADULT, event
    from tests.harness import PEPPER
    from tests.keys import TEST_KEYS
    from tests.receivers import eventually
    from tests.test_replay import REPLAY_DEBUG, WORKFLOW_IDS

# The case histories of the corpus (the programme register is another workflow type).
HISTORIES = sorted(
    p
    for p in (Path(__file__).parent / "histories").glob("*.json")
    if not p.stem.startswith("programme-")
)
IDS = [p.stem for p in HISTORIES]
PATCH_ID = "versioning-test-grace-period"
#: A new rule, for the test's sake: every case waits a minute before it starts its work.
GRACE = timedelta(minutes=1)


@workflow.defn(name="VictimCaseWorkflow")
class GraceUnpatched(VictimCaseWorkflow):
    """The grace timer added as it would be without thinking of running cases: no patch."""

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        await workflow.sleep(GRACE)
        return await super().run(start)


@workflow.defn(name="VictimCaseWorkflow")
class GracePatched(VictimCaseWorkflow):
    """The same timer behind ``workflow.patched``: cases started before it replay the old way."""

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        if workflow.patched(PATCH_ID):
            await workflow.sleep(GRACE)
        return await super().run(start)


@workflow.defn(name="VictimCaseWorkflow")
class GraceDeprecated(VictimCaseWorkflow):
    """Retiring the patch: the timer is unconditional and ``deprecate_patch`` keeps histories
    that recorded the patch marker replaying."""

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        workflow.deprecate_patch(PATCH_ID)
        await workflow.sleep(GRACE)
        return await super().run(start)


@workflow.defn(name="VictimCaseWorkflow")
class GraceRemoved(VictimCaseWorkflow):
    """The patch retired for good: the timer stays, no patch call is left."""

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        await workflow.sleep(GRACE)
        return await super().run(start)


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(WORKFLOW_IDS.get(path.stem, path.stem), path.read_text())


async def replay(workflow_cls: type, history: WorkflowHistory) -> None:
    """Replay ``history`` with ``workflow_cls`` as the case workflow; raises on any failure."""
    replayer = Replayer(
        workflows=[workflow_cls], data_converter=data_converter(TEST_KEYS), debug_mode=REPLAY_DEBUG
    )
    await replayer.replay_workflow(history, raise_on_replay_failure=True)


def first_task_events(history: WorkflowHistory) -> set[int]:
    """The IDs of the events the case's first workflow task recorded (its first commands)."""
    ids: set[int] = set()
    completed = False
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            completed = True
        elif completed and e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            break
        elif completed:
            ids.add(e.event_id)
    return ids


#: What the SDK core reports when the code's commands do not match the recorded events.
#: The core names the recorded event the commands no longer match, or, when that event is a
#: patch marker (a case recorded under patches), the patch whose marker it is.
NONDETERMINISM = re.compile(
    r"\[TMPRL1100\] Nondeterminism error: (?:.*HistoryEvent\(id: (\d+),"
    r"|Non-deprecated patch marker encountered for change ([\w-]+))"
)


def patched_in(history: WorkflowHistory, events: set[int]) -> set[str]:
    """The patch IDs whose markers are among ``events``."""
    found = set()
    for e in history.events:
        if e.event_id in events and e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads:
                found.add(json.loads(payload.data)["id"])
    return found


class TestReplayNet:
    def test_the_net_holds_every_stored_history(self) -> None:
        """The corpus these tests replay is the one tests/test_replay.py keeps green."""
        assert len(HISTORIES) >= 3

    @pytest.mark.parametrize("path", HISTORIES, ids=IDS)
    async def test_unpatched_change_fails_replay_with_nondeterminism(self, path: Path) -> None:
        """A timer inserted without a patch fails replay of the stored history with a
        non-determinism error at the case's first workflow task."""
        history = load(path)
        with pytest.raises(workflow.NondeterminismError, match=NONDETERMINISM) as failed:
            await replay(GraceUnpatched, history)
        found = NONDETERMINISM.search(str(failed.value))
        assert found is not None
        first = first_task_events(history)
        assert int(found[1]) in first if found[1] else found[2] in patched_in(history, first)

    @pytest.mark.parametrize("path", HISTORIES, ids=IDS)
    async def test_patched_change_replays_cleanly(self, path: Path) -> None:
        """The same timer behind ``workflow.patched`` replays the stored history cleanly."""
        await replay(GracePatched, load(path))


@activity.defn(name="notify")
async def delivered(notification: Notification) -> DeliveryOutcome:
    """A stub of the notify activity: every notification is delivered at once."""
    return DeliveryOutcome(
        idempotency_key=notification.idempotency_key,
        recipient=notification.recipient,
        channel="stub",
    )


@activity.defn(name="record_statistics")
async def ledgered(batch: StatisticsBatch) -> int:
    """A stub of the statistics activity (issue 15): every fact is stored at once."""
    return len(batch.facts)


async def record_case_with(workflow_cls: type, env: WorkflowEnvironment) -> WorkflowHistory:
    """Run one case with ``workflow_cls`` past the grace period and return its history."""
    queue = f"versioning-{uuid.uuid4()}"
    config = CaseConfig(notification_queue_prefix=f"{queue}-notify", upsert_search_attributes=False)
    workers = [
        Worker(env.client, task_queue=queue, workflows=[workflow_cls], activities=[ledgered])
    ]
    workers += [
        Worker(
            env.client,
            activities=[delivered],
            task_queue=notification_task_queue(org, config.notification_queue_prefix),
        )
        for org in NOTIFIED
    ]
    ident = event(
        "identified",
        await env.get_current_time(),
        person=dict(EU_ADULT),
        subject_ref=f"versioning-{uuid.uuid4()}",
    )
    assert isinstance(ident, Identified)
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        case_id, _ = await cases.open_case(
            env.client, ident, pepper=PEPPER, config=config, task_queue=queue
        )
        await env.sleep(GRACE * 2)

        async def notified() -> bool:
            state = await cases.case_state(env.client, case_id)
            return state.notifications_sent > 0 and not state.pending_notifications

        await eventually(notified)
        return await env.client.get_workflow_handle(case_id).fetch_history()


def patch_markers(history: WorkflowHistory) -> list[HistoryEvent]:
    """The markers of this test's patch (the product's own patches record markers too)."""
    return [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        and PATCH_ID.encode() in e.marker_recorded_event_attributes.SerializeToString()
    ]


class TestPatchLifecycle:
    async def test_new_case_takes_the_patched_branch(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """A case started on the patched code records the patch marker and the grace timer,
        and replays with the patched and the deprecated code alike."""
        history = await record_case_with(GracePatched, time_skipping)
        assert len(patch_markers(history)) == 1
        timers = [
            e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        ]
        assert timers[0] == GRACE
        await replay(GracePatched, history)
        await replay(GraceDeprecated, history)

    async def test_removing_the_patch_call_strands_cases_that_recorded_it(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """Deleting the patch call outright (skipping ``deprecate_patch``) fails the replay of a
        case that recorded the patch marker."""
        history = await record_case_with(GracePatched, time_skipping)
        with pytest.raises(
            workflow.NondeterminismError,
            match=f"Non-deprecated patch marker encountered for change {PATCH_ID}",
        ):
            await replay(GraceRemoved, history)

    async def test_patch_call_can_go_once_every_case_recorded_it_deprecated(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """A case started under ``deprecate_patch`` records a deprecated marker, which the code
        without any patch call replays cleanly."""
        history = await record_case_with(GraceDeprecated, time_skipping)
        assert len(patch_markers(history)) == 1
        await replay(GraceRemoved, history)

    async def test_rolling_back_strands_patched_cases(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """A case that took the patched branch cannot be replayed by the code from before the
        change: a rollback must keep the patch, or new cases are stranded."""
        history = await record_case_with(GracePatched, time_skipping)
        with pytest.raises(workflow.NondeterminismError, match=r"\[TMPRL1100\]"):
            await replay(VictimCaseWorkflow, history)

    @pytest.mark.parametrize("path", HISTORIES, ids=IDS)
    async def test_deprecating_too_early_strands_older_cases(self, path: Path) -> None:
        """Retiring the patch while a case from before it still runs fails that case's replay:
        deprecate only once visibility shows no running case older than the patch."""
        with pytest.raises(workflow.NondeterminismError, match=NONDETERMINISM):
            await replay(GraceDeprecated, load(path))
