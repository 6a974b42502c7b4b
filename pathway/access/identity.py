"""Who is calling the gateway: an organisation's API token, or an OIDC/JWT bearer token.

- **API tokens**: random secrets handed to each organisation once, stored only as SHA-256
  hashes (:class:`pathway.access.credentials.Credentials`, the file named by
  ``PATHWAY_CREDENTIALS``).
- **JWT bearer tokens** from a deployment's identity provider: the signature is checked against
  the provider's JWKS (fetched over HTTP and cached), and the issuer, the audience and the
  expiry must match; a configured claim names the caller's role (an organisation, or
  ``operator``). Only asymmetric algorithms are accepted, so a public key can never be abused
  as an HMAC secret.

``PATHWAY_MODE=production`` refuses to start without a credentials file or a JWKS
configuration: there are no default credentials in production. The embedded dev default
creates ``var/credentials.toml`` with one operator token
(:func:`pathway.access.credentials.ensure_dev_credentials`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import jwt
import structlog
from pydantic import BaseModel, ConfigDict, Field

from pathway import settings
from pathway.access.credentials import (
    CREDENTIALS_ENV,
    OPERATOR,
    Credentials,
    CredentialsError,
    Principal,
    Session,
    ensure_dev_credentials,
    hash_token,
)
from pathway.domain.organisations import Organisation

__all__ = [
    "MODE_ENV",
    "AuthUnavailable",
    "Authenticator",
    "GatewayConfigError",
    "JwtSettings",
    "JwtVerifier",
    "is_production",
    "load_authenticator",
]

log = structlog.stdlib.get_logger(__name__)

MODE_ENV: Final = "PATHWAY_MODE"
JWKS_URL_ENV: Final = "PATHWAY_JWKS_URL"
JWT_ISSUER_ENV: Final = "PATHWAY_JWT_ISSUER"
JWT_AUDIENCE_ENV: Final = "PATHWAY_JWT_AUDIENCE"
JWT_ROLE_CLAIM_ENV: Final = "PATHWAY_JWT_ROLE_CLAIM"
_JWT_ENV: Final = (JWKS_URL_ENV, JWT_ISSUER_ENV, JWT_AUDIENCE_ENV, JWT_ROLE_CLAIM_ENV)

#: Asymmetric JWS algorithms only: with HS256 a public JWKS key could be used as a shared secret.
ASYMMETRIC_ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
_ROLES: Final = frozenset({OPERATOR, *(org.value for org in Organisation)})
# Names go into audit lines: printable words only, so a claim cannot forge a log line.
_NAME: Final = re.compile(r"[\w][\w.@ '-]{0,99}")
#: What makes a subject look like a person rather than an opaque ID: an e-mail address's ``@``,
#: a space or an apostrophe between names.
_PERSONAL: Final = re.compile(r"[@ ']")


class GatewayConfigError(Exception):
    """The gateway's authentication is not configured well enough to start."""


class AuthUnavailable(Exception):
    """A token could not be checked because the identity provider's keys are unreachable."""


def is_production(environ: Mapping[str, str]) -> bool:
    """``PATHWAY_MODE=production``: no dev defaults (credentials, plain-HTTP JWKS)."""
    return settings.of(environ).production


class JwtSettings(BaseModel):
    """How to verify bearer JWTs from the deployment's identity provider."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jwks_url: str = Field(min_length=1, description="The provider's JWKS document")
    issuer: str = Field(min_length=1, description="Required value of the `iss` claim")
    audience: str = Field(min_length=1, description="Required value (or member) of `aud`")
    role_claim: str = Field(min_length=1, description="The claim whose value is the caller's role")
    name_claim: str = "sub"
    algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
    leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat"
    )
    jwks_ttl_seconds: float = Field(
        default=300.0, gt=0, description="How long fetched keys are used"
    )
    jwks_refresh_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A token with an unknown key ID refetches the keys at most this often",
    )
    http_timeout_seconds: float = Field(default=5.0, gt=0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> JwtSettings | None:
        """From ``PATHWAY_JWKS_URL``, ``PATHWAY_JWT_ISSUER``, ``PATHWAY_JWT_AUDIENCE`` and
        ``PATHWAY_JWT_ROLE_CLAIM``: None if none is set, an error if only some are."""
        # All four or none: the settings model refuses some (SettingsError, a line naming
        # the missing variables).
        given = settings.of(environ)
        if (
            given.jwks_url is None
            or given.jwt_issuer is None
            or given.jwt_audience is None
            or given.jwt_role_claim is None
        ):
            return None
        return cls(
            jwks_url=given.jwks_url,
            issuer=given.jwt_issuer,
            audience=given.jwt_audience,
            role_claim=given.jwt_role_claim,
        )


def _audit_name(claims: Mapping[str, Any], claim: str) -> str:
    """The name a JWT's principal is logged under: its ``claim`` (``sub``) when it is an opaque
    identifier, else ``jwt-`` and 16 hex characters of its SHA-256, stable per subject. An
    e-mail address or a name with spaces (a provider configured to put the person in ``sub``)
    is personal data and never reaches a log line (brief: no personal data in logs)."""
    value = claims.get(claim)
    text = value if isinstance(value, str) else ""
    if _NAME.fullmatch(text) and not _PERSONAL.search(text):
        return text
    # Something that cannot be logged as it is: a stable, opaque stand-in.
    return "jwt-" + hashlib.sha256(repr(value).encode()).hexdigest()[:16]


class JwtVerifier:
    """Verifies bearer JWTs against a JWKS fetched over HTTP (cached, refreshed on rotation)."""

    def __init__(
        self,
        settings: JwtSettings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._http = http
        self._clock = clock
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        try:
            if self._http is not None:
                response = await self._http.get(
                    self.settings.jwks_url, timeout=self.settings.http_timeout_seconds
                )
            else:
                async with httpx.AsyncClient() as http:
                    response = await http.get(
                        self.settings.jwks_url, timeout=self.settings.http_timeout_seconds
                    )
            response.raise_for_status()
            document = response.json()
            keys = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(keys, list):
                raise ValueError("no 'keys' list")
        except (httpx.HTTPError, ValueError) as err:
            # The URL is configuration, not a secret, but may carry a query token: not logged.
            log.error("jwks unavailable", error=type(err).__name__)
            raise AuthUnavailable("the identity provider's keys cannot be fetched") from err
        self._keys = [key for key in keys if isinstance(key, dict)]
        self._fetched_at = self._clock()

    def _age(self) -> float:
        return self._clock() - self._fetched_at

    async def _key(self, kid: str | None) -> dict[str, Any] | None:
        async with self._lock:
            if self._keys is None or self._age() > self.settings.jwks_ttl_seconds:
                await self._fetch()
            found = _find(self._keys or [], kid)
            if found is None and self._age() > self.settings.jwks_refresh_seconds:
                # An unknown key ID may mean the provider rotated its keys; refetching at most
                # every few seconds keeps made-up key IDs from hammering the provider.
                await self._fetch()
                found = _find(self._keys or [], kid)
            return found

    async def verify(self, token: str) -> Principal | None:
        """The principal a genuine, current token names; None for any other token.

        Raises :class:`AuthUnavailable` if the keys cannot be fetched.
        """
        claims = await self.claims(token)
        return None if claims is None else self.principal_of(claims)

    async def claims(self, token: str, *, audience: str | None = None) -> dict[str, Any] | None:
        """The claims of a genuine, current token of the configured issuer (signature by a
        key of the JWKS, an asymmetric algorithm, ``exp``, ``iss`` and ``aud`` present and
        right); None for any other token. ``audience``: the ``aud`` required instead of the
        configured one (the console's OIDC sign-in checks ID tokens, whose audience is its
        client ID). The role claim is not looked at (:meth:`principal_of`).

        Raises :class:`AuthUnavailable` if the keys cannot be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return None
        alg = header.get("alg")
        kid = header.get("kid")
        if alg not in self.settings.algorithms or not (kid is None or isinstance(kid, str)):
            return None
        jwk = await self._key(kid)
        if jwk is None or jwk.get("alg", alg) != alg or jwk.get("use", "sig") != "sig":
            return None
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience or self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return claims

    def principal_of(self, claims: Mapping[str, Any]) -> Principal | None:
        """The principal verified ``claims`` name: the role claim's value if it is an
        organisation or ``operator``, else None."""
        role = claims.get(self.settings.role_claim)
        if not isinstance(role, str) or role not in _ROLES:
            return None
        return Principal(organisation=role, name=_audit_name(claims, self.settings.name_claim))


def _find(keys: list[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is None:
        # A token without a key ID is acceptable only when there is no choice to make.
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.get("kid") == kid), None)


def _looks_like_jwt(token: str) -> bool:
    # API tokens are URL-safe base64 without dots; a JWS compact token has exactly two.
    return token.count(".") == 2


class Authenticator:
    """Turns an ``Authorization`` value into a :class:`Principal` (or None)."""

    def __init__(
        self, credentials: Credentials | None = None, jwt_verifier: JwtVerifier | None = None
    ) -> None:
        if credentials is None and jwt_verifier is None:
            raise GatewayConfigError("no way to authenticate: give credentials or a JWKS")
        self.credentials = credentials
        self.jwt = jwt_verifier

    def still_holds(self, session: Session) -> bool:
        """Whether a browser session still counts: one signed in with a token while that token
        is still in the credentials file (:meth:`Credentials.holds`); one signed in with a JWT
        while a JWKS is configured, for its lifetime (the identity provider cannot be asked
        about a JWT nobody presents)."""
        if session.credential is None:
            return self.jwt is not None
        return self.credentials is not None and self.credentials.holds(
            session.principal, session.credential
        )

    def credential_of(self, principal: Principal, token: str) -> str | None:
        """What a session of ``principal``, just signed in with ``token``, keeps of it: the
        token's hash if the credentials file holds it (:func:`hash_token`), None for a JWT."""
        digest = hash_token(token.strip())
        if self.credentials is not None and self.credentials.holds(principal, digest):
            return digest
        return None

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of ``token`` (a bearer token without the scheme), or None.

        Raises :class:`AuthUnavailable` when a JWT cannot be checked right now.
        """
        token = token.strip()
        if not token:
            return None
        if self.jwt is not None and _looks_like_jwt(token):
            return await self.jwt.verify(token)
        if self.credentials is not None:
            return self.credentials.authenticate(token)
        return None


def _check_jwks_url(settings: JwtSettings, production: bool) -> None:
    parts = urlsplit(settings.jwks_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise GatewayConfigError(f"{JWKS_URL_ENV} must be an http(s) URL")
    if production and parts.scheme != "https":
        raise GatewayConfigError(
            f"{JWKS_URL_ENV} must use https in production: keys fetched over plain HTTP "
            "could be replaced on the way"
        )


def load_authenticator(
    environ: Mapping[str, str] | None = None,
    *,
    var_dir: Path,
    credentials: Credentials | None = None,
    http: httpx.AsyncClient | None = None,
) -> Authenticator:
    """The gateway's authenticator, from the environment.

    Credentials: ``credentials`` if given, else the file in ``PATHWAY_CREDENTIALS``, else (not
    in production) the embedded default's ``var_dir/credentials.toml``, created on first use
    with one operator token that is printed once. JWT: ``PATHWAY_JWKS_URL``,
    ``PATHWAY_JWT_ISSUER``, ``PATHWAY_JWT_AUDIENCE``, ``PATHWAY_JWT_ROLE_CLAIM``.

    Raises :class:`GatewayConfigError` in production without either, or on a broken file.
    """
    env = os.environ if environ is None else environ
    production = is_production(env)
    jwt_settings = JwtSettings.from_env(env)
    if jwt_settings is not None:
        _check_jwks_url(jwt_settings, production)
    try:
        if credentials is None and (path := settings.of(environ).credentials) is not None:
            credentials = Credentials.load(path)
        elif credentials is None and not production:
            path, token = ensure_dev_credentials(var_dir)
            if token is not None:
                # A secret for the person at the terminal: printed, never logged.
                sys.stdout.write(
                    f"\nOperator token (shown once; stored only as a hash in "
                    f"{path}):\n  {token}\n\n"
                )
                sys.stdout.flush()
            credentials = Credentials.load(path)
    except CredentialsError as err:
        raise GatewayConfigError(str(err)) from err
    if credentials is None and jwt_settings is None:
        raise GatewayConfigError(
            f"{MODE_ENV}=production needs {CREDENTIALS_ENV} (a file of hashed tokens) or a JWKS "
            f"configuration ({', '.join(_JWT_ENV)}); there are no default credentials in "
            "production"
        )
    verifier = JwtVerifier(jwt_settings, http=http) if jwt_settings is not None else None
    return Authenticator(credentials, verifier)
