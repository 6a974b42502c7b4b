"""The event gateway: NGO and authority systems send events and read what concerns them over
HTTP, without access to Temporal (a Temporal namespace is no authorisation boundary).

Every request is authenticated (:mod:`pathway.access.identity`), rate-limited per
organisation, and authorised against the two matrices of :mod:`pathway.access.policy`. An
event is answered only once its case's workflow accepted or rejected it (a Temporal Update), so
"accepted" means durably recorded; a repeat of an ``event_id`` returns the first result. Events
for one case take turns, so a burst waits instead of overrunning Temporal; Temporal's trouble is
told apart: 429 busy (nothing recorded: send again), 504 outcome-unknown (Temporal is up but did
not answer in time: send the same ``event_id`` again) and 503 (Temporal cannot be reached).
Errors are ``application/problem+json`` (RFC 9457) naming the rule or the field.

:func:`create_gateway_app` puts it together: the context every request reaches
(:mod:`pathway.gateway.context`, on ``app.state.gateway``), the problem handlers
(:mod:`pathway.web.problems`), one audit line per request, the routers
(:mod:`pathway.gateway.routes`, with their dependencies in :mod:`pathway.gateway.dependencies`)
and the OpenAPI document (:mod:`pathway.gateway.openapi`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial

import structlog
from fastapi import FastAPI, Request, Response
from temporalio.client import Client

from pathway.access.credentials import Principal
from pathway.access.identity import Authenticator
from pathway.console import ConsoleSettings, mount_console  # the console (issue 17)
from pathway.gateway.context import GatewayContext, GatewaySettings
from pathway.gateway.openapi import openapi_document
from pathway.gateway.routes import cases, docs, health, obligations
from pathway.gateway.routes import statistics as statistics_routes
from pathway.metrics import http as metrics
from pathway.web.problems import install_problem_handlers

__all__ = ["create_gateway_app"]

log = structlog.stdlib.get_logger(__name__)


def create_gateway_app(
    *,
    client: Client,
    authenticator: Authenticator,
    settings: GatewaySettings,
    console: ConsoleSettings | None = None,
) -> FastAPI:
    """The gateway as an ASGI app, in front of the case workflows reached through ``client``
    (which must carry the project's encrypting data converter). ``console``: the console's
    settings (default: the environment's, :func:`pathway.console.console_settings`)."""
    app = FastAPI(
        title="Pathway event gateway",
        version="1",
        description=(
            "Send case events and read what concerns your organisation. Every error is "
            "application/problem+json (RFC 9457) with `rule`, `field` or `errors`. See "
            "docs/gateway.md."
        ),
        # /docs is routes.docs, with Swagger UI served by the gateway itself (FastAPI's own
        # page loads Swagger UI from a third-party host).
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # No redirect from a path with a trailing slash to one without: Starlette builds that
        # Location from the request's Host header, which the caller chooses (a leftover of the
        # review of issue 16). /v1/cases/ is a 404 like any other unknown path.
        redirect_slashes=False,
    )
    app.state.gateway = GatewayContext.create(
        client=client, authenticator=authenticator, settings=settings
    )
    install_problem_handlers(app)
    app.middleware("http")(audit)
    docs.mount_swagger_ui(app)
    for router in (docs.router, health.router, cases.router, obligations.router):
        app.include_router(router)
    mount_console(app, console)  # the caseworker's console (issue 17)
    # GET /v1/statistics/annual: aggregates for analysts, from the statistics ledger (issue 15).
    statistics_routes.mount(app)
    app.openapi = partial(openapi_document, app)  # type: ignore[method-assign]
    # /metrics: requests by route template and status (docs/metrics.md).
    metrics.install(app, "gateway")
    return app


async def audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """One line per request: who, which route, what came of it. Never a body, a query string
    or a header value. Dependencies add the case and the event type to ``request.state.audit``.
    """
    started = time.perf_counter()
    request.state.audit = {}
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        if status == 404 and "{case_id}" in getattr(request.scope.get("route"), "path", ""):
            # A case that exists but is not yours, or never was: the same time as well as the
            # same bytes (docs/gateway.md, "What still tells that a case exists").
            gw: GatewayContext = request.app.state.gateway
            floor = gw.settings.not_found_floor - (time.perf_counter() - started)
            if floor > 0:
                await asyncio.sleep(floor)
        return response
    finally:
        principal: Principal | None = getattr(request.state, "principal", None)
        route = request.scope.get("route")
        log.info(
            "gateway request",
            method=request.method,
            route=getattr(route, "path", None),
            status=status,
            principal=principal.name if principal else None,
            role=principal.role if principal else None,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            **request.state.audit,
        )
