"""``/metrics`` of the gateway and the codec server: a ``prometheus_client`` registry of each
app's own, served as Prometheus text (:func:`install`).

Every request is counted by its route *template* (``/v1/cases/{case_id}/events``), never the
concrete path, which holds a case ID (:func:`route_template`); a request that matched no route
is ``route="unmatched"``.

- ``pathway_<server>_requests_total{method, route, status}``: requests answered.
- ``pathway_<server>_request_duration_seconds{method, route}``: time to answer (histogram).
- ``pathway_codec_decodes_total{role}`` and ``pathway_codec_decoded_payloads_total{role}``
  (codec server): decode requests answered with payloads, and those payloads, by the caller's
  role (:func:`record_decode`).

``<server>`` is ``gateway`` or ``codec_server``. The endpoint is unauthenticated, as Prometheus
expects: it holds no case, person or organisation; expose it to the monitoring network only
(docs/metrics.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pathway.metrics.workflow import code

__all__ = [
    "UNMATCHED",
    "HttpMetrics",
    "RequestMetrics",
    "install",
    "metrics_of",
    "record_decode",
    "route_template",
]

#: The route label of a request that matched no route (a 404, a probe of an unknown path).
UNMATCHED: Final = "unmatched"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
Server = Literal["gateway", "codec_server"]


@dataclass
class HttpMetrics:
    """One server's registry and metrics (:func:`install` keeps it on ``app.state.metrics``)."""

    server: Server
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = f"pathway_{self.server}"
        self.requests = Counter(
            f"{prefix}_requests",
            f"HTTP requests answered by the {self.server}, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            f"{prefix}_request_duration_seconds",
            f"Time the {self.server} took to answer, by route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        #: The codec server's decodes (None on the gateway).
        self.decodes: Counter | None = None
        self.decoded_payloads: Counter | None = None
        if self.server == "codec_server":
            self.decodes = Counter(
                "pathway_codec_decodes",
                "Decode requests answered with payloads, by the caller's role",
                ["role"],
                registry=self.registry,
            )
            self.decoded_payloads = Counter(
                "pathway_codec_decoded_payloads",
                "Payloads decoded, by the caller's role",
                ["role"],
                registry=self.registry,
            )

    def exposition(self) -> bytes:
        """The registry as Prometheus text."""
        return generate_latest(self.registry)


def route_template(scope: Scope, routes: Iterable[BaseRoute] = ()) -> str:
    """The template of the route ``scope`` matched: the route the router put in the scope
    (FastAPI's routes do), else the first of ``routes`` that fully matches it; else
    :data:`UNMATCHED`. Never the concrete path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    for candidate in routes:
        match, _ = candidate.matches(scope)
        template = getattr(candidate, "path", None)
        if match is Match.FULL and isinstance(template, str) and template:
            return template
    return UNMATCHED


class RequestMetrics:
    """ASGI middleware counting every HTTP request by method, route template and status, and
    timing it. A request that raised counts as 500."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = route_template(scope, self.routes)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)


def install(app: FastAPI, server: Server) -> HttpMetrics:
    """Count ``app``'s requests and serve its registry at ``GET /metrics`` (left out of the
    OpenAPI document). Returns the metrics, also kept on ``app.state.metrics``."""
    metrics = HttpMetrics(server)
    app.state.metrics = metrics

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False, name="metrics"
    )
    app.add_middleware(RequestMetrics, metrics=metrics, routes=app.router.routes)
    return metrics


def metrics_of(request: Request) -> HttpMetrics | None:
    """The metrics :func:`install` put on the request's app, if any."""
    metrics = getattr(request.app.state, "metrics", None)
    return metrics if isinstance(metrics, HttpMetrics) else None


def record_decode(request: Request, role: str, payloads: int) -> None:
    """Count one decode request answered with ``payloads`` payloads for a caller of ``role``."""
    metrics = metrics_of(request)
    if metrics is not None and metrics.decodes and metrics.decoded_payloads:
        metrics.decodes.labels(code(role)).inc()
        metrics.decoded_payloads.labels(code(role)).inc(payloads)
