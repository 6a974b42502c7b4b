"""Every server the project runs answers on connections with TCP_NODELAY set (issue 14).

asyncio sets TCP_NODELAY only on sockets whose Python object says ``proto == IPPROTO_TCP``; a
socket from ``socket.create_server()`` says 0, and so do the connections accepted from it, so
uvicorn serving such a socket would leave Nagle's algorithm on: with delayed ACKs, a small
answer on a reused connection then waits about 40 ms. :func:`pathway.web.serving.listen` sets
the option on the listening socket, which Linux copies to every accepted connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pathway.web.serving import listen, serve_app


def accepted_socket_nodelay(peer: tuple[str, int]) -> int | None:
    """TCP_NODELAY of this process's socket whose peer is ``peer`` (the server's end of a
    connection to it), or None if there is none."""
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # not a socket
        with sock:
            try:
                if sock.type == socket.SOCK_STREAM and sock.getpeername() == peer:
                    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            except OSError:
                continue  # a listening or unconnected socket
    return None


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[int]:
    """A tiny app served as the gateway and the codec server are (listen + serve_app)."""
    sock = listen("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    stop = asyncio.Event()
    app = Starlette(routes=[Route("/", hello)])
    serving = asyncio.create_task(serve_app(app, sock, stop, name="nodelay", graceful_seconds=1))
    try:
        yield port
    finally:
        stop.set()
        await serving


class TestAcceptedConnections:
    async def test_accepted_connection_has_nodelay(self) -> None:
        """The server's end of an accepted HTTP connection has TCP_NODELAY on."""
        async with served() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
                await writer.drain()
                assert b"200" in await reader.readline()
                assert accepted_socket_nodelay(writer.get_extra_info("sockname")) == 1
            finally:
                writer.close()
                await writer.wait_closed()
