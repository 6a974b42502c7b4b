"""The console's sign-in with the organisation's identity provider (issue 17 item 1): OpenID
Connect's authorization code flow with PKCE, ``state`` and ``nonce``, against a real provider
on 127.0.0.1 (tests/oidc_provider.py), the gateway in-process. The browser is httpx, following
each redirect by hand: to the provider, its sign-in page, back to the console's callback, on
to the inbox. Every refusal the callback owes is made to happen once."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import SecretStr
from structlog.testing import capture_logs
from temporalio.client import Client

from pathway import settings
from pathway.access.credentials import SESSION_TTL, SessionSigner
from pathway.access.identity import Authenticator, GatewayConfigError, JwtSettings, JwtVerifier
from pathway.console import ConsoleSettings, console_settings
from pathway.console.oidc import (
    FLOW_COOKIE,
    Flow,
    FlowSigner,
    OidcClient,
    OidcSettings,
    code_challenge,
)
from pathway.console.session import PRE_SESSION_COOKIE, SESSION_COOKIE
from pathway.gateway import GatewaySettings, create_gateway_app
from tests.gateway_kit import credentials, unreachable_temporal
from tests.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROLE_CLAIM,
    IdentityProvider,
    running_provider,
)
from tests.receivers import free_port
from tests.test_console import set_cookie_header

LOCAL = "http://localhost"
REDIRECT = f"{LOCAL}/console/sign-in/oidc/callback"
SECRET = bytes(range(32))


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[IdentityProvider]:
    async with running_provider(host="127.0.0.1", redirect_uri=REDIRECT) as idp:
        yield idp


async def console_app(
    issuer: str,
    jwks_url: str,
    *,
    client_secret: str = CLIENT_SECRET,
    redirect_url: str = REDIRECT,
    temporal: tuple[Client, GatewaySettings] | None = None,
) -> FastAPI:
    """The gateway with OIDC sign-in at ``issuer``: bearer JWTs for the API have their own
    audience; ID tokens are checked with the same settings but the client ID as audience.
    ``temporal``: its client and settings (default: a Temporal that is not there)."""
    jwt = JwtVerifier(
        JwtSettings(
            jwks_url=jwks_url, issuer=issuer, audience="pathway-gateway", role_claim=ROLE_CLAIM
        )
    )
    console = ConsoleSettings(
        secret=SECRET,
        oidc=OidcSettings(
            issuer=issuer,
            client_id=CLIENT_ID,
            client_secret=SecretStr(client_secret),
            redirect_url=redirect_url,
        ),
    )
    client, gateway_settings = temporal or (
        await unreachable_temporal(),
        GatewaySettings(pepper=b"console-oidc-test-pepper"),
    )
    return create_gateway_app(
        client=client,
        authenticator=Authenticator(credentials(), jwt),
        settings=gateway_settings,
        console=console,
    )


@pytest_asyncio.fixture
async def browser(provider: IdentityProvider) -> AsyncIterator[httpx.AsyncClient]:
    """The console's side of a browser: a cookie jar on localhost."""
    app = await console_app(provider.issuer, provider.jwks_url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as c:
        yield c


@pytest_asyncio.fixture
async def at_provider(provider: IdentityProvider) -> AsyncIterator[httpx.AsyncClient]:
    """The provider's side of the same browser."""
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=10) as c:
        yield c


async def to_provider(browser: httpx.AsyncClient, at_provider: httpx.AsyncClient) -> str:
    """Start a sign-in and sign in at the provider: the callback address it sends back to."""
    start = await browser.get("/console/sign-in/oidc")
    assert start.status_code == 303, start.text
    sign_in_page = await at_provider.get(start.headers["location"])
    assert sign_in_page.status_code == 200, sign_in_page.text
    ticket = re.search(r"name='ticket' value='([^']+)'", sign_in_page.text)
    assert ticket is not None
    approved = await at_provider.post("/authorize", data={"ticket": ticket.group(1)})
    assert approved.status_code == 303
    back: str = approved.headers["location"]
    assert back.startswith(REDIRECT + "?")
    return back


def local(url: str) -> str:
    """The path and query of a console address (the in-process client's base is LOCAL)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def refusal(logs: Sequence[Mapping[str, Any]]) -> str | None:
    reasons = [e["reason"] for e in logs if e["event"] == "console oidc sign-in refused"]
    assert len(reasons) <= 1, logs
    return reasons[0] if reasons else None


async def refused_page(browser: httpx.AsyncClient, callback: httpx.Response) -> httpx.Response:
    """The refusal a callback led to: a 303 to the plain refusal page, the flow cookie gone,
    no session; the page itself, no-store."""
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"].startswith("/console/sign-in/oidc/refused?why=")
    assert SESSION_COOKIE not in callback.headers.get("set-cookie", "")
    assert "max-age=0" in set_cookie_header(callback, FLOW_COOKIE).lower()
    answer = await browser.get(callback.headers["location"])
    assert answer.headers["cache-control"] == "no-store"
    assert "Traceback" not in answer.text
    home = await browser.get("/console", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/console/sign-in"
    return answer


async def test_sign_in_page_offers_the_provider(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/sign-in")
    assert 'href="/console/sign-in/oidc"' in page.text
    assert "Sign in with your organisation's identity provider</a>" in page.text
    assert 'id="token"' in page.text  # the token form stays


async def test_the_flow_signs_in(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    """Start: 303 to the provider with a code challenge (S256), state and nonce, and a Lax
    flow cookie on the flow's path; back at the callback: the provider gave the code for the
    verifier (its PKCE check passed), the session cookie is a JWT sign-in's (Strict, eight
    hours, no credential), the page moves on to /console, where the organisation is signed
    in. No code, state or token is logged, nor left in the final address."""
    await browser.get("/console/sign-in")  # a pre-session cookie, which the session replaces
    with capture_logs() as logs:
        start = await browser.get("/console/sign-in/oidc")
        assert start.headers["cache-control"] == "no-store"
        flow_cookie = set_cookie_header(start, FLOW_COOKIE).lower()
        assert "httponly" in flow_cookie and "samesite=lax" in flow_cookie
        assert "path=/console/sign-in/oidc" in flow_cookie and "max-age=600" in flow_cookie
        asked = parse_qs(urlsplit(start.headers["location"]).query)
        assert asked["code_challenge_method"] == ["S256"]
        assert asked["scope"] == ["openid"] and asked["redirect_uri"] == [REDIRECT]
        flow = FlowSigner(SECRET).open(browser.cookies[FLOW_COOKIE])
        assert flow is not None
        assert asked["code_challenge"] == [code_challenge(flow.verifier)]
        assert asked["state"] == [flow.state] and asked["nonce"] == [flow.nonce]
        sign_in_page = await at_provider.get(start.headers["location"])
        ticket = re.search(r"name='ticket' value='([^']+)'", sign_in_page.text)
        assert ticket is not None
        approved = await at_provider.post("/authorize", data={"ticket": ticket.group(1)})
        back = approved.headers["location"]
        callback = await browser.get(local(back))
        assert callback.status_code == 200, callback.text
        assert provider.token_answers == [200]
        assert '<meta http-equiv="refresh" content="0; url=/console">' in callback.text
        assert callback.headers["cache-control"] == "no-store"
        session = set_cookie_header(callback, SESSION_COOKIE).lower()
        assert "httponly" in session and "samesite=strict" in session
        assert f"max-age={int(SESSION_TTL.total_seconds())}" in session
        assert "max-age=0" in set_cookie_header(callback, FLOW_COOKIE).lower()
        assert "max-age=0" in set_cookie_header(callback, PRE_SESSION_COOKIE).lower()
        opened = SessionSigner(SECRET).open(browser.cookies[SESSION_COOKIE])
        assert opened is not None and opened.credential is None  # as a JWT sign-in
        assert opened.principal.role == "caritas"
        assert opened.principal.name == "ana.caseworker"
        home = await browser.get("/console")
    # Its Temporal is not there: the inbox says so (503), signed in.
    assert home.status_code == 503 and "Sign out" in home.text and "caritas" in home.text
    code = parse_qs(urlsplit(back).query)["code"][0]
    for secret in (code, flow.state, flow.nonce, flow.verifier):
        assert secret not in repr(logs) and secret not in callback.text
    assert any(e["event"] == "console oidc sign-in" for e in logs)
    assert refusal(logs) is None


async def test_a_sign_in_is_used_once(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    """The same callback again, with the same flow cookie (a replay): refused for its state,
    before the code goes anywhere."""
    back = await to_provider(browser, at_provider)
    cookie = browser.cookies[FLOW_COOKIE]
    assert (await browser.get(local(back))).status_code == 200
    browser.cookies.set(FLOW_COOKIE, cookie)
    with capture_logs() as logs:
        again = await browser.get(local(back))
    assert refusal(logs) == "state"
    browser.cookies.delete(SESSION_COOKIE)
    assert (await refused_page(browser, again)).status_code == 400


def _without(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != name}
    return f"{parts.path}?{urlencode(query)}"


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize(
    "callback_of",
    [
        pytest.param(lambda back: _without(back, "state"), id="no-state"),
        pytest.param(lambda back: _with(back, state="another-state"), id="another-state"),
    ],
)
async def test_a_missing_or_wrong_state_is_refused(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, callback_of: Any
) -> None:
    back = await to_provider(browser, at_provider)
    with capture_logs() as logs:
        callback = await browser.get(callback_of(local(back)))
    assert refusal(logs) == "state"
    page = await refused_page(browser, callback)
    assert page.status_code == 400 and "Sign-in expired" in page.text


async def test_a_callback_in_another_browser_is_refused(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    """The code and state reach a browser without the flow cookie (login CSRF: an attacker's
    own code sent to a victim's browser): refused."""
    back = await to_provider(browser, at_provider)
    browser.cookies.delete(FLOW_COOKIE)
    with capture_logs() as logs:
        callback = await browser.get(local(back))
    assert refusal(logs) == "state"
    assert (await refused_page(browser, callback)).status_code == 400


async def test_an_expired_or_forged_flow_cookie_is_refused(browser: httpx.AsyncClient) -> None:
    now = int(time.time())
    expired = FlowSigner(SECRET).issue(Flow(state="s1", nonce="n", verifier="v" * 43, expires=now))
    forged = FlowSigner(b"\x01" * 32).issue(
        Flow(state="s1", nonce="n", verifier="v" * 43, expires=now + 600)
    )
    for cookie in (expired, forged):
        browser.cookies.set(FLOW_COOKIE, cookie)
        with capture_logs() as logs:
            callback = await browser.get("/console/sign-in/oidc/callback?code=c&state=s1")
        assert refusal(logs) == "state"
        assert (await refused_page(browser, callback)).status_code == 400


async def test_an_error_from_the_provider_is_refused(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    back = await to_provider(browser, at_provider)
    with capture_logs() as logs:
        callback = await browser.get(_with(_without(local(back), "code"), error="access_denied"))
    assert refusal(logs) == "provider"
    assert (await refused_page(browser, callback)).status_code == 401


#: One minute past the verifier's 30 seconds of leeway.
_PAST = int(time.time()) - 600


class Broken(NamedTuple):
    """An ID token with one thing wrong: the claims changed, the refusal's logged reason and
    its page's status."""

    tamper: dict[str, Any]
    reason: str
    status: int


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(Broken({"nonce": "another-nonce"}, "nonce", 401), id="wrong-nonce"),
        pytest.param(Broken({"nonce": None}, "nonce", 401), id="no-nonce"),
        pytest.param(Broken({"iss": "http://127.0.0.1:1"}, "id_token", 401), id="another-issuer"),
        pytest.param(Broken({"aud": "another-client"}, "id_token", 401), id="another-audience"),
        pytest.param(Broken({"aud": "pathway-gateway"}, "id_token", 401), id="the-api-audience"),
        pytest.param(
            Broken({"aud": [CLIENT_ID, "another"], "azp": "another"}, "id_token", 401),
            id="another-authorized-party",
        ),
        pytest.param(Broken({"exp": _PAST, "iat": _PAST - 300}, "id_token", 401), id="expired"),
        pytest.param(Broken({ROLE_CLAIM: "ministry-of-magic"}, "role", 403), id="unknown-role"),
        pytest.param(Broken({ROLE_CLAIM: None}, "role", 403), id="no-role"),
    ],
)
async def test_an_id_token_that_fails_a_check_is_refused(
    browser: httpx.AsyncClient,
    at_provider: httpx.AsyncClient,
    provider: IdentityProvider,
    broken: Broken,
) -> None:
    """The provider's ID token with one thing wrong: refused, naming the check in the log."""
    provider.tamper = broken.tamper
    back = await to_provider(browser, at_provider)
    with capture_logs() as logs:
        callback = await browser.get(local(back))
    assert provider.token_answers == [200]  # the code was redeemed; the token is what fails
    assert refusal(logs) == broken.reason
    assert (await refused_page(browser, callback)).status_code == broken.status


async def test_a_token_signed_with_another_key_is_refused(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    """An ID token whose signature the JWKS does not vouch for (the provider signs with a key
    it does not publish)."""
    provider.sign_with = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    back = await to_provider(browser, at_provider)
    with capture_logs() as logs:
        callback = await browser.get(local(back))
    assert refusal(logs) == "id_token"
    assert (await refused_page(browser, callback)).status_code == 401


async def test_a_wrong_client_secret_is_refused(
    provider: IdentityProvider, at_provider: httpx.AsyncClient
) -> None:
    """The token endpoint refuses the client: no session."""
    app = await console_app(provider.issuer, provider.jwks_url, client_secret="wrong")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as b:
        back = await to_provider(b, at_provider)
        with capture_logs() as logs:
            callback = await b.get(local(back))
        assert provider.token_answers == [401]
        assert refusal(logs) == "token"
        assert (await refused_page(b, callback)).status_code == 401


async def test_an_unreachable_provider_is_a_plain_503() -> None:
    issuer = f"http://127.0.0.1:{free_port()}"
    app = await console_app(issuer, f"{issuer}/jwks")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as b:
        with capture_logs() as logs:
            start = await b.get("/console/sign-in/oidc")
        assert refusal(logs) == "unavailable"
        assert start.status_code == 303
        page = await b.get(start.headers["location"])
        assert page.status_code == 503 and "Sign-in is unavailable" in page.text
        assert page.headers["cache-control"] == "no-store" and "Traceback" not in page.text


async def test_without_oidc_there_is_no_button_and_no_flow() -> None:
    app = create_gateway_app(
        client=await unreachable_temporal(),
        authenticator=Authenticator(credentials()),
        settings=GatewaySettings(pepper=b"console-oidc-test-pepper"),
        console=ConsoleSettings(secret=SECRET),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as b:
        assert "/console/sign-in/oidc" not in (await b.get("/console/sign-in")).text
        assert (await b.get("/console/sign-in/oidc")).status_code == 404
        callback = await b.get("/console/sign-in/oidc/callback?code=c&state=s")
        assert callback.status_code == 303
        assert (await b.get(callback.headers["location"])).status_code == 503


_OIDC_ENV = {
    "PATHWAY_OIDC_CLIENT_ID": CLIENT_ID,
    "PATHWAY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
    "PATHWAY_OIDC_REDIRECT_URL": "https://pathway.example/console/sign-in/oidc/callback",
}
_JWT_ENV = {
    "PATHWAY_JWKS_URL": "https://idp.example/jwks",
    "PATHWAY_JWT_ISSUER": "https://idp.example",
    "PATHWAY_JWT_AUDIENCE": "pathway-gateway",
    "PATHWAY_JWT_ROLE_CLAIM": ROLE_CLAIM,
}


class TestSettings:
    """``PATHWAY_OIDC_*``: all three or none, with the JWT settings, https in production, the
    console's callback; one line naming the variables, never a value."""

    def test_all_or_none(self) -> None:
        with pytest.raises(settings.SettingsError) as raised:
            settings.load_settings({**_JWT_ENV, "PATHWAY_OIDC_CLIENT_ID": CLIENT_ID})
        assert raised.value.lines == [
            "OIDC sign-in needs all of PATHWAY_OIDC_CLIENT_ID, PATHWAY_OIDC_CLIENT_SECRET, "
            "PATHWAY_OIDC_REDIRECT_URL; missing: PATHWAY_OIDC_CLIENT_SECRET, "
            "PATHWAY_OIDC_REDIRECT_URL"
        ]
        assert settings.load_settings(_JWT_ENV).oidc_client_id is None

    def test_needs_the_jwt_settings(self) -> None:
        with pytest.raises(settings.SettingsError) as raised:
            settings.load_settings(_OIDC_ENV)
        (line,) = raised.value.lines
        assert line.startswith("OIDC sign-in needs the JWT settings too (PATHWAY_JWKS_URL")
        assert CLIENT_SECRET not in line

    def test_the_api_audience_is_not_the_consoles(self) -> None:
        """Review of issue 17: with ``PATHWAY_JWT_AUDIENCE`` equal to the console's client ID,
        the console's ID tokens would be accepted as API bearer tokens: refused at start."""
        with pytest.raises(settings.SettingsError) as raised:
            settings.load_settings({**_JWT_ENV, **_OIDC_ENV, "PATHWAY_JWT_AUDIENCE": CLIENT_ID})
        (line,) = raised.value.lines
        assert "PATHWAY_JWT_AUDIENCE must differ from PATHWAY_OIDC_CLIENT_ID" in line
        assert CLIENT_ID not in line.replace("PATHWAY_OIDC_CLIENT_ID", "")

    @pytest.mark.parametrize(
        ("changes", "names"),
        [
            ({"PATHWAY_OIDC_REDIRECT_URL": "https://pathway.example/elsewhere"}, "must end in"),
            ({"PATHWAY_OIDC_REDIRECT_URL": "pathway.example/console"}, "http(s) URL"),
            (
                {
                    "PATHWAY_MODE": "production",
                    "PATHWAY_OIDC_REDIRECT_URL": "http://pathway.example"
                    "/console/sign-in/oidc/callback",
                },
                "must use https in production",
            ),
            (
                {"PATHWAY_MODE": "production", "PATHWAY_JWT_ISSUER": "http://idp.example"},
                "PATHWAY_JWT_ISSUER must use https in production",
            ),
        ],
    )
    def test_urls(self, changes: dict[str, str], names: str) -> None:
        with pytest.raises(settings.SettingsError) as raised:
            settings.load_settings({**_JWT_ENV, **_OIDC_ENV, **changes})
        (line,) = raised.value.lines
        assert names in line and "pathway.example" not in line

    def test_the_secret_from_the_secrets_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The client secret is a secret: read from PATHWAY_SECRETS_DIR like the others,
        never shown; the console's settings carry it with the JWT issuer as the provider."""
        (tmp_path / "PATHWAY_OIDC_CLIENT_SECRET").write_text(CLIENT_SECRET)
        env = {**_JWT_ENV, **_OIDC_ENV, "PATHWAY_SECRETS_DIR": str(tmp_path)}
        del env["PATHWAY_OIDC_CLIENT_SECRET"]
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PATHWAY_CONSOLE_SECRET", SECRET.hex())
        oidc = console_settings().oidc
        assert oidc is not None and oidc.issuer == "https://idp.example"
        assert oidc.client_secret.get_secret_value() == CLIENT_SECRET
        assert CLIENT_SECRET not in repr(oidc)
        assert oidc.flow_ttl == timedelta(minutes=10)


def test_used_states_are_forgotten_after_their_flow() -> None:
    """A used state is refused until its flow would have expired anyway, then forgotten (the
    record stays small); a fresh one is accepted."""
    now = [1000.0]
    oidc = OidcSettings(
        issuer="https://idp.example",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        redirect_url=REDIRECT,
    )
    client = OidcClient(oidc, SECRET, clock=lambda: now[0])
    assert client._spend("a") and not client._spend("a")
    now[0] += oidc.flow_ttl.total_seconds() - 1
    assert client._spend("b") and not client._spend("a")
    now[0] += 2
    assert client._spend("c")
    assert list(client._spent) == ["b", "c"]


@pytest.mark.parametrize("jwt_issuer", [None, "https://another-issuer.example"])
async def test_oidc_without_the_providers_jwt_verifier_does_not_start(
    jwt_issuer: str | None,
) -> None:
    """OIDC sign-in given to a gateway that does not verify JWTs of the same provider (only
    possible from code: the settings model refuses it from the environment) stops at start."""
    verifier = None
    if jwt_issuer is not None:
        verifier = JwtVerifier(
            JwtSettings(
                jwks_url=f"{jwt_issuer}/jwks",
                issuer=jwt_issuer,
                audience="pathway-gateway",
                role_claim=ROLE_CLAIM,
            )
        )
    oidc = OidcSettings(
        issuer="https://idp.example",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        redirect_url=REDIRECT,
    )
    with pytest.raises(GatewayConfigError, match="OIDC sign-in needs the gateway to verify"):
        create_gateway_app(
            client=await unreachable_temporal(),
            authenticator=Authenticator(credentials(), verifier),
            settings=GatewaySettings(pepper=b"console-oidc-test-pepper"),
            console=ConsoleSettings(secret=SECRET, oidc=oidc),
        )
