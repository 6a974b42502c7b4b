"""Serving a FastAPI app inside a process that owns its own event loop and signals (the codec
server and the gateway both run beside the workers under ``pathway dev``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI

log = structlog.stdlib.get_logger("pathway.http")


class _CallerOwnsSignals(uvicorn.Server):
    """uvicorn would take over SIGINT/SIGTERM; here the caller owns them and sets ``stop``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_app(app: FastAPI, host: str, port: int, stop: asyncio.Event, *, name: str,
                    graceful_seconds: int, **announce: Any) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set, then shut down gracefully
    (requests in flight get ``graceful_seconds``). ``announce`` goes into the log line.

    Raises :class:`OSError` if the address cannot be bound.
    """
    # Bound here, not by uvicorn: uvicorn answers a bind failure with sys.exit, which would end
    # the caller's whole event loop; an OSError names the address and can be handled.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    config = uvicorn.Config(
        app,
        # uvicorn's own logging config would replace the process's (pathway.logs); without it
        # its loggers propagate to the root handler and come out in the one format.
        log_config=None,
        # The apps log their own audit lines; an access line per request adds nothing and
        # would log query strings.
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=graceful_seconds,
    )
    server = _CallerOwnsSignals(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    log.info(f"{name} listening", url=f"http://{host}:{port}", **announce)
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        server.should_exit = True
        try:
            await serving
        finally:
            sock.close()
        log.info(f"{name} stopped")
