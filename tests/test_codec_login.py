"""The codec server's sign-in (issue 11, item 7): only a form posted from its own page signs a
browser in (a cross-site post is refused 403, with no cookie), and after five failed sign-ins
from one address within five minutes that address gets 429 with Retry-After until the window
has passed; a successful sign-in clears the count. Checked through the app and, for what a real
browser sends, in Chromium."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pathway.access.credentials import (
    OPERATOR,
    Credentials,
    TokenEntry,
    add_token,
    hash_token,
    new_token,
)
from pathway.codec_server import (
    SESSION_COOKIE,
    FailedAttempts,
    RoleCaseAccess,
    SignIn,
    create_codec_app,
)
from pathway.codec_server.sign_in import origin_of
from pathway.domain.membership import MemberRole
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore
from pathway.web.serving import listen, serve_app
from tests.gateway_kit import unreachable_temporal
from tests.receivers import eventually, free_port
from tests.test_gateway_docs_browser import PATIENCE_MS
from tests.test_gateway_docs_browser import browser as browser  # the fixture

BASE_URL = "http://codec.test"
UI = "http://127.0.0.1:8233"
OWN_PAGE = {"Origin": BASE_URL}
TOKEN = new_token()
WINDOW = timedelta(minutes=5)


async def nobody(case_id: str, organisation: str) -> frozenset[MemberRole]:
    return frozenset()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def codec_app(tmp_path: Path, sign_in: SignIn | None = None) -> FastAPI:
    store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
    entry = TokenEntry(name="dev-operator", role=OPERATOR, sha256=hash_token(TOKEN))
    return create_codec_app(
        codec=CaseCodec(store),
        credentials=Credentials(tokens=[entry]),
        allowed_origin="http://127.0.0.1:8233",
        case_access=RoleCaseAccess(nobody, store),
        sign_in=sign_in,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> FastAPI:
    return codec_app(tmp_path, SignIn(attempts=FailedAttempts(clock=clock)))


def client_from(app: ASGIApp, address: str = "192.0.2.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def slow_bodies(app: FastAPI) -> ASGIApp:
    """``app`` receiving each request's body a moment after its headers."""

    async def receiving_later(scope: Scope, receive: Receive, send: Send) -> None:
        async def later() -> Message:
            await asyncio.sleep(0.01)
            return await receive()

        await app(scope, later, send)

    return receiving_later


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(app) as http:
        yield http


async def sign_in(
    client: httpx.AsyncClient, token: str = TOKEN, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        "/login", data={"token": token}, headers=OWN_PAGE if headers is None else headers
    )


def assert_refused(response: httpx.Response, status: int) -> None:
    """A problem document, and no session cookie."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert "set-cookie" not in response.headers
    assert TOKEN not in response.text


class TestSameOrigin:
    async def test_own_page_signs_in(self, client: httpx.AsyncClient) -> None:
        response = await sign_in(client)

        assert response.status_code == 200
        assert response.headers["set-cookie"].startswith(f"{SESSION_COOKIE}=")

    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": "https://evil.example"},
            {"Origin": "http://codec.test.evil.example"},
            {"Origin": "https://codec.test"},  # another scheme is another origin
            {"Origin": "http://codec.test:8080"},  # and another port
            {"Origin": "null"},  # a sandboxed frame, or a page that hides where it is
            {"Origin": "https://evil.example", "Referer": f"{BASE_URL}/login"},
            {"Referer": "https://evil.example/page"},
            {},
        ],
        ids=[
            "other-site",
            "look-alike",
            "other-scheme",
            "other-port",
            "null",
            "origin-wins-over-referer",
            "referer-other-site",
            "neither",
        ],
    )
    async def test_cross_site_post_is_refused_without_a_cookie(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        """A valid token posted from anywhere but the server's own page: 403, no cookie, and
        the browser is not signed in afterwards."""
        response = await sign_in(client, headers=headers)

        assert_refused(response, 403)
        assert "/login" in response.json()["detail"]
        assert SESSION_COOKIE not in client.cookies
        assert "Signed in" not in (await client.get("/login")).text

    @pytest.mark.parametrize(
        "headers",
        [
            {"Referer": f"{BASE_URL}/login"},
            {"Origin": "HTTP://Codec.Test:80"},
        ],
        ids=["referer-without-origin", "default-port-and-case"],
    )
    async def test_own_origin_in_other_words_is_accepted(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert (await sign_in(client, headers=headers)).status_code == 200

    async def test_configured_origin_is_the_only_one(self, tmp_path: Path) -> None:
        """Given its own origin (as pathway dev gives it), the server refuses a form from any
        other, even one matching the Host the request was sent to (a DNS rebinding page)."""
        app = codec_app(tmp_path, SignIn(own_origin="http://127.0.0.1:8234"))
        async with client_from(app) as client:
            rebound = await sign_in(client, headers={"Origin": BASE_URL})
            own = await sign_in(client, headers={"Origin": "http://127.0.0.1:8234"})

        assert_refused(rebound, 403)
        assert "http://127.0.0.1:8234/login" in rebound.json()["detail"]
        assert own.status_code == 200

    async def test_refused_posts_are_not_failed_attempts(self, client: httpx.AsyncClient) -> None:
        """A foreign page cannot lock its visitor out: its posts are not counted."""
        for _ in range(10):
            assert_refused(await sign_in(client, "wrong", {"Origin": "https://evil.example"}), 403)

        assert (await sign_in(client)).status_code == 200

    def test_origin_of(self) -> None:
        assert origin_of("http://127.0.0.1:8234") == ("http", "127.0.0.1", 8234)
        assert origin_of("https://Example.org/login?x=1") == ("https", "example.org", 443)
        for other in ("null", "", "file:///etc/passwd", "http://", "http://h:99999"):
            assert origin_of(other) is None


class TestThrottle:
    async def test_sixth_failure_in_five_minutes_gets_429_until_the_window_passes(
        self, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        """Five wrong tokens a minute apart: 401 each. The sixth attempt, even with the right
        token, is 429 with Retry-After (the first failure leaves the window then), and no
        cookie; once the window has passed, the right token signs in."""
        for _ in range(5):
            response = await sign_in(client, "wrong")
            assert response.status_code == 401
            assert "set-cookie" not in response.headers
            clock.now += 60

        # Now: 300 s after the first failure, 240 s after the second.
        clock.now -= 1
        sixth = await sign_in(client)
        assert_refused(sixth, 429)
        assert sixth.headers["retry-after"] == "1"
        clock.now += 0.5
        assert_refused(await sign_in(client), 429)

        clock.now += 0.5  # the first failure is five minutes old: four left in the window
        assert (await sign_in(client)).status_code == 200

    async def test_retry_after_counts_down_from_the_oldest_failure(
        self, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        for _ in range(5):
            await sign_in(client, "wrong")
            clock.now += 10
        response = await sign_in(client, "wrong")

        assert_refused(response, 429)
        assert response.headers["retry-after"] == str(300 - 50)
        assert "250 s" in response.json()["detail"]

    async def test_throttled_attempts_do_not_extend_the_wait(
        self, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        for _ in range(5):
            await sign_in(client, "wrong")
        for _ in range(20):
            clock.now += 10
            assert_refused(await sign_in(client, "wrong"), 429)

        clock.now += WINDOW.total_seconds() - 200
        assert (await sign_in(client)).status_code == 200

    async def test_success_clears_the_failures(
        self, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        for _ in range(4):
            assert (await sign_in(client, "wrong")).status_code == 401
        assert (await sign_in(client)).status_code == 200

        for _ in range(4):
            assert (await sign_in(client, "wrong")).status_code == 401
        assert (await sign_in(client)).status_code == 200

    async def test_counted_per_source_address(self, app: FastAPI) -> None:
        async with client_from(app, "192.0.2.1") as mallory, client_from(app, "192.0.2.2") as ana:
            for _ in range(5):
                await sign_in(mallory, "wrong")

            assert_refused(await sign_in(mallory), 429)
            assert (await sign_in(ana)).status_code == 200

    async def test_attempts_sent_at_once_are_each_counted(self, app: FastAPI) -> None:
        """Twenty wrong tokens at the same moment, their bodies arriving a little after their
        headers (as a slow or scheming client sends them): five are looked at, fifteen get
        429. (Checked before the body had arrived, all twenty would pass the check.)"""
        async with client_from(slow_bodies(app)) as client:
            answers = await asyncio.gather(*(sign_in(client, f"wrong-{n}") for n in range(20)))

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] * 5 + [429] * 15

    def test_memory_is_bounded(self) -> None:
        clock = Clock()
        attempts = FailedAttempts(sources=3, clock=clock)
        for n in range(10):
            for _ in range(5):
                attempts.failed(f"10.0.0.{n}")
            clock.now += 1

        assert [f"10.0.0.{n}" for n in range(10) if attempts.retry_after(f"10.0.0.{n}")] == [
            "10.0.0.7",
            "10.0.0.8",
            "10.0.0.9",
        ]


# -- in a real browser ------------------------------------------------------------------------
@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[str]:
    """The codec server on a free loopback port, as pathway dev configures it; its origin."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    app = codec_app(tmp_path, SignIn(own_origin=origin))
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_app(app, listen("127.0.0.1", port), stop, name="codec server", graceful_seconds=2)
    )
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=5) as http:

            async def up() -> bool:
                if server.done():
                    server.result()
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=60, interval=0.05)
        yield origin
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=30)


async def test_chromium_signs_in_on_the_page_and_not_from_another_site(
    served: str, browser: Browser
) -> None:
    """What Chromium sends: the form on the server's own page signs in (its Origin header
    matches, with the page's referrer policy); the same form on another site, submitted by
    that site's script, is refused 403 and leaves no cookie."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        page.set_default_timeout(PATIENCE_MS)

        async def evil_page(route: Route) -> None:
            await route.fulfill(
                content_type="text/html",
                body=(
                    f'<form method="post" action="{served}/login">'
                    f'<input name="token" value="{TOKEN}"></form>'
                    "<script>document.forms[0].submit()</script>"
                ),
            )

        await page.route("http://evil.test/**", evil_page)
        async with page.expect_response(f"{served}/login") as refused_info:
            await page.goto("http://evil.test/", wait_until="commit")
        refused = await refused_info.value
        assert refused.status == 403
        assert await context.cookies() == []

        # A page of its own: the refused form's navigation may still be finishing on the first
        # (same context, so the cookie jar is the same).
        own = await context.new_page()
        own.set_default_timeout(PATIENCE_MS)
        await own.goto(f"{served}/login")
        await own.fill('input[name="token"]', TOKEN)
        async with own.expect_response(f"{served}/login") as signed_in_info:
            await own.click('button:has-text("Sign in")')
        signed_in = await signed_in_info.value
        assert signed_in.status == 200, await signed_in.text()
        await own.wait_for_load_state()
        assert "Signed in as" in await own.content()
        assert [cookie["name"] for cookie in await context.cookies()] == [SESSION_COOKIE]
    finally:
        await context.close()


@pytest.mark.parametrize(
    "forwarded",
    [
        {"X-Forwarded-For": "198.51.100.7"},
        {"X-Forwarded-For": "198.51.100.8, 127.0.0.1"},
        {"Forwarded": "for=198.51.100.9"},
        {"X-Real-IP": "198.51.100.10"},
    ],
)
async def test_a_forwarded_header_does_not_reset_the_throttle(
    served: str, forwarded: dict[str, str]
) -> None:
    """On a real server (uvicorn, as pathway dev serves it), after five failures from one
    client a header naming another address (from loopback, which uvicorn would trust by
    default) is not believed: still 429, and the right token is not looked at (issue 11, item
    7). The client is the socket's peer."""
    own = {"Origin": served}
    async with httpx.AsyncClient(base_url=served, timeout=5) as http:
        for n in range(5):
            failed = await http.post(
                "/login", data={"token": "wrong"}, headers={**own, **forwarded}
            )
            assert failed.status_code == 401, n
        for headers in (own, {**own, **forwarded}, {**own, "X-Forwarded-For": "203.0.113.1"}):
            assert_refused(await http.post("/login", data={"token": TOKEN}, headers=headers), 429)


class TestSessionsFollowTheCredentialsFile:
    """A session holds no token: removing the token's entry from the credentials file ends its
    sessions at their next request, without a restart (docs/operations.md)."""

    async def test_removing_the_entry_signs_the_browser_out(self, tmp_path: Path) -> None:
        path = tmp_path / "credentials.toml"
        entry, token = add_token(path, OPERATOR)
        store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
        app = create_codec_app(
            codec=CaseCodec(store),
            credentials=Credentials.load(path),
            allowed_origin="http://127.0.0.1:8233",
            case_access=RoleCaseAccess(nobody, store),
        )
        async with client_from(app) as client:
            assert (await sign_in(client, token)).status_code == 200
            assert "Signed in" in (await client.get("/login")).text
            add_token(path, OPERATOR, name="another-operator")  # the file changes, entry stays
            assert "Signed in" in (await client.get("/login")).text
            _remove_entry(path, entry.name)
            assert "Signed in" not in (await client.get("/login")).text
            add_token(path, OPERATOR, name=entry.name)  # a new token, the same name
            assert "Signed in" not in (await client.get("/login")).text

    async def test_one_codec_secret_signs_in_at_every_replica(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """PATHWAY_CODEC_SECRET: a session from one codec server counts at another."""
        from pathway.codec_server.server import case_codec_app

        monkeypatch.setenv("PATHWAY_CODEC_SECRET", secrets.token_hex(32))
        path = tmp_path / "credentials.toml"
        _, token = add_token(path, OPERATOR)
        store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
        temporal = await unreachable_temporal()
        one, two = (
            case_codec_app(temporal, store, Credentials.load(path), ui_origin=UI) for _ in range(2)
        )
        async with client_from(one) as first:
            response = await sign_in(first, token)
            assert response.status_code == 200
            cookie = first.cookies[SESSION_COOKIE]
        async with client_from(two) as second:
            second.cookies.set(SESSION_COOKIE, cookie)
            assert "Signed in" in (await second.get("/login")).text
        monkeypatch.delenv("PATHWAY_CODEC_SECRET")
        three = case_codec_app(temporal, store, Credentials.load(path), ui_origin=UI)
        async with client_from(three) as third:
            third.cookies.set(SESSION_COOKIE, cookie)
            assert "Signed in" not in (await third.get("/login")).text


def _remove_entry(path: Path, name: str) -> None:
    """The credentials file without ``name``'s entry, replaced in one step (as an editor
    saving it would)."""
    blocks = path.read_text().split("[[tokens]]")
    kept = [b for b in blocks[1:] if f'name = "{name}"' not in b]
    assert len(kept) == len(blocks) - 2, "the entry was not found"
    fresh = path.with_suffix(".new")
    fresh.write_text(blocks[0] + "".join("[[tokens]]" + b for b in kept))
    fresh.chmod(0o600)
    fresh.replace(path)
