"""Real receivers for notification tests: an HTTP webhook endpoint and an SMTP server.

Both listen on 127.0.0.1 on an ephemeral port, record what arrives, and can be told to fail, so
tests exercise the real wire protocols instead of mocks.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import inspect
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import httpx
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from pathway.domain.state import Notification
from pathway.web.serving import listen, serve_app

T = TypeVar("T")

#: How long a test waits for a Temporal dev server it starts to answer (the SDK's default is 5 s,
#: which a busy machine exceeds: CI saw "did not start within 5s").
DEV_SERVER_STARTUP = timedelta(seconds=120)


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
) -> T: ...
@overload
async def eventually(
    predicate: Callable[[], T],
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
) -> T: ...
async def eventually(
    predicate: Callable[[], Any],
    # The name callers know from sdk-python's assert_eq_eventually; a deadline for polling,
    # not a cancellation timeout a caller could replace with asyncio.timeout.
    # Generous: a test waits this long only when it is about to fail, and CI machines are busy.
    timeout: float = 60.0,  # noqa: ASYNC109
    interval: float = 0.02,
) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails the test with an ``AssertionError`` if it is still falsy after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        value = await result if inspect.isawaitable(result) else result
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Lifecycle:
    """Sync and async context-manager support around ``start()`` and ``stop()``."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        # Starting joins a thread; off the event loop so other tasks keep running meanwhile.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


# -- webhook -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request as the webhook receiver saw it, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def accepted(self) -> bool:
        """Whether the answer counts as delivered for the sender (2xx or 409 duplicate)."""
        return 200 <= self.status < 300 or self.status == HTTPStatus.CONFLICT


class WebhookReceiver(_Lifecycle):
    """An HTTP server that records every request and answers ``status_code``.

    ``fail_next = n`` makes the next ``n`` requests get a 500 (a receiver that is briefly down);
    ``status_code`` is the answer otherwise (200 by default; set 409 to play a receiver that
    already has the notification, or 503 for one that stays down). ``answer_delay`` seconds pass
    between recording a request and answering it (a slow receiver: a sender that dies meanwhile
    never learns that the notification arrived). ``port`` 0 lets the OS pick one; a given port
    brings a receiver up at a URL the senders already have (an endpoint that was down).
    """

    def __init__(self, status_code: int = HTTPStatus.OK, *, port: int = 0) -> None:
        self.status_code = status_code
        self.fail_next = 0
        self.answer_delay = 0.0
        self._port = port
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to POST notifications to."""
        if self._server is None:
            raise RuntimeError("the webhook receiver is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/notifications"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def notifications(self, *, deduplicate: bool = True) -> list[Notification]:
        """The notifications accepted so far, in arrival order; with ``deduplicate`` only the first
        of each idempotency key, as a receiver honouring ``Idempotency-Key`` would keep them."""
        seen: set[str] = set()
        accepted: list[Notification] = []
        for request in self.requests:
            if not request.accepted:
                continue
            notification = Notification.model_validate_json(request.body)
            if deduplicate and notification.idempotency_key in seen:
                continue
            seen.add(notification.idempotency_key)
            accepted.append(notification)
        return accepted

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                status = int(HTTPStatus.INTERNAL_SERVER_ERROR)
            else:
                status = int(self.status_code)
            # Recorded before answering, so a sender that has its answer sees the request here.
            self._requests.append(ReceivedRequest(method, path, headers, body, status))
        return status

    def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1 and serve in a background thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver._answer("POST", self.path, dict(self.headers.items()), body)
                if receiver.answer_delay > 0:
                    time.sleep(receiver.answer_delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    # The sender went away while the answer was delayed (e.g. it was killed):
                    # the request is recorded, the answer has nobody to go to.
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output to what the tests say

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() waits up to one interval for serve_forever to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None


# -- SMTP --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP receiver accepted it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class _SmtpHandler:
    """The aiosmtpd handler: records each message, or refuses it while ``fail_next`` lasts."""

    mails: list[ReceivedMail] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (the name aiosmtpd calls)
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return "451 Requested action aborted: local error in processing"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)  # policy.default always builds these
            self.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpReceiver(_Lifecycle):
    """An SMTP server (aiosmtpd in its own thread) that records every message it accepts.

    ``fail_next = n`` makes it answer the next ``n`` messages with a transient 451.
    """

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._handler = _SmtpHandler()
        self.port = 0
        self._controller: Controller | None = None

    @property
    def fail_next(self) -> int:
        """How many of the next messages are refused with 451."""
        return self._handler.fail_next

    @fail_next.setter
    def fail_next(self, value: int) -> None:
        with self._handler.lock:
            self._handler.fail_next = value

    @property
    def mails(self) -> list[ReceivedMail]:
        """Every accepted message with its envelope, in arrival order (a copy)."""
        with self._handler.lock:
            return list(self._handler.mails)

    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, in arrival order."""
        return [mail.message for mail in self.mails]

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1; returns once the server answers."""
        # aiosmtpd's Controller needs a concrete port (it connects to it to check readiness), so
        # one is picked first; the tiny race with other processes is acceptable in tests.
        self.port = free_port()
        controller = Controller(self._handler, hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop the server and its thread."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None


@asynccontextmanager
async def served(
    app: Starlette, port: int, *, probe: str = "/healthz", name: str = "test-app"
) -> AsyncIterator[str]:
    """``app`` served by the project's own server on 127.0.0.1:``port`` until the block ends,
    also when it fails; yields its origin (``http://127.0.0.1:PORT``) once ``probe`` answers
    200. A bind that fails raises its error rather than waiting."""
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_app(app, listen("127.0.0.1", port), stop, name=name, graceful_seconds=2)
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=5) as client:

            async def up() -> bool:
                if server.done():
                    server.result()  # the bind failed: raise its error
                try:
                    return (await client.get(probe)).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=60, interval=0.05)
        yield origin
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=30)
