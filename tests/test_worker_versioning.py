"""Worker Versioning on the dev server (issue 16 item 4, docs/versioning.md).

A v1 worker runs; a pinned and an auto-upgrade workflow start on v1; a v2 worker starts and is
made current; new workflows go to v2, the pinned v1 workflow drains on v1 to completion, and the
auto-upgrade workflow moves to v2 at its next workflow task. Pathway's own types declare their
behaviour in versioned subclasses (pathway.workers.VERSIONED_WORKFLOWS) and none in the base
classes an unversioned worker registers. Both workers get their
configuration from :func:`pathway.versioning.deployment_config`, as ``pathway worker`` does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from pathway import versioning
from pathway.temporal_binaries import temporal_cli_path
from pathway.workers import VERSIONED_WORKFLOWS
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.programme import ProgrammeRegisterWorkflow
from pathway.workflows.retention import RetentionSweepWorkflow
from tests.receivers import DEV_SERVER_STARTUP, eventually

WAIT = 90.0  # seconds: generous, the dev server shares two cores with other tests


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class PinnedWait:
    """Like the retention sweep: pinned; waits for ``finish``."""

    def __init__(self) -> None:
        self.done = False
        self.pings = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.pings

    @workflow.signal
    def ping(self) -> None:
        self.pings += 1

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class AutoWait(PinnedWait):
    """Like a case: auto-upgrade; waits for ``finish``."""

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.pings


def test_pathway_workflows_declare_their_behaviour_only_when_versioned() -> None:
    """Versioned: cases and registers auto-upgrade, the hourly sweep is pinned, each declared
    in its subclass of the same workflow type. Unversioned (``pathway dev``): none declared, for
    the server refuses a declared behaviour from an unversioned worker."""

    def defn(cls: type) -> Any:
        return workflow._Definition.must_from_class(cls)

    declared = {defn(cls).name: defn(cls).versioning_behavior for cls in VERSIONED_WORKFLOWS}
    assert declared == {
        "VictimCaseWorkflow": VersioningBehavior.AUTO_UPGRADE,
        "ProgrammeRegisterWorkflow": VersioningBehavior.AUTO_UPGRADE,
        "RetentionSweepWorkflow": VersioningBehavior.PINNED,
    }
    for base in (VictimCaseWorkflow, ProgrammeRegisterWorkflow, RetentionSweepWorkflow):
        assert defn(base).versioning_behavior in (None, VersioningBehavior.UNSPECIFIED)
    config = versioning.deployment_config({versioning.DEPLOYMENT_NAME: "pathway"})
    assert config is not None
    assert config.default_versioning_behavior == VersioningBehavior.UNSPECIFIED


def test_off_without_a_deployment_name() -> None:
    """The embedded default needs no configuration: no deployment name, no versioning."""
    assert versioning.deployment_config({}) is None
    assert versioning.deployment_config({versioning.BUILD_ID: "v9"}) is None


def test_build_id_from_the_package_version_or_the_setting() -> None:
    config = versioning.deployment_config({versioning.DEPLOYMENT_NAME: "pathway"})
    assert config is not None and config.use_worker_versioning
    assert config.version.deployment_name == "pathway"
    assert config.version.build_id == "0.1.0"  # pyproject.toml's version
    config = versioning.deployment_config(
        {versioning.DEPLOYMENT_NAME: "pathway", versioning.BUILD_ID: "2026.12.1-a1b2c3"}
    )
    assert config is not None and config.version.build_id == "2026.12.1-a1b2c3"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({versioning.DEPLOYMENT_NAME: "path.way"}, "PATHWAY_DEPLOYMENT_NAME: no '.'"),
        (
            {versioning.DEPLOYMENT_NAME: "pathway", versioning.BUILD_ID: "v 2"},
            "PATHWAY_BUILD_ID: no spaces",
        ),
        (
            {versioning.DEPLOYMENT_NAME: "p" * 256},
            "PATHWAY_DEPLOYMENT_NAME: at most 255",
        ),
    ],
)
def test_malformed_settings_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(versioning.VersioningConfigError, match=message):
        versioning.deployment_config(environ)


@pytest_asyncio.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
    )
    async with env:
        yield env


def _worker(client: Client, queue: str, deployment: str, build_id: str) -> Worker:
    config = versioning.deployment_config(
        {versioning.DEPLOYMENT_NAME: deployment, versioning.BUILD_ID: build_id}
    )
    return Worker(
        client,
        task_queue=queue,
        workflows=[PinnedWait, AutoWait],
        deployment_config=config,
        # The test module imports pytest and the server fixtures; these two workflows need no
        # sandbox (they only wait for signals).
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def _make_current(client: Client, deployment: str, build_id: str) -> None:
    """``temporal worker deployment set-current-version``; retried until the server has seen
    the version's pollers."""

    async def attempt() -> bool:
        try:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace, deployment_name=deployment, build_id=build_id
                )
            )
        except RPCError:
            return False
        return True

    await eventually(attempt, timeout=WAIT, interval=0.5)


async def _on(handle: WorkflowHandle[Any, Any], build_id: str, behaviour: int) -> bool:
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id == build_id and info.behavior == behaviour


async def test_v2_takes_new_workflows_while_v1_drains_pinned_ones(
    dev_server: WorkflowEnvironment,
) -> None:
    client = dev_server.client
    queue = f"versioning-{uuid.uuid4().hex}"
    deployment = f"pathway-{uuid.uuid4().hex[:8]}"
    pinned, auto = VersioningBehavior.PINNED.value, VersioningBehavior.AUTO_UPGRADE.value

    v1 = _worker(client, queue, deployment, "v1")
    async with v1:
        await _make_current(client, deployment, "v1")
        p1 = await client.start_workflow(PinnedWait.run, id=f"p1-{queue}", task_queue=queue)
        a1 = await client.start_workflow(AutoWait.run, id=f"a1-{queue}", task_queue=queue)
        await eventually(lambda: _on(p1, "v1", pinned), timeout=WAIT, interval=0.5)
        await eventually(lambda: _on(a1, "v1", auto), timeout=WAIT, interval=0.5)

        v2 = _worker(client, queue, deployment, "v2")
        async with v2:
            await _make_current(client, deployment, "v2")
            p2 = await client.start_workflow(PinnedWait.run, id=f"p2-{queue}", task_queue=queue)
            await eventually(lambda: _on(p2, "v2", pinned), timeout=WAIT, interval=0.5)

            # The next workflow task moves the auto-upgrade workflow; the pinned one stays.
            await a1.signal(AutoWait.ping)
            await p1.signal(PinnedWait.ping)
            await eventually(lambda: _on(a1, "v2", auto), timeout=WAIT, interval=0.5)
            await p1.signal(PinnedWait.finish)
            assert await asyncio.wait_for(p1.result(), WAIT) == 1
            assert await _on(p1, "v1", pinned)  # drained on v1 to completion

            await a1.signal(AutoWait.finish)
            await p2.signal(PinnedWait.finish)
            assert await asyncio.wait_for(a1.result(), WAIT) == 1
            assert await asyncio.wait_for(p2.result(), WAIT) == 0
            assert await _on(a1, "v2", auto)


async def test_a_versioned_worker_accepts_pathway_workflows(
    dev_server: WorkflowEnvironment,
) -> None:
    """The SDK refuses a versioned worker with a workflow type that declares no behaviour (the
    worker sets no default): the versioned classes all declare one, the base classes do not."""
    config = versioning.deployment_config({versioning.DEPLOYMENT_NAME: "pathway"})
    Worker(
        dev_server.client,
        task_queue=f"versioning-{uuid.uuid4().hex}",
        workflows=list(VERSIONED_WORKFLOWS),
        deployment_config=config,
    )
    with pytest.raises(ValueError, match="VictimCaseWorkflow must specify a versioning behavior"):
        Worker(
            dev_server.client,
            task_queue=f"versioning-{uuid.uuid4().hex}",
            workflows=[VictimCaseWorkflow],
            deployment_config=config,
        )


def test_worker_refuses_a_malformed_setting(
    cli_state: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    restored_logging: None,
) -> None:
    """``pathway worker`` with a malformed PATHWAY_DEPLOYMENT_NAME exits 2 with one line naming
    it, before it connects to anything."""
    from pathway import workers

    monkeypatch.setenv(versioning.DEPLOYMENT_NAME, "path.way")
    assert workers.main(["--organisations", "police", "--json-logs"]) == 2
    out = capfd.readouterr()
    output = (out.out + out.err).splitlines()
    lines = [line for line in output if versioning.DEPLOYMENT_NAME in line]
    assert len(lines) == 1 and "invalid setting" in lines[0], out
    assert "Traceback" not in out.out + out.err
