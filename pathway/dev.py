"""Everything on one machine: the dev server (SQLite, web UI) and all workers, in the foreground.

State lives in ``var_dir`` (the server's SQLite file and its log). Stopping and starting again
with the same ``var_dir`` resumes every open case and timer where it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import structlog

import worker
from pathway.channels import load_channels
from pathway.client import connect
from pathway.domain.organisations import NOTIFIED
from pathway.servers import DevServer, start_dev_server, stop_process

__all__ = ["run_dev"]

log = structlog.stdlib.get_logger(__name__)


async def run_dev(
    var_dir: Path,
    *,
    port: int = 7233,
    ui_port: int = 8233,
    channels: Path | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the dev server and every worker until SIGINT/SIGTERM or until ``stop`` is set.

    ``ready`` is called with the web UI's address once the server is up and the workers are
    about to poll. On the way out the workers stop first, so that their last results still
    reach the server, and the server last.
    """
    stop = stop or asyncio.Event()
    # Read before anything starts: a broken channels file should not leave a server behind.
    loaded_channels = load_channels(channels)
    settings = DevServer(var_dir=var_dir, port=port, ui_port=ui_port)
    remove_signals = worker.install_stop_signals(stop)
    try:
        server = await start_dev_server(settings)
        try:
            client = await connect(settings.target, settings.namespace)
            log.info(
                "temporal dev server ready",
                ui=settings.ui_url,
                # Not "address": that key is redacted as personal (pathway.logs).
                frontend=settings.target,
                namespace=settings.namespace,
                database=str(settings.db_file),
                server_log=str(settings.log_file),
            )
            if ready is not None:
                ready(settings.ui_url)
            await worker.run_workers(
                client,
                organisations=NOTIFIED,
                serve_cases=True,
                channels=loaded_channels,
                stop=stop,
            )
        finally:
            code = await stop_process(server)
            log.info("temporal dev server stopped", exit_code=code)
    finally:
        remove_signals()
