"""Erasure by key destruction and retention, on the real dev server with a real key store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from structlog.testing import capture_logs
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from pathway import search_attributes, workers
from pathway.activities.retention import RetentionSweeper, SweepReport, SweepRequest
from pathway.domain.events import Identified
from pathway.domain.state import Phase
from pathway.privacy.erasure import erase_case, erase_expired
from pathway.privacy.history import decode_history, fetch_decoded_history
from pathway.privacy.keys import CaseErased, MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.retention import RetentionSweepWorkflow
from tests.factories import EU_ADULT, event
from tests.harness import Bench, bench
from tests.receivers import DEV_SERVER_STARTUP

pytestmark = pytest.mark.devserver


@dataclass
class Deployment:
    env: WorkflowEnvironment
    store: SqliteKeyStore


@pytest_asyncio.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    """A dev server whose clients and workers share one real SQLite key store."""
    create_master_key(tmp_path / "mk")
    store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
        data_converter=data_converter(store),
        search_attributes=list(search_attributes.ALL),
    )
    async with env:
        yield Deployment(env, store)


async def fetch_decoded_history_of_run(client: Client, case_id: str, run_id: str) -> History:
    """One run's history, decoded by the client's codec (raises its error, e.g. CaseErased)."""
    codec = client.data_converter.payload_codec
    assert codec is not None
    raw = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
    return await decode_history(History(events=raw.events), codec)


async def open_case(b: Bench, ref: str) -> str:
    ident = event(
        "identified",
        await b.now(),
        person=dict(EU_ADULT),
        subject_ref=ref,
        reason="CANARY-reason-" + ref,
    )
    assert isinstance(ident, Identified)
    case_id, _ = await b.open(ident)
    await b.settled(case_id)
    return case_id


class TestEraseCase:
    async def test_erased_case_history_cannot_be_decoded_but_others_can(
        self, deployment: Deployment
    ) -> None:
        """Erasure terminates the workflow and destroys the key: its history fails to decode
        with a clear 'erased' error, replay is refused, and another case still decodes."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            erased_id = await open_case(b, "erase-me")
            kept_id = await open_case(b, "keep-me")
            raw = await b.client.get_workflow_handle(erased_id).fetch_history()
            decoded = await fetch_decoded_history(b.client, erased_id)
            assert b"CANARY-reason-erase-me" in decoded.SerializeToString()

            with capture_logs() as logs:
                result = await erase_case(
                    b.client, deployment.store, erased_id, by="dpo-1", why="request"
                )
            assert result.was_running and result.key_destroyed
            assert "caritas" in result.former_members
            assert logs == [
                {
                    "event": "case erased",
                    "case_id": erased_id,
                    # Issue 12: the episodes destroyed and the run found (and terminated).
                    "episodes": [1],
                    "run_id": result.run_id,
                    "by": "dpo-1",
                    "why": "request",
                    "was_running": True,
                    "key_destroyed": True,
                    # Organisation codes only: who may learn of the erasure (issue 11).
                    "former_members": sorted(result.former_members),
                    "linked_cases_updated": 0,
                    "log_level": "info",
                }
            ]
            description = await b.client.get_workflow_handle(erased_id).describe()
            assert description.status is WorkflowExecutionStatus.TERMINATED

            with pytest.raises(CaseErased, match=f"case {erased_id} was erased"):
                await fetch_decoded_history(b.client, erased_id)
            kept = await fetch_decoded_history(b.client, kept_id)
            assert b"CANARY-reason-keep-me" in kept.SerializeToString()

            replayer = Replayer(
                workflows=[VictimCaseWorkflow], data_converter=b.client.data_converter
            )
            # The SDK reports the codec's error as the cause of a failed activation.
            with pytest.raises(RuntimeError, match=f"case {erased_id} was erased"):
                await replayer.replay_workflow(WorkflowHistory(erased_id, raw.events))

            again = await erase_case(
                b.client, deployment.store, erased_id, by="dpo-1", why="request"
            )
            assert not again.was_running and not again.key_destroyed


class TestRetention:
    async def test_sweep_erases_closed_cases_only(self, deployment: Deployment) -> None:
        """The retention sweep destroys the keys of closed cases past retention and leaves
        open cases alone."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            closed_id = await open_case(b, "closed-one")
            open_id = await open_case(b, "open-one")
            await b.send(closed_id, event("case_closed", await b.now(), organisation="caritas"))
            await b.client.get_workflow_handle(closed_id).result()
            sweeper = RetentionSweeper(b.client, deployment.store)
            async with Worker(
                b.client,
                task_queue=b.task_queue + "-retention",
                workflows=[RetentionSweepWorkflow],
                activities=sweeper.activities(),
            ):
                report: SweepReport = await b.client.execute_workflow(
                    RetentionSweepWorkflow.run,
                    SweepRequest(retention=timedelta(0)),
                    id=f"sweep-{b.task_queue}",
                    task_queue=b.task_queue + "-retention",
                )
            assert report.erased >= 1
            assert deployment.store.is_destroyed(closed_id)
            assert not deployment.store.is_destroyed(open_id)
            with pytest.raises(CaseErased):
                await fetch_decoded_history(b.client, closed_id)

    async def test_retention_never_touches_a_reidentified_live_case(
        self, deployment: Deployment
    ) -> None:
        """Issue 12: a person identified again after the case closed has a new episode, with
        its own key, in a new running run under the same ID. Retention due for the first
        episode erases that episode only: the running case stays readable and is never
        terminated. Once the second episode's run is closed past retention, it goes too."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await open_case(b, "again")
            first_run = (await b.client.get_workflow_handle(case_id).describe()).run_id
            await b.send(case_id, event("case_closed", await b.now(), organisation="caritas"))
            await b.client.get_workflow_handle(case_id, run_id=first_run).result()
            assert await open_case(b, "again") == case_id  # the same person: the same ID
            current = await b.client.get_workflow_handle(case_id).describe()
            assert current.run_id != first_run
            assert current.status is WorkflowExecutionStatus.RUNNING
            assert [e.number for e in deployment.store.episodes(case_id)] == [1, 2]

            with capture_logs() as logs:
                erased = await erase_expired(
                    b.client, deployment.store, retention=timedelta(0), now=datetime.now(UTC)
                )
            assert [(e.case_id, e.episode, e.run_id) for e in erased] == [(case_id, 1, first_run)]
            assert {
                "event": "retention skipped",
                "case_id": case_id,
                "episode": 2,
                "because": "its current run is not closed",
            } in [{k: v for k, v in e.items() if k != "log_level"} for e in logs]
            assert [(e.number, e.erased) for e in deployment.store.episodes(case_id)] == [
                (1, True),
                (2, False),
            ]
            assert not deployment.store.is_destroyed(case_id)
            still = await b.client.get_workflow_handle(case_id).describe()
            assert still.status is WorkflowExecutionStatus.RUNNING
            assert still.run_id == current.run_id
            assert (await b.state(case_id)).phase is not Phase.CLOSED
            with pytest.raises(CaseErased, match=f"case {case_id} was erased"):
                await fetch_decoded_history_of_run(b.client, case_id, first_run)

            await b.send(case_id, event("case_closed", await b.now(), organisation="caritas"))
            await b.client.get_workflow_handle(case_id).result()
            erased = await erase_expired(
                b.client, deployment.store, retention=timedelta(0), now=datetime.now(UTC)
            )
            assert [(e.case_id, e.episode) for e in erased] == [(case_id, 2)]
            assert deployment.store.is_destroyed(case_id)

    async def test_schedule_is_created_once(self, deployment: Deployment) -> None:
        """The hourly sweep schedule is created on first start and left alone after."""
        client: Client = deployment.env.client
        await workers.ensure_retention_schedule(client, timedelta(days=30))
        await workers.ensure_retention_schedule(client, timedelta(days=99))
        description = await client.get_schedule_handle(workers.RETENTION_SCHEDULE_ID).describe()
        intervals = description.schedule.spec.intervals
        assert [i.every for i in intervals] == [timedelta(hours=1)]
