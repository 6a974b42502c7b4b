"""Serving apps on sockets bound early, and the front `pathway dev` puts before the Temporal web
UI: everything passes through as it is, except the UI's codec settings and the codec session
cookie."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pathway.codec_server import SESSION_COOKIE
from pathway.dev import ui_codec_settings
from pathway.web.serving import AddressUnavailable, ReverseProxy, listen, serve_app
from tests.receivers import eventually, free_port

UPSTREAM_SETTINGS = {
    "Auth": {"Enabled": False},
    "Codec": {
        "Endpoint": "http://127.0.0.1:1",
        "PassAccessToken": True,
        "IncludeCredentials": False,
        "DefaultErrorMessage": "",
    },
    "Version": "2.54.1",
}
BIG = "workflow history " * 2000


async def _settings(request: Request) -> Response:
    return JSONResponse(UPSTREAM_SETTINGS)


async def _echo(request: Request) -> Response:
    response = JSONResponse(
        {
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "cookie": request.headers.get("cookie"),
            "csrf": request.headers.get("x-csrf-token"),
            "body": (await request.body()).decode(),
        },
        status_code=201,
    )
    response.set_cookie("_csrf", "token-1")
    response.set_cookie("other", "2")
    return response


async def _client(request: Request) -> Response:
    host = request.client.host if request.client else None
    return JSONResponse({"host": host, "scheme": request.url.scheme})


async def _big(request: Request) -> Response:
    return PlainTextResponse(BIG)


UPSTREAM = Starlette(
    routes=[
        Route("/api/v1/settings", _settings),
        Route("/echo/{rest:path}", _echo, methods=["GET", "POST", "DELETE"]),
        Route("/big", _big),
        Route("/client", _client),
    ],
    middleware=[Middleware(GZipMiddleware, minimum_size=100)],
)


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` on a free loopback port until the block ends (also when it fails)."""
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_app(app, listen("127.0.0.1", port), stop, name="test", graceful_seconds=1)
    )
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        with contextlib.suppress(httpx.TransportError):
            async with httpx.AsyncClient() as http:
                await http.get(url)
                return True
        return False

    try:
        await eventually(up, timeout=30)
        yield url
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@pytest_asyncio.fixture
async def front() -> AsyncIterator[str]:
    """The front as `pathway dev` sets it up, before a stand-in for the Temporal UI server."""
    async with served(UPSTREAM) as upstream:
        proxy = ReverseProxy(
            upstream,
            json_patches={"/api/v1/settings": ui_codec_settings("http://127.0.0.1:8234")},
            drop_cookies={SESSION_COOKIE},
        )
        try:
            async with served(proxy.app) as url:
                yield url
        finally:
            await proxy.aclose()


class TestListen:
    def test_a_taken_port_is_named(self) -> None:
        """Binding a port something listens on fails with one line naming the address."""
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]

            with pytest.raises(AddressUnavailable) as caught:
                listen("127.0.0.1", port)

        assert str(caught.value) == f"127.0.0.1:{port} is already in use"
        assert caught.value.port == port

    async def test_serves_on_the_socket_bound_before(self) -> None:
        """A socket bound early is what the app is served on."""
        sock = listen("127.0.0.1", 0)
        port = sock.getsockname()[1]
        stop = asyncio.Event()
        task = asyncio.create_task(serve_app(UPSTREAM, sock, stop, name="test", graceful_seconds=1))
        try:
            async with httpx.AsyncClient() as http:
                answer = await eventually(lambda: http.get(f"http://127.0.0.1:{port}/big"))
            assert answer.text == BIG
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        assert sock.fileno() == -1  # closed by serve_app

    async def test_proxy_headers_are_not_believed(self) -> None:
        """The client is the socket's peer: X-Forwarded-For and X-Forwarded-Proto from
        loopback (which uvicorn trusts by default) change neither the address nor the scheme
        (issue 11, item 7: else the codec server's /login throttle counts whatever address a
        client names)."""
        async with served(UPSTREAM) as url, httpx.AsyncClient() as http:
            answer = await http.get(
                f"{url}/client",
                headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
            )

        assert answer.json() == {"host": "127.0.0.1", "scheme": "http"}


class TestReverseProxy:
    async def test_settings_name_the_codec_server_with_credentials(self, front: str) -> None:
        """The UI's settings say: send the browser's credentials to the codec server; the rest
        is the UI server's own answer."""
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{front}/api/v1/settings", headers={"Accept-Encoding": "gzip"})

        assert answer.status_code == 200
        settings = answer.json()
        assert settings["Codec"] == {
            "Endpoint": "http://127.0.0.1:8234",
            "PassAccessToken": False,
            "IncludeCredentials": True,
            "DefaultErrorMessage": "",
        }
        assert settings["Auth"] == UPSTREAM_SETTINGS["Auth"]
        assert settings["Version"] == "2.54.1"

    async def test_requests_pass_through_as_they_are(self, front: str) -> None:
        """Method, encoded path, query, body and headers reach the upstream unchanged; its
        status and every Set-Cookie come back."""
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{front}/echo/workflows/case%2Fone/history?a=1&b=x%20y",
                content=b'{"reason": "x"}',
                headers={"X-CSRF-TOKEN": "token-1"},
            )

        assert answer.status_code == 201
        echoed = answer.json()
        assert echoed["method"] == "POST"
        assert echoed["raw_path"] == "/echo/workflows/case%2Fone/history"
        assert echoed["query"] == "a=1&b=x%20y"
        assert echoed["body"] == '{"reason": "x"}'
        assert echoed["csrf"] == "token-1"
        cookies = answer.headers.get_list("set-cookie")
        assert [c.split(";")[0] for c in cookies] == ["_csrf=token-1", "other=2"]

    async def test_the_codec_session_never_reaches_the_ui_server(self, front: str) -> None:
        """Cookies are per host, not per port: the codec session cookie the browser sends to
        the UI's port is dropped, the UI's own cookies pass."""
        async with httpx.AsyncClient() as http:
            answer = await http.get(
                f"{front}/echo/x",
                headers={"Cookie": f"_csrf=token-1; {SESSION_COOKIE}=secret-session; theme=dark"},
            )
            http.cookies.clear()  # what the answer set: only the header below is sent
            alone = await http.get(
                f"{front}/echo/x", headers={"Cookie": f"{SESSION_COOKIE}=secret-session"}
            )

        assert answer.json()["cookie"] == "_csrf=token-1; theme=dark"
        assert alone.json()["cookie"] is None

    async def test_no_cookie_is_kept_between_browsers(self, front: str) -> None:
        """Cookies the UI server sets go to the browser that asked, and are never sent on by
        the front with another browser's requests."""
        async with httpx.AsyncClient() as first:
            assert (await first.get(f"{front}/echo/x")).cookies["_csrf"] == "token-1"
        async with httpx.AsyncClient() as second:
            answer = await second.get(f"{front}/echo/x")

        assert answer.json()["cookie"] is None

    async def test_compressed_answers_pass_compressed(self, front: str) -> None:
        """A gzip answer is streamed as it came (not decoded and re-encoded on the way)."""
        async with httpx.AsyncClient() as http:
            request = http.build_request("GET", f"{front}/big", headers={"Accept-Encoding": "gzip"})
            answer = await http.send(request, stream=True)
            try:
                raw = b"".join([chunk async for chunk in answer.aiter_raw()])
            finally:
                await answer.aclose()

        assert answer.headers["content-encoding"] == "gzip"
        assert gzip.decompress(raw).decode() == BIG

    async def test_a_down_upstream_answers_502(self) -> None:
        """Without the UI server behind it, the front answers 502, not a hang or a 500."""
        proxy = ReverseProxy(f"http://127.0.0.1:{free_port()}")
        try:
            async with served(proxy.app) as url, httpx.AsyncClient() as http:
                answer = await http.get(f"{url}/anything")
        finally:
            await proxy.aclose()

        assert answer.status_code == 502
