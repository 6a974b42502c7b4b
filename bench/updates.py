"""Update latency on the real dev server: how long a sender waits for an event to be accepted.

    .venv/bin/python bench/updates.py [--updates 200] [--cases 1]

Starts ``temporal server start-dev`` on a SQLite file in a temporary directory (free ports,
headless), runs the case workflow and the notification workers in this process (notifications
go to an outbox in the same directory, payloads are encrypted as in production), opens
``--cases`` cases and sends ``--updates`` events in all, spread over the cases and sent
concurrently across them (one at a time per case, as one sender would). Each latency is one
``record_event`` call: the update's round trip through the server, the validator and the
handler. Prints p50/p90/p99/max. Not a test: figures only; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench._report import percentile
from pathway.activities.notify import Notifier
from pathway.activities.statistics import StatisticsRecorder
from pathway.channels import Channels, OutboxChannel
from pathway.clients import cases
from pathway.domain.config import CaseConfig
from pathway.domain.events import Identified, parse_event
from pathway.domain.organisations import NOTIFIED, notification_task_queue
from pathway.statistics_ledger import SqliteLedger
from pathway.temporal_binaries import DevServer, start_dev_server, stop_process
from pathway.temporal_connection import data_converter, default_keystore
from pathway.workflows.case import VictimCaseWorkflow

PEPPER = b"bench-pepper"
QUEUE = "bench-cases"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def one_case(client: Client, config: CaseConfig, updates: int) -> list[float]:
    """Open a case and send it ``updates`` events one after the other; their latencies (ms)."""
    now = datetime.now(UTC)
    ident = parse_event(
        {
            "type": "identified",
            "event_id": f"open-{uuid.uuid4()}",
            "organisation": "police",
            "occurred_at": now.isoformat(),
            "subject_ref": f"bench-{uuid.uuid4()}",
            "person": {
                "citizenships": ["DE"],
                "residence_status": "eu_citizen",
                "gender": "female",
                "languages": ["de"],
            },
        }
    )
    assert isinstance(ident, Identified)
    case_id, _ = await cases.open_case(
        client, ident, pepper=PEPPER, config=config, task_queue=QUEUE
    )
    latencies = []
    for i in range(updates):
        ev = parse_event(
            {
                "type": "cooperation_recorded",
                "event_id": f"e-{uuid.uuid4()}",
                "organisation": "police",
                "occurred_at": now.isoformat(),
                "willing_to_cooperate": i % 2 == 0,
            }
        )
        started = time.perf_counter()
        await cases.record_event(client, case_id, ev)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def run(updates: int, case_count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pathway-bench-") as tmp:
        base = Path(tmp)
        settings = DevServer(
            var_dir=base / "temporal", port=_free_port(), ui_port=_free_port(), headless=True
        )
        server = await start_dev_server(settings)
        try:
            client = await Client.connect(
                settings.target, data_converter=data_converter(default_keystore(base))
            )
            config = CaseConfig(notification_queue_prefix=f"{QUEUE}-notify")
            notifier = Notifier(Channels(default=OutboxChannel(directory=base / "outbox")))
            # The case schedules record_statistics on its own queue (issue 15): a ledger in
            # the bench's directory, so cases leave no activity pending.
            recorder = StatisticsRecorder(SqliteLedger(base / "statistics.sqlite3"), b"b" * 32)
            workers = [
                Worker(
                    client,
                    task_queue=QUEUE,
                    workflows=[VictimCaseWorkflow],
                    activities=recorder.activities(),
                )
            ]
            workers += [
                Worker(
                    client,
                    activities=notifier.activities(),
                    task_queue=notification_task_queue(org, config.notification_queue_prefix),
                )
                for org in NOTIFIED
            ]
            async with contextlib.AsyncExitStack() as stack:
                for worker in workers:
                    await stack.enter_async_context(worker)
                share = [
                    updates // case_count + (i < updates % case_count) for i in range(case_count)
                ]
                started = time.perf_counter()
                results = await asyncio.gather(*(one_case(client, config, n) for n in share))
                elapsed = time.perf_counter() - started
        finally:
            await stop_process(server)
    latencies = [ms for result in results for ms in result]
    print(
        f"{len(latencies)} updates on {case_count} case(s), SQLite dev server, encrypted "
        f"payloads: {len(latencies) / elapsed:.0f} updates/s (incl. opening the cases)"
    )
    print(
        f"latency ms: p50 {percentile(latencies, 50):.1f}  p90 {percentile(latencies, 90):.1f}"
        f"  p99 {percentile(latencies, 99):.1f}  max {max(latencies):.1f}  "
        f"mean {statistics.fmean(latencies):.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=200, help="events to send in all")
    parser.add_argument("--cases", type=int, default=1, help="cases to spread them over")
    args = parser.parse_args(argv)
    if args.updates < 1 or not 1 <= args.cases <= args.updates:
        parser.error("need --updates >= 1 and 1 <= --cases <= --updates")
    asyncio.run(run(args.updates, args.cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
