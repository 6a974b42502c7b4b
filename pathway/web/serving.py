"""Serving HTTP apps inside a process that owns its own event loop and signals (the codec
server, the gateway and the web UI's front under ``pathway dev``), and the reverse proxy that
fronts the Temporal web UI."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
from collections.abc import AsyncIterator, Callable, Collection, Generator, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Final

import httpx
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["AddressUnavailable", "JsonPatch", "ReverseProxy", "listen", "serve_app"]

log = structlog.stdlib.get_logger("pathway.http")


class AddressUnavailable(OSError):
    """A listening socket could not be made; the message is one line naming the address."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"{host}:{port} {reason}")
        self.host = host
        self.port = port
        self.reason = reason


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, to hand to :func:`serve_app` later.

    Binding early lets a caller find a taken port before it starts anything else, and keeps
    the port its own while the rest starts. Raises :class:`AddressUnavailable` (one line:
    "127.0.0.1:8080 is already in use") if the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            reason = "is already in use"
        elif error.errno == errno.EACCES:
            reason = "may not be bound by this user (permission denied)"
        else:
            reason = f"cannot be bound: {error.strerror or error}"
        raise AddressUnavailable(host, port, reason) from None
    # Nagle plus delayed ACK stalls small responses on a reused connection by ~40 ms
    # (TEMPORAL-NOTES); accepted connections inherit the listening socket's option on Linux.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _CallerOwnsSignals(uvicorn.Server):
    """uvicorn would take over SIGINT/SIGTERM; here the caller owns them and sets ``stop``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_app(
    app: Starlette,
    sock: socket.socket,
    stop: asyncio.Event,
    *,
    name: str,
    graceful_seconds: int,
    **announce: Any,
) -> None:
    """Serve ``app`` on ``sock``, a listening socket from :func:`listen` (this function owns
    and closes it), until ``stop`` is set, then shut down gracefully (requests in flight get
    ``graceful_seconds``). ``announce`` goes into the log line.

    The client of a request is the socket's peer: proxy headers (``X-Forwarded-For``,
    ``X-Forwarded-Proto``) are not believed, from any address.

    The caller binds, not uvicorn: uvicorn answers a bind failure with sys.exit, which would
    end the caller's whole event loop, where :func:`listen` raises :class:`AddressUnavailable`
    naming the address.
    """
    host, port = sock.getsockname()[:2]
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
        # The client is the socket's peer, never what a header claims: uvicorn by default
        # believes X-Forwarded-For and X-Forwarded-Proto from 127.0.0.1, so anyone on the host
        # (or a local proxy passing the header on) could pick the address that the codec
        # server's /login throttle and the logs count (issue 11, item 7). Behind a reverse
        # proxy every request then comes from the proxy (docs/privacy.md).
        proxy_headers=False,
        forwarded_allow_ips="",
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


# Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection, never forwarded.
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

#: Rewrites a JSON answer of the upstream (given the decoded body, returns the new one).
JsonPatch = Callable[[Any], Any]


def _without_cookies(header: str, drop: Collection[str]) -> str | None:
    """The ``Cookie`` header without the cookies named in ``drop`` (None if none is left)."""
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and part.strip().partition("=")[0] not in drop
    ]
    return "; ".join(kept) or None


class ReverseProxy:
    """An app that forwards every request to ``upstream`` (``http://host:port``) and streams
    the answer back, status and headers as they are (``app``); :meth:`aclose` when done.

    ``json_patches`` maps a path to a function that rewrites the upstream's JSON answer to a
    ``GET`` of that path. ``drop_cookies`` names cookies the upstream never sees (cookies are
    per host, not per port: a browser sends the codec server's session cookie to every port of
    127.0.0.1). An unreachable upstream answers 502.
    """

    def __init__(
        self,
        upstream: str,
        *,
        json_patches: Mapping[str, JsonPatch] | None = None,
        drop_cookies: Collection[str] = (),
    ) -> None:
        self.upstream = httpx.URL(upstream)
        self._patches = dict(json_patches or {})
        self._drop = frozenset(drop_cookies)
        # No read timeout: the web UI long-polls some of its API calls. No cookie jar: the
        # cookies of one browser must never be kept and sent on with another's requests.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=None),
            follow_redirects=False,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=_METHODS)])

    async def aclose(self) -> None:
        """Close the connections to the upstream."""
        await self._client.aclose()

    def _request_headers(self, request: Request, *, identity: bool) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        for key, value in request.headers.items():
            lower = key.lower()
            if (
                lower in _HOP_BY_HOP
                or lower == "content-length"
                or (identity and lower == "accept-encoding")
            ):
                continue
            if lower == "cookie" and self._drop:
                kept = _without_cookies(value, self._drop)
                if kept is None:
                    continue
                value = kept
            headers.append((key, value))
        if identity:
            # The answer is rewritten: it must come uncompressed.
            headers.append(("accept-encoding", "identity"))
        return headers

    @staticmethod
    def _answer_headers(response: httpx.Response, *, rewritten: bool) -> list[tuple[bytes, bytes]]:
        raw: list[tuple[bytes, bytes]] = []
        for key, value in response.headers.multi_items():
            lower = key.lower()
            if lower in _HOP_BY_HOP or (
                rewritten and lower in ("content-length", "content-encoding", "etag")
            ):
                continue
            raw.append((lower.encode("latin-1"), value.encode("latin-1")))
        return raw

    async def _forward(self, request: Request) -> Response:
        patch = self._patches.get(request.url.path) if request.method == "GET" else None
        # The raw path: a workflow ID's %2F must reach the upstream still encoded.
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        query: bytes = request.scope.get("query_string", b"")
        outgoing = self._client.build_request(
            request.method,
            self.upstream.copy_with(raw_path=raw_path + (b"?" + query if query else b"")),
            headers=self._request_headers(request, identity=patch is not None),
            # Read whole (the UI's requests are small): the upstream gets a Content-Length.
            content=await request.body() if request.method not in ("GET", "HEAD") else None,
        )
        try:
            answer = await self._client.send(outgoing, stream=True)
        except httpx.HTTPError as error:
            log.warning(
                "proxy upstream unavailable",
                upstream=str(self.upstream),
                error=type(error).__name__,
            )
            return PlainTextResponse("the upstream server is not available\n", status_code=502)
        if patch is not None and answer.status_code == 200:
            try:
                body = await answer.aread()
            finally:
                await answer.aclose()
            try:
                content = json.dumps(patch(json.loads(body))).encode()
            except (ValueError, TypeError, KeyError, AttributeError):
                content = body  # not the shape the patch expects: passed on unchanged
            rewritten = Response(content, status_code=200)
            rewritten.raw_headers = [
                *self._answer_headers(answer, rewritten=True),
                (b"content-length", str(len(content)).encode()),
            ]
            return rewritten

        async def body_chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:
                await answer.aclose()

        streamed = StreamingResponse(
            body_chunks(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
        )
        streamed.raw_headers = self._answer_headers(answer, rewritten=False)
        return streamed
