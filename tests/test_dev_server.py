"""On the real Temporal dev server (SQLite persistence): a case, its timers and its pending
notifications survive a stop and restart of the server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.client import data_converter
from pathway.domain.events import Identified
from pathway.domain.state import Phase
from pathway.servers import temporal_cli_path
from tests.factories import EU_ADULT, event
from tests.harness import bench, receivers
from tests.keys import TEST_KEYS
from tests.receivers import eventually, free_port

pytestmark = pytest.mark.devserver


async def start_dev_server(db: Path, port: int) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_database_filename=str(db),
        port=port,
        ui=False,
        data_converter=data_converter(TEST_KEYS),
        search_attributes=list(search_attributes.ALL),
    )


class TestServerRestart:
    async def test_case_timer_and_pending_notification_survive_restart(
        self, tmp_path: Path
    ) -> None:
        """The server is stopped mid-case with a timer running and a notification undelivered;
        after the restart the same run goes on, the timer fires and the notification arrives."""
        db, port, queue = tmp_path / "temporal.db", free_port(), "restart-case"
        sla = timedelta(seconds=20)
        async with receivers() as wires:
            webhook, smtp = wires
            webhook.status_code = 503  # the police endpoint is down before the restart
            env = await start_dev_server(db, port)
            async with bench(env, upsert_search_attributes=True, queue=queue, wires=wires,
                             rights_information_sla=sla) as b:
                ident = event("identified", await b.now(), person=dict(EU_ADULT),
                              subject_ref="restart-1", organisation="uoim")
                assert isinstance(ident, Identified)
                case_id, _ = await b.open(ident)
                await eventually(lambda: len(smtp.mails) == 1)  # Caritas: case identified
                await eventually(lambda: len(webhook.requests) >= 1)  # police: tried, 503
                before = await b.client.get_workflow_handle(case_id).describe()
                state = await b.state(case_id)
                assert [n.recipient.value for n in state.pending_notifications] == ["police"]
            await env.shutdown()
            assert len(smtp.mails) == 1  # the rights-information timer has not fired yet

            webhook.status_code = 200
            env = await start_dev_server(db, port)
            async with env, bench(env, upsert_search_attributes=True, queue=queue,
                                  wires=wires, rights_information_sla=sla) as b:
                handle = b.client.get_workflow_handle(case_id)
                after = await handle.describe()
                assert after.run_id == before.run_id
                assert after.status is WorkflowExecutionStatus.RUNNING
                assert after.typed_search_attributes.get(search_attributes.PHASE) \
                    == Phase.IDENTIFIED.value
                assert after.typed_search_attributes.get(
                    search_attributes.OBLIGATION_OWNERS) == ["caritas"]
                await eventually(lambda: {r.reason for r in b.received()} >= {
                    "case_identified", "rights_information_escalation"}, timeout=90)
                state = await b.settled(case_id)
                assert state.pending_notifications == []
                assert state.timeline[0].what == "identified"
                delivered = [r for r in b.received() if r.recipient == "police"]
                assert [r.reason for r in delivered] == ["case_identified"]
