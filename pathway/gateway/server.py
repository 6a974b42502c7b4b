"""Serve the gateway with uvicorn inside the caller's event loop (``pathway dev``,
``pathway gateway``), stopping when the caller says so."""

from __future__ import annotations

import asyncio

import structlog
from fastapi import FastAPI

from pathway.access.identity import Authenticator, load_authenticator
from pathway.gateway.app import create_gateway_app
from pathway.gateway.context import GatewaySettings
from pathway.web.serving import listen, serve_app

__all__ = ["run_gateway", "serve_gateway"]

log = structlog.stdlib.get_logger(__name__)


async def serve_gateway(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set, then shut down gracefully
    (requests in flight get up to ten seconds to finish).

    Raises :class:`OSError` if the address cannot be bound.
    """
    await serve_app(
        app,
        listen(host, port),
        stop,
        name="gateway",
        graceful_seconds=10,
        docs=f"http://{host}:{port}/docs",
    )


async def run_gateway(
    host: str,
    port: int,
    *,
    target: str | None = None,
    namespace: str | None = None,
    authenticator: Authenticator | None = None,
    settings: GatewaySettings | None = None,
) -> None:
    """The gateway on its own (``pathway gateway``), until SIGINT or SIGTERM (to stop it from
    code, serve :func:`create_gateway_app` with :func:`serve_gateway` instead).

    ``authenticator`` and ``settings`` default to the environment's (docs/gateway.md); either
    way everything is checked before anything connects: :class:`GatewayConfigError` if it is
    incomplete (in production: no credentials file or JWKS, no pepper). Temporal is connected
    lazily, so the gateway starts (and answers 503, and ``/readyz`` says so) while Temporal
    is still down.
    """
    from pathway.process import install_stop_signals
    from pathway.settings import var_dir
    from pathway.temporal_connection import connect

    authenticator = authenticator or load_authenticator(var_dir=var_dir())
    settings = settings or GatewaySettings.from_env()
    client = await connect(target, namespace, lazy=True)
    app = create_gateway_app(client=client, authenticator=authenticator, settings=settings)
    stop = asyncio.Event()
    remove_signals = install_stop_signals(stop)
    try:
        await serve_gateway(app, host, port, stop)
    finally:
        remove_signals()
