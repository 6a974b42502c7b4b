"""The caseworker's console (issue 17), step 1: sign-in with an organisation's token, a session
cookie (HttpOnly, SameSite=Strict, Secure outside localhost), CSRF tokens on every form,
sign-out; every page no-store. In-process against the real gateway app (its Temporal is not
needed for signing in)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from pathway.access.credentials import Credentials, add_token
from pathway.access.identity import JwtSettings, JwtVerifier
from pathway.console.inbox import InboxFilters, inbox_items
from pathway.console.session import PRE_SESSION_COOKIE, SESSION_COOKIE
from pathway.domain.organisations import Organisation
from pathway.domain.state import DeadlineKind, ObligationKind
from pathway.gateway import Authenticator, GatewaySettings
from pathway.gateway.routes.obligations import (
    CaseObligations,
    ObligationsAnswer,
    OwnObligation,
    RemindedDeadline,
)
from tests.gateway_kit import TOKENS, gateway, unreachable_temporal
from tests.test_codec_login import _remove_entry

LOCAL = "http://localhost"


@pytest_asyncio.fixture
async def app() -> FastAPI:
    return gateway(await unreachable_temporal(), GatewaySettings(pepper=b"console-test-pepper"))


@pytest_asyncio.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar, on localhost (where cookies are not Secure-only)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found is not None, html
    return found.group(1)


def set_cookie_header(response: httpx.Response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


async def sign_in(browser: httpx.AsyncClient, role: str) -> httpx.Response:
    form = await browser.get("/console/sign-in")
    return await browser.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": TOKENS[role]}
    )


async def test_sign_in_page_and_its_cookie(browser: httpx.AsyncClient) -> None:
    """The form has a labelled token field and a CSRF token; the pre-session cookie is
    HttpOnly, SameSite=Strict, on /console; the page is no-store."""
    response = await browser.get("/console/sign-in")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert '<label for="token">' in response.text and 'id="token"' in response.text
    cookie = set_cookie_header(response, PRE_SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain HTTP to localhost: development
    assert (await browser.get("/console", follow_redirects=False)).headers[
        "location"
    ] == "/console/sign-in"


async def test_cookies_are_secure_outside_localhost(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        response = await client.get("/console/sign-in")
    assert "; secure" in set_cookie_header(response, PRE_SESSION_COOKIE).lower()


async def test_sign_in_session_and_sign_out(browser: httpx.AsyncClient) -> None:
    """A caseworker signs in with Caritas's token: a session cookie (HttpOnly,
    SameSite=Strict), the start page names the role; signing out ends it."""
    response = await sign_in(browser, "caritas")
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = set_cookie_header(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    home = await browser.get("/console")
    # Its Temporal is not there: the inbox says so (503), signed in.
    assert home.status_code == 503 and "Sign out" in home.text and "caritas" in home.text
    assert home.headers["cache-control"] == "no-store"
    assert TOKENS["caritas"] not in home.text
    out = await browser.post("/console/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert (await browser.get("/console", follow_redirects=False)).status_code == 303


async def test_an_unknown_token_is_refused(browser: httpx.AsyncClient) -> None:
    form = await browser.get("/console/sign-in")
    response = await browser.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": "not-a-token"}
    )
    assert response.status_code == 401
    assert 'role="alert"' in response.text and "not-a-token" not in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_forms_without_their_csrf_token_change_nothing(browser: httpx.AsyncClient) -> None:
    """A sign-in posted without the token of the browser's own cookie (as another site would
    post it) signs nobody in; a sign-out without it signs nobody out."""
    await browser.get("/console/sign-in")
    forged = await browser.post(
        "/console/sign-in", data={"csrf_token": "0" * 64, "token": TOKENS["caritas"]}
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    assert (await sign_in(browser, "police")).status_code == 303
    refused = await browser.post("/console/sign-out", data={})
    assert refused.status_code == 403
    still = await browser.get("/console", follow_redirects=False)
    assert still.status_code != 303 and "Sign out" in still.text


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def obligation(
    ob_id: str, rule: str, due: datetime | None, escalated: bool = False
) -> OwnObligation:
    return OwnObligation(
        id=ob_id,
        kind=ObligationKind.RIGHTS_INFORMATION,
        rule=rule,
        action=f"do {ob_id}",
        due_at=due,
        escalated=escalated,
    )


ANSWER = ObligationsAnswer(
    organisation=Organisation.CARITAS,
    truncated=False,
    cases=[
        CaseObligations(
            case_id="case-b",
            obligations=[
                obligation("later", "R2", NOW + timedelta(days=3)),
                obligation("undated", "R2", None),
            ],
            deadlines=[
                RemindedDeadline(
                    kind=DeadlineKind.CRISIS_ACCOMMODATION,
                    rule="K1",
                    due_at=NOW + timedelta(days=20),
                    next_reminder_at=None,
                )
            ],
        ),
        CaseObligations(
            case_id="case-a",
            obligations=[
                obligation("soon", "R3", NOW + timedelta(hours=1)),
                obligation("late", "R3", NOW - timedelta(hours=1), escalated=True),
                obligation("later-still", "R3", NOW - timedelta(days=2)),
            ],
            deadlines=[],
        ),
    ],
)


class TestInboxOrder:
    def test_overdue_first_then_by_due_time_undated_last(self) -> None:
        items = inbox_items(ANSWER, NOW)
        assert [(i.case_id, i.what) for i in items] == [
            ("case-a", "do later-still"),
            ("case-a", "do late"),
            ("case-a", "do soon"),
            ("case-b", "do later"),
            ("case-b", "crisis_accommodation"),
            ("case-b", "do undated"),
        ]
        assert [i.overdue for i in items] == [True, True, False, False, False, False]
        assert items[1].escalated is True and items[4].escalated is None

    def test_filters(self) -> None:
        within = inbox_items(ANSWER, NOW, InboxFilters(days=3))
        assert [i.what for i in within] == ["do later-still", "do late", "do soon", "do later"]
        assert {i.rule for i in inbox_items(ANSWER, NOW, InboxFilters(rule="K1"))} == {"K1"}
        only_b = inbox_items(ANSWER, NOW, InboxFilters(case_id="case-b"))
        assert {i.case_id for i in only_b} == {"case-b"} and len(only_b) == 3

    def test_any_number_of_days(self) -> None:
        """``?days=99999999`` is "any time", not a date past year 9999 (a 500, review finding
        9): every dated row, none undated."""
        dated = [i.what for i in inbox_items(ANSWER, NOW) if i.due_at is not None]
        far = inbox_items(ANSWER, NOW, InboxFilters(days=99_999_999))
        assert [i.what for i in far] == dated


async def test_analysts_get_no_inbox(browser: httpx.AsyncClient) -> None:
    """Analysts read aggregates only: the inbox answers 403 (the obligations route's own
    refusal), as a page."""
    await sign_in(browser, "analyst")
    response = await browser.get("/console")
    assert response.status_code == 403 and "analysts read aggregates only" in response.text


@pytest.mark.parametrize("with_jwks", [False, True], ids=["tokens", "tokens-and-jwks"])
async def test_removing_a_token_ends_its_console_sessions(tmp_path: Path, with_jwks: bool) -> None:
    """A session keeps the start of its token's hash: once the token's entry leaves the
    credentials file, the next request of its browser is signed out (docs/console.md), without
    a restart, also where JWTs are accepted too; a new token under the same name does not bring
    the session back."""
    path = tmp_path / "credentials.toml"
    entry, token = add_token(path, "caritas")
    jwt = JwtVerifier(
        JwtSettings(
            jwks_url="https://idp.test/jwks",
            issuer="https://idp.test",
            audience="pathway",
            role_claim="org",
        )
    )
    authenticator = Authenticator(Credentials.load(path), jwt if with_jwks else None)
    app = gateway(
        await unreachable_temporal(), GatewaySettings(pepper=b"console-test-pepper"), authenticator
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as b:
        form = await b.get("/console/sign-in")
        signed = await b.post(
            "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": token}
        )
        assert signed.status_code == 303
        assert "Sign out" in (await b.get("/console")).text
        add_token(path, "police")  # the file changes; Caritas's entry stays
        assert "Sign out" in (await b.get("/console")).text
        _remove_entry(path, entry.name)
        gone = await b.get("/console", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"] == "/console/sign-in"
        add_token(path, "caritas", name=entry.name)  # a new token, the same name
        again = await b.get("/console", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == "/console/sign-in"


async def test_the_console_counts_against_the_organisations_rate() -> None:
    """The console is no way around the API's rate limit: each signed-in page takes from the
    organisation's token bucket, and a spent one is a 429 page with Retry-After (review
    finding 5)."""
    app = gateway(
        await unreachable_temporal(),
        GatewaySettings(pepper=b"console-test-pepper", rate_per_second=0.01, burst=2),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as b:
        assert (await sign_in(b, "caritas")).status_code == 303
        assert (await b.get("/console")).status_code == 503  # its Temporal is not there
        assert (await b.get("/console")).status_code == 503
        spent = await b.get("/console")
        assert spent.status_code == 429 and int(spent.headers["retry-after"]) >= 1
        assert "Too many requests" in spent.text and spent.headers["cache-control"] == "no-store"
