"""A worker process of the bench: ``python -m bench._worker pathway|bare TARGET DIR``.

``pathway`` runs the project's own workers (:func:`pathway.workers.run_workers`: the case
workflow and every organisation's notifications, here to an outbox in ``DIR``), ``bare`` the
same number of workers for :class:`bench._bare.BareCaseWorkflow`. Writes ``DIR/ready`` once its
workers are polling; stops on SIGTERM. ``--metrics HOST:PORT``: the SDK's own Prometheus
endpoint there (:mod:`bench._sdk_metrics`; off in the bench's timed phases).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Final

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from bench._bare import BareActivities, BareCaseWorkflow, notify_queue
from pathway import settings
from pathway.channels import Channels, OutboxChannel
from pathway.domain.organisations import NOTIFIED
from pathway.logs import configure_logging
from pathway.metrics import worker_runtime
from pathway.process import exit_now, install_stop_signals
from pathway.temporal_connection import connect, default_keystore
from pathway.workers import NOTIFY_GRACEFUL_SHUTDOWN, run_workers, workflow_runner

BARE_QUEUE: Final = "bench-bare"
BARE_NOTIFY_PREFIX: Final = "bench-bare-notify"
#: As many notification queues (and workers) as Pathway has notified organisations.
BARE_NOTIFY_QUEUES: Final = len(NOTIFIED)


async def run_pathway(target: str, base: Path, stop: asyncio.Event) -> None:
    # The bench's own dev server, as the bare side reaches it: no TEMPORAL_* profile.
    client = await connect(target, "default", default_keystore(base), use_config=False)
    channels = Channels(default=OutboxChannel(directory=base / "outbox"))
    serving = asyncio.create_task(
        run_workers(client, organisations=NOTIFIED, serve_cases=True, channels=channels, stop=stop)
    )
    await _announce(serving, base)


async def run_bare(target: str, base: Path, stop: asyncio.Event) -> None:
    client = await Client.connect(target)
    acts = BareActivities(base / "bare-outbox.jsonl")
    workers = [
        Worker(
            client,
            task_queue=BARE_QUEUE,
            workflows=[BareCaseWorkflow],
            activities=[acts.idle],
            # The same sandbox as Pathway's case worker: its own package passed through.
            workflow_runner=workflow_runner("bench"),
            max_cached_workflows=settings.current().workflow_cache,
        )
    ]
    workers += [
        Worker(
            client,
            task_queue=notify_queue(BARE_NOTIFY_PREFIX, index),
            activities=[acts.notify],
            graceful_shutdown_timeout=NOTIFY_GRACEFUL_SHUTDOWN,
        )
        for index in range(BARE_NOTIFY_QUEUES)
    ]

    async def serve() -> None:
        runs = [asyncio.create_task(worker.run()) for worker in workers]
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopped, *runs], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            await asyncio.gather(*(worker.shutdown() for worker in workers))
            for result in await asyncio.gather(*runs, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result

    await _announce(asyncio.create_task(serve()), base)


async def _announce(serving: asyncio.Task[None], base: Path) -> None:
    # Worker.run() validates the workflows and starts polling at once; a short yield lets it
    # fail early (a bad registration) before the driver is told to go.
    done, _ = await asyncio.wait({serving}, timeout=0.5)
    if not done:
        (base / "ready").write_text("ready\n")
    await serving


async def _main(kind: str, target: str, base: Path) -> int:
    stop = asyncio.Event()
    remove = install_stop_signals(stop)
    try:
        await (run_pathway if kind == "pathway" else run_bare)(target, base, stop)
    finally:
        remove()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._worker")
    parser.add_argument("kind", choices=["pathway", "bare"])
    parser.add_argument("target")
    parser.add_argument("dir", type=Path)
    parser.add_argument(
        "--metrics", metavar="HOST:PORT", help="serve the SDK's Prometheus metrics here"
    )
    args = parser.parse_args()
    configure_logging(json=True, level="INFO")
    if args.metrics is not None:  # before the first connection, which takes the default
        Runtime.set_default(worker_runtime(args.metrics), error_if_already_set=False)
    exit_now(asyncio.run(_main(args.kind, args.target, args.dir)))


if __name__ == "__main__":
    main()
