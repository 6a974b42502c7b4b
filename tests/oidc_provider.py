"""A small OpenID Connect provider for tests, served by uvicorn on loopback
(:func:`running_provider`): discovery, an authorization endpoint with a sign-in page of its own
(its button posts back and is redirected to the client with a code, as a real provider's
sign-in is a navigation from the provider's own site), a token endpoint (client secret over
HTTP Basic, PKCE ``S256``, one use per code) that answers with an ID token signed by a test
RSA key, and the JWKS.

A test steers it through :class:`IdentityProvider`: who signs in (:attr:`IdentityProvider.claims`),
and what to change in the next ID tokens (:attr:`IdentityProvider.tamper`: a claim's new value,
None to leave it out).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.receivers import free_port, served

CLIENT_ID = "pathway-console"
CLIENT_SECRET = "test-client-secret"
ROLE_CLAIM = "pathway_role"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str


@dataclass
class IdentityProvider:
    """The provider's state. ``host``: how its URLs name it (``127.0.0.1`` or ``localhost``,
    a site of its own for a browser); ``redirect_uri``: the one registered for
    :data:`CLIENT_ID`."""

    host: str
    port: int
    redirect_uri: str
    key: RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = "test-key-1"
    claims: dict[str, Any] = field(
        default_factory=lambda: {"sub": "ana.caseworker", ROLE_CLAIM: "caritas"}
    )
    tamper: dict[str, Any] = field(default_factory=dict)
    #: A key to sign the next ID tokens with instead of the published one.
    sign_with: RSAPrivateKey | None = None
    #: Each authorization request's query, as received.
    authorizations: list[dict[str, str]] = field(default_factory=list)
    #: The token endpoint's answers, by status.
    token_answers: list[int] = field(default_factory=list)
    _pending: dict[str, dict[str, str]] = field(default_factory=dict)
    _codes: dict[str, _Grant] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/authorize", self._authorize, methods=["GET"]),
                Route("/authorize", self._approve, methods=["POST"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/jwks", self._jwks),
            ]
        )

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": self.jwks_url,
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def _authorize(self, request: Request) -> Response:
        """The sign-in page for a valid request; 400 (never a redirect) for another client, an
        unregistered redirect URI, no ``openid`` scope or no ``S256`` challenge."""
        query = dict(request.query_params)
        self.authorizations.append(query)
        if (
            query.get("response_type") != "code"
            or query.get("client_id") != CLIENT_ID
            or query.get("redirect_uri") != self.redirect_uri
            or "openid" not in query.get("scope", "").split()
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or not query.get("nonce")
        ):
            return Response("bad authorization request", status_code=400)
        ticket = secrets.token_urlsafe(16)
        self._pending[ticket] = query
        who = html.escape(str(self.claims.get("sub")))
        return HTMLResponse(
            "<!doctype html><html lang='en'><head><title>Test identity provider</title></head>"
            f"<body><main><h1>Test identity provider</h1><form method='post' action='/authorize'>"
            f"<input type='hidden' name='ticket' value='{ticket}'>"
            f"<button type='submit' id='approve'>Sign in as {who}</button></form></main>"
            "</body></html>"
        )

    async def _approve(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        query = self._pending.pop(form.get("ticket", [""])[0], None)
        if query is None:
            return Response("unknown ticket", status_code=400)
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            nonce=query["nonce"],
            challenge=query["code_challenge"],
        )
        back = urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(f"{query['redirect_uri']}?{back}", status_code=303)

    def _client_ok(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return (unquote_plus(user), unquote_plus(password)) == (CLIENT_ID, CLIENT_SECRET)

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if not self._client_ok(request):
            return self._answer(401, {"error": "invalid_client"})
        grant = self._codes.pop(form.get("code", ""), None)  # one use
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.challenge
        ):
            return self._answer(400, {"error": "invalid_grant"})
        return self._answer(
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(nonce=grant.nonce),
            },
        )

    def _answer(self, status: int, body: dict[str, Any]) -> Response:
        self.token_answers.append(status)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def id_token(self, *, nonce: str) -> str:
        """An ID token for :attr:`claims`, then :attr:`tamper` applied."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.claims,
            **self.tamper,
        }
        return jwt.encode(
            {k: v for k, v in claims.items() if v is not None},
            self.sign_with or self.key,
            algorithm="RS256",
            headers={"kid": self.kid},
        )

    async def _jwks(self, request: Request) -> Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return JSONResponse({"keys": [jwk]})


@asynccontextmanager
async def running_provider(*, host: str, redirect_uri: str) -> AsyncIterator[IdentityProvider]:
    """A :class:`IdentityProvider` served on 127.0.0.1 (named ``host`` in its URLs) until the
    block ends, also when it fails."""
    port = free_port()
    provider = IdentityProvider(host=host, port=port, redirect_uri=redirect_uri)
    async with served(
        provider.app(), port, probe="/.well-known/openid-configuration", name="test-idp"
    ):
        yield provider
