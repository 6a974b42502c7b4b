"""The console's sign-in with the organisation's identity provider: OpenID Connect's
authorization code flow with PKCE (issue 17 item 1; OpenID Connect Core 1.0 section 3.1,
RFC 7636 with ``S256``).

1. :meth:`OidcClient.begin` makes a random ``state``, ``nonce`` and PKCE code verifier, and
   the provider's authorization URL (found by discovery, ``{issuer}/.well-known/openid-
   configuration``, cached for an hour). The three values travel in a short-lived signed
   cookie (:class:`FlowSigner`: HMAC-SHA256 with the console's secret, ten minutes), so any
   gateway process can finish the flow and nothing is stored server-side but the states
   already used.
2. The provider sends the browser back with ``code`` and ``state``; :meth:`OidcClient.finish`
   refuses a missing or wrong flow cookie or ``state``, a ``state`` already used in this
   process, an error answer; redeems the code at the token endpoint with the verifier and the
   client secret (HTTP Basic); checks the ID token with the deployment's JWT verifier
   (:meth:`pathway.access.identity.JwtVerifier.claims`: the JWKS, ``PATHWAY_JWT_ISSUER``, the
   audience being the client ID, expiry), then ``azp``, the ``nonce`` and the role claim
   (:meth:`~pathway.access.identity.JwtVerifier.principal_of`). Each refusal is a
   :class:`Refused` naming what failed; no code, token, state or nonce is ever logged.

Why no OAuth library: the flow is one URL, one cookie and one form POST over httpx (already a
dependency); the checks that matter (ID token, nonce, role) rest on the deployment's own JWT
verifier, which a library would duplicate with a second JOSE implementation (Authlib brings
joserfc, untyped). PyJWT and httpx do the cryptography and the HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx
import structlog
from pydantic import SecretStr

from pathway.access.credentials import Principal
from pathway.access.identity import AuthUnavailable, JwtVerifier
from pathway.settings import Settings

__all__ = [
    "FLOW_COOKIE",
    "FLOW_PATH",
    "Flow",
    "FlowSigner",
    "OidcClient",
    "OidcSettings",
    "Refused",
    "code_challenge",
]

log = structlog.stdlib.get_logger(__name__)

#: The cookie that carries a sign-in's state, nonce and PKCE verifier to the callback.
FLOW_COOKIE: Final = "pathway_console_oidc"
#: Its path: the flow's two addresses only (``…/oidc`` starts, ``…/oidc/callback`` finishes).
FLOW_PATH: Final = "/console/sign-in/oidc"
#: How long a started sign-in may take at the provider.
FLOW_TTL: Final = timedelta(minutes=10)
#: Used states kept per process at most (the oldest go first; each is useless after its
#: flow's expiry anyway).
_SPENT_MAX: Final = 100_000
_CONTEXT: Final = b"pathway-console-oidc/v1|"


@dataclass(frozen=True, kw_only=True)
class OidcSettings:
    """The console as an OIDC client (``PATHWAY_OIDC_*``; the provider is
    ``PATHWAY_JWT_ISSUER``). ``production``: the provider's endpoints must be https."""

    issuer: str
    client_id: str
    client_secret: SecretStr
    redirect_url: str
    production: bool = False
    scope: str = "openid"
    flow_ttl: timedelta = FLOW_TTL
    http_timeout_seconds: float = 5.0
    discovery_ttl_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, given: Settings) -> OidcSettings | None:
        """From the settings model (which checked them all or none, with the JWT settings):
        None when OIDC sign-in is not configured."""
        if (
            given.oidc_client_id is None
            or given.oidc_client_secret is None
            or given.oidc_redirect_url is None
            or given.jwt_issuer is None
        ):
            return None
        return cls(
            issuer=given.jwt_issuer,
            client_id=given.oidc_client_id,
            client_secret=given.oidc_client_secret,
            redirect_url=given.oidc_redirect_url,
            production=given.production,
        )


class Refused(Exception):
    """A sign-in that did not come through. ``reason`` (logged, never shown) is one of
    ``state`` (no or a wrong flow cookie or ``state``, or one already used), ``provider`` (the
    provider answered with an error), ``code`` (no code), ``token`` (the token endpoint refused
    the code), ``id_token`` (not a genuine, current ID token of the issuer for this client),
    ``nonce``, ``role`` (no organisation this service knows), ``unavailable`` (the provider
    cannot be reached or answers nonsense). ``status``: the HTTP status of the page."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same(given: str, expected: str) -> bool:
    """``given == expected`` in constant time (any text: a query or a claim may be non-ASCII)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def code_challenge(verifier: str) -> str:
    """The PKCE ``S256`` challenge of ``verifier``: BASE64URL(SHA256(ASCII(verifier))),
    unpadded (RFC 7636 section 4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, kw_only=True)
class Flow:
    """One sign-in under way: its ``state``, ``nonce``, PKCE ``verifier`` (43 to 128
    characters) and when it expires (seconds since the epoch)."""

    state: str
    nonce: str
    verifier: str
    expires: int

    @classmethod
    def new(cls, expires: int) -> Flow:
        return cls(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),  # 64 characters of [A-Za-z0-9_-]
            expires=expires,
        )


class FlowSigner:
    """:class:`Flow` values as cookie values: base64url JSON and its HMAC-SHA256 with the
    console's secret (a context of its own, so no session or CSRF value is ever one)."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, _CONTEXT + body.encode("ascii"), "sha256").digest()

    def issue(self, flow: Flow) -> str:
        claims = {"s": flow.state, "n": flow.nonce, "v": flow.verifier, "exp": flow.expires}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{_b64(self._mac(body))}"

    def open(self, value: str | None) -> Flow | None:
        """The flow of a genuine, unexpired value; None for anything else."""
        if not value:
            return None
        body, _, mac = value.partition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(body)):
                return None
            claims = json.loads(_unb64(body))
            flow = Flow(
                state=str(claims["s"]),
                nonce=str(claims["n"]),
                verifier=str(claims["v"]),
                expires=int(claims["exp"]),
            )
        except (ValueError, UnicodeError, KeyError, TypeError):
            return None
        return flow if flow.expires > self._clock() else None


@dataclass(frozen=True, kw_only=True)
class Provider:
    """What discovery told of the provider: where to send the browser, where to redeem the
    code, and whether the client authenticates there with HTTP Basic (else form fields)."""

    authorization_endpoint: str
    token_endpoint: str
    basic_auth: bool


def _endpoint(document: Mapping[str, Any], name: str, production: bool) -> str:
    url = document.get(name)
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"no {name}")
    if production and parts.scheme != "https":
        raise ValueError(f"{name} is not https")
    return str(url)


class OidcClient:
    """The console's side of the flow (module docstring). ``secret``: the console's key
    (:class:`FlowSigner`); ``http``: the client for discovery and the token endpoint (tests;
    default: one per request); ``clock``: seconds since the epoch."""

    def __init__(
        self,
        settings: OidcSettings,
        secret: bytes,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.flows = FlowSigner(secret, clock)
        self._http = http
        self._clock = clock
        self._provider: Provider | None = None
        self._discovered_at = float("-inf")
        self._spent: dict[str, float] = {}

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        timeout = self.settings.http_timeout_seconds
        if self._http is not None:
            return await self._http.request(method, url, timeout=timeout, **kwargs)
        async with httpx.AsyncClient() as http:
            return await http.request(method, url, timeout=timeout, **kwargs)

    async def provider(self) -> Provider:
        """The provider's endpoints from its discovery document (cached). Raises
        :class:`Refused` ``unavailable`` if it cannot be fetched, names another issuer (OpenID
        Connect Discovery 1.0 section 4.3) or lacks an endpoint (https in production)."""
        age = self._clock() - self._discovered_at
        if self._provider is not None and age < self.settings.discovery_ttl_seconds:
            return self._provider
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = await self._request("GET", url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict) or document.get("issuer") != self.settings.issuer:
                raise ValueError("another issuer")
            methods = document.get("token_endpoint_auth_methods_supported")
            production = self.settings.production
            provider = Provider(
                authorization_endpoint=_endpoint(document, "authorization_endpoint", production),
                token_endpoint=_endpoint(document, "token_endpoint", production),
                # client_secret_basic is the default (OIDC Discovery section 3).
                basic_auth=not isinstance(methods, list)
                or "client_secret_basic" in methods
                or "client_secret_post" not in methods,
            )
        except (httpx.HTTPError, ValueError) as err:
            log.error("oidc discovery failed", error=type(err).__name__)
            raise Refused("unavailable", 503) from err
        self._provider, self._discovered_at = provider, self._clock()
        return provider

    async def begin(self) -> tuple[str, str]:
        """A new sign-in: the provider's authorization URL to send the browser to, and the
        :data:`FLOW_COOKIE` value that must come back with it. Raises :class:`Refused`
        ``unavailable`` (:meth:`provider`)."""
        provider = await self.provider()
        flow = Flow.new(int(self._clock() + self.settings.flow_ttl.total_seconds()))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.settings.redirect_url,
                "scope": self.settings.scope,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": code_challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
        )
        joiner = "&" if "?" in provider.authorization_endpoint else "?"
        return f"{provider.authorization_endpoint}{joiner}{query}", self.flows.issue(flow)

    def _spend(self, state: str) -> bool:
        """Mark ``state`` used; False if it already was (a replayed callback)."""
        now = self._clock()
        # Kept in the order they were used, each for the same time: the expired ones are first.
        while self._spent and next(iter(self._spent.values())) <= now:
            del self._spent[next(iter(self._spent))]
        if state in self._spent:
            return False
        while len(self._spent) >= _SPENT_MAX:
            del self._spent[next(iter(self._spent))]
        self._spent[state] = now + self.settings.flow_ttl.total_seconds()
        return True

    def _flow(self, query: Mapping[str, str], cookie: str | None) -> Flow:
        """The flow this callback finishes: the cookie's, if genuine and current, its state
        equal to the query's and not used before."""
        flow = self.flows.open(cookie)
        state = query.get("state", "")
        if flow is None or not state or not _same(state, flow.state):
            raise Refused("state", 400)
        if not self._spend(flow.state):
            raise Refused("state", 400)
        return flow

    async def _redeem(self, code: str, verifier: str) -> str:
        """The ID token the token endpoint gives for ``code`` (RFC 6749 section 4.1.3, with
        the PKCE verifier). Raises :class:`Refused` ``token`` or ``unavailable``."""
        provider = await self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_url,
            "code_verifier": verifier,
        }
        secret = self.settings.client_secret.get_secret_value()
        auth: httpx.BasicAuth | None = None
        if provider.basic_auth:
            # RFC 6749 section 2.3.1: both form-urlencoded before Basic's own encoding.
            auth = httpx.BasicAuth(quote_plus(self.settings.client_id), quote_plus(secret))
        else:
            form |= {"client_id": self.settings.client_id, "client_secret": secret}
        try:
            response = await self._request(
                "POST",
                provider.token_endpoint,
                data=form,
                auth=auth,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as err:
            log.error("oidc token endpoint unreachable", error=type(err).__name__)
            raise Refused("unavailable", 503) from err
        if response.status_code != 200:
            # The body may name the code; only the status is logged.
            raise Refused("token", 401)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        token = answer.get("id_token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise Refused("token", 401)
        return token

    async def finish(
        self, query: Mapping[str, str], cookie: str | None, verifier: JwtVerifier
    ) -> Principal:
        """The principal a callback (its query and the browser's :data:`FLOW_COOKIE`) signs
        in, the ID token checked with ``verifier`` (the deployment's JWT settings, audience the
        client ID). Raises :class:`Refused` naming the first check that failed."""
        flow = self._flow(query, cookie)
        if "error" in query:
            raise Refused("provider", 401)
        code = query.get("code", "")
        if not code:
            raise Refused("code", 400)
        token = await self._redeem(code, flow.verifier)
        try:
            claims = await verifier.claims(token, audience=self.settings.client_id)
        except AuthUnavailable as err:
            raise Refused("unavailable", 503) from err
        if claims is None:
            raise Refused("id_token", 401)
        # OIDC Core 3.1.3.7: an authorized party, if named, is this client.
        azp = claims.get("azp")
        if azp is not None and azp != self.settings.client_id:
            raise Refused("id_token", 401)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not _same(nonce, flow.nonce):
            raise Refused("nonce", 401)
        principal = verifier.principal_of(claims)
        if principal is None:
            raise Refused("role", 403)
        return principal
