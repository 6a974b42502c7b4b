"""Who is calling: bearer tokens checked against stored hashes, and signed browser sessions.

Shared by every HTTP front of the service (the codec server now, the event gateway later), so it
knows nothing of HTTP frameworks. Access is per role (SPEC "Access"): a :class:`Principal` is a
named person or system acting for one :class:`~pathway.domain.organisations.Organisation`, or an
``"operator"`` (the ministry staff who run the service).

Tokens are random secrets handed out once; the credentials file keeps only their SHA-256, so a
copy of the file (a backup, a support ticket) lets nobody in. A plain hash is enough because the
tokens carry 256 bits of entropy: there is no password to guess, so a slow KDF would buy nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from pathway.domain.organisations import Organisation

__all__ = [
    "CREDENTIALS_ENV",
    "OPERATOR",
    "SESSION_TTL",
    "Credentials",
    "CredentialsError",
    "Principal",
    "Role",
    "SessionSigner",
    "TokenEntry",
    "ensure_dev_credentials",
    "hash_token",
    "new_token",
]

CREDENTIALS_ENV: Final = "PATHWAY_CREDENTIALS"
OPERATOR: Final = "operator"
#: How long a browser session lasts: one working day, then the person pastes their token again.
SESSION_TTL: Final = timedelta(hours=8)
DEV_CREDENTIALS_FILE: Final = "credentials.toml"

_ROLES: Final = (OPERATOR, *(org.value for org in Organisation))


def _check_role(value: Any) -> Any:
    # One readable error listing the roles, instead of pydantic's two (one per union member).
    if value == OPERATOR or isinstance(value, Organisation):
        return value
    if isinstance(value, str) and value in _ROLES:
        return Organisation(value)
    raise ValueError(f"role must be one of: {', '.join(_ROLES)}")


#: An organisation role, or ``"operator"``.
Role = Annotated[Organisation | Literal["operator"], BeforeValidator(_check_role)]

# Names appear in audit lines and on the login page: printable words only, so a name can neither
# forge a log line nor carry markup.
_NAME_PATTERN: Final = r"^[\w][\w.@ '-]{0,99}$"


class Principal(BaseModel):
    """Someone authenticated: who (``name``) acting for which role (``organisation``)."""

    model_config = ConfigDict(frozen=True)

    organisation: Role
    name: str

    @property
    def role(self) -> str:
        """The role as a plain string (``"operator"``, ``"police"``, ``"caritas"``, …)."""
        return str(self.organisation)

    @property
    def is_operator(self) -> bool:
        return self.organisation == OPERATOR


class CredentialsError(Exception):
    """The credentials file is missing or invalid; the message names the file and the field."""


class TokenEntry(BaseModel):
    """One ``[[tokens]]`` entry of the credentials file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="hex SHA-256 of the token")

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @property
    def principal(self) -> Principal:
        return Principal(organisation=self.role, name=self.name)


class Credentials(BaseModel):
    """The tokens that may call the service, stored as hashes only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: list[TokenEntry] = Field(min_length=1)

    @field_validator("tokens")
    @classmethod
    def _unique(cls, tokens: list[TokenEntry]) -> list[TokenEntry]:
        # Duplicate names would make the audit trail ambiguous; a duplicate hash would make one
        # token mean two principals.
        names = [t.name for t in tokens]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate name(s): {', '.join(dupes)}")
        hashes = [t.sha256 for t in tokens]
        if len(set(hashes)) != len(hashes):
            raise ValueError("two entries have the same sha256 (one token for two names)")
        return tokens

    @classmethod
    def load(cls, path: Path | None = None) -> Credentials:
        """Read the TOML file at ``path``, else at ``$PATHWAY_CREDENTIALS``."""
        if path is None:
            env = os.environ.get(CREDENTIALS_ENV)
            if not env:
                raise CredentialsError(
                    f"no credentials file: set {CREDENTIALS_ENV} or pass a path")
            path = Path(env)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise CredentialsError(f"credentials file {path} does not exist") from err
        except (OSError, UnicodeDecodeError) as err:
            raise CredentialsError(
                f"credentials file {path} cannot be read: {type(err).__name__}") from err
        except tomllib.TOMLDecodeError as err:
            # The decoder's message gives line and column only, never the offending text.
            raise CredentialsError(f"credentials file {path} is not valid TOML: {err}") from err
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            raise CredentialsError(f"credentials file {path}: {_describe(err)}") from None

    def authenticate(self, token: str) -> Principal | None:
        """The principal whose token this is, or None.

        Every entry is compared, in constant time, whatever matched: the time taken tells
        nothing about which entry (or how much of a hash) a guess came close to.
        """
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: TokenEntry | None = None
        for entry in self.tokens:
            if hmac.compare_digest(digest, bytes.fromhex(entry.sha256)) and found is None:
                found = entry
        return None if found is None or not token else found.principal


def _describe(err: ValidationError) -> str:
    """Each error as ``tokens[0].sha256: message``, without the input value: someone may have
    pasted a plaintext token where its hash belongs."""
    parts = []
    for error in err.errors(include_input=False, include_url=False):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        parts.append(f"{where.lstrip('.') or '(top level)'}: {error['msg']}")
    return "; ".join(parts)


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token``: what the credentials file stores."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe): handed to its holder once, stored hashed."""
    return secrets.token_urlsafe(32)


def ensure_dev_credentials(var_dir: Path) -> tuple[Path, str | None]:
    """The embedded default's credentials file, ``var_dir/credentials.toml``.

    Created on first use (mode 0600) with one operator token, which is returned in plain text
    this one time so that ``pathway dev`` can print it; afterwards only its hash exists and this
    returns ``(path, None)``. Nothing here is a built-in credential: each checkout gets its own.
    """
    path = var_dir / DEV_CREDENTIALS_FILE
    if path.exists():
        return path, None
    var_dir.mkdir(parents=True, exist_ok=True)
    token = new_token()
    try:
        # O_EXCL: two processes starting at once must not both hand out a token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path, None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            "# Pathway access tokens. Only the SHA-256 of each token is kept here; the token\n"
            "# itself is shown once to the person it is for. Add one with:\n"
            "#   python -c 'from pathway.auth import new_token, hash_token; "
            "t = new_token(); print(t, hash_token(t))'\n"
            f"# role: one of {', '.join(_ROLES)}\n"
            "\n"
            "[[tokens]]\n"
            'name = "dev-operator"\n'
            f'role = "{OPERATOR}"\n'
            f'sha256 = "{hash_token(token)}"\n'
        )
    return path, token


class _SessionClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n: str
    r: Role
    exp: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SessionSigner:
    """Browser sessions as HMAC-signed values: the principal's name and role and an expiry.

    The secret is random per process unless given: a restart signs everyone out, which is also
    how a revoked token's sessions end. Nothing is stored server-side.
    """

    _CONTEXT = b"pathway-session/v1|"

    def __init__(self, secret: bytes | None = None, *, ttl: timedelta = SESSION_TTL,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self.ttl = ttl
        self._clock = clock

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, self._CONTEXT + body.encode("ascii"), "sha256").digest()

    def issue(self, principal: Principal) -> tuple[str, datetime]:
        """A session value for ``principal`` and the moment it expires."""
        expires = self._clock() + self.ttl
        claims = {"n": principal.name, "r": principal.role, "exp": int(expires.timestamp())}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{_b64(self._mac(body))}", expires

    def verify(self, value: str) -> Principal | None:
        """The principal of a genuine, unexpired session value; None for anything else."""
        body, _, mac = value.partition(".")
        try:
            genuine = hmac.compare_digest(_unb64(mac), self._mac(body))
            if not genuine:
                return None
            claims = _SessionClaims.model_validate_json(_unb64(body))
        except (ValueError, UnicodeError):
            # Bad base64, non-ASCII or a claims shape this version does not know: not a session.
            return None
        if claims.exp <= self._clock().timestamp():
            return None
        return Principal(organisation=claims.r, name=claims.n)
