"""On the real Temporal dev server (SQLite persistence): a case, its timers and its pending
notifications survive a stop and restart of the server; `pathway dev` stops everything when one
of its parts fails after the start."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from pathway import dev, search_attributes
from pathway.dev import DevPorts, DevStartError, run_dev
from pathway.domain.events import Identified
from pathway.domain.state import Phase
from pathway.temporal_binaries import port_in_use, temporal_cli_path
from pathway.temporal_connection import data_converter
from pathway.web.serving import AddressUnavailable
from pathway.web.serving import serve_app as real_serve_app
from tests.factories import EU_ADULT, event
from tests.harness import bench, receivers
from tests.keys import TEST_KEYS
from tests.receivers import DEV_SERVER_STARTUP, eventually, free_port

pytestmark = pytest.mark.devserver


async def start_dev_server(db: Path, port: int) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
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
            async with bench(
                env,
                upsert_search_attributes=True,
                queue=queue,
                wires=wires,
                rights_information_sla=sla,
            ) as b:
                ident = event(
                    "identified",
                    await b.now(),
                    person=dict(EU_ADULT),
                    subject_ref="restart-1",
                    organisation="uoim",
                )
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
            async with (
                env,
                bench(
                    env,
                    upsert_search_attributes=True,
                    queue=queue,
                    wires=wires,
                    rights_information_sla=sla,
                ) as b,
            ):
                handle = b.client.get_workflow_handle(case_id)
                after = await handle.describe()
                assert after.run_id == before.run_id
                assert after.status is WorkflowExecutionStatus.RUNNING
                assert (
                    after.typed_search_attributes.get(search_attributes.PHASE)
                    == Phase.IDENTIFIED.value
                )
                assert after.typed_search_attributes.get(search_attributes.OBLIGATION_OWNERS) == [
                    "caritas"
                ]
                await eventually(
                    lambda: (
                        {r.reason for r in b.received()}
                        >= {"case_identified", "rights_information_escalation"}
                    ),
                    timeout=90,
                )
                state = await b.settled(case_id)
                assert state.pending_notifications == []
                assert state.timeline[0].what == "identified"
                delivered = [r for r in b.received() if r.recipient == "police"]
                assert [r.reason for r in delivered] == ["case_identified"]


class TestPartFailingAfterStart:
    async def test_a_server_that_cannot_bind_stops_everything(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The gateway losing its port after the Temporal server started (a race the checks
        before the start cannot close): the workers and the other servers stop, the Temporal
        server is stopped, and the failure names the port, within a bound, instead of the
        process hanging."""
        ports = [free_port() for _ in range(4)]
        started: list[str] = []

        async def gateway_loses_its_port(
            app: Any, sock: socket.socket, stop: asyncio.Event, **options: Any
        ) -> None:
            if options["name"] == "gateway":
                host, port = sock.getsockname()[:2]
                sock.close()
                raise AddressUnavailable(host, port, "is already in use")
            started.append(options["name"])
            await real_serve_app(app, sock, stop, **options)

        monkeypatch.setattr(dev, "serve_app", gateway_loses_its_port)
        monkeypatch.setenv("PATHWAY_VAR", str(tmp_path))
        monkeypatch.delenv("PATHWAY_CREDENTIALS", raising=False)

        with pytest.raises(DevStartError) as caught:
            async with asyncio.timeout(120):
                await run_dev(tmp_path, ports=DevPorts(*ports))

        message = str(caught.value)
        assert f"127.0.0.1:{ports[3]}" in message and "gateway" in message, message
        assert "\n" not in message
        assert started == ["web UI", "codec server"]
        # Everything it started is gone: the ports are free again (the server's too).
        await eventually(lambda: not any(port_in_use("127.0.0.1", p) for p in ports), timeout=30)
