"""Who is calling: bearer tokens checked against stored hashes, and signed browser sessions.

Shared by every HTTP front of the service (the codec server and the event gateway), so it
knows nothing of HTTP frameworks. Access is per role (docs/rules.md "Access"): a
:class:`Principal` is a named person or system acting for one
:class:`~pathway.domain.organisations.Organisation`, or an ``"operator"`` (the ministry staff who
run the service).

Tokens are random secrets handed out once; the credentials file keeps only their SHA-256, so a
copy of the file (a backup, a support ticket) lets nobody in. A plain hash is enough because the
tokens carry 256 bits of entropy: there is no password to guess, so a slow KDF would buy nothing.

:func:`add_token` (``pathway credentials add``) adds a token to the file, atomically; a
:class:`Credentials` loaded from a file follows it (:meth:`Credentials.current`), so running
servers accept a new token, and refuse a removed one, without a restart.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal, NamedTuple

import structlog
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from pathway.domain.organisations import Organisation
from pathway.secret_files import private_dir, write_secret

__all__ = [
    "CREDENTIALS_ENV",
    "OPERATOR",
    "ROLES",
    "SESSION_TTL",
    "Credentials",
    "CredentialsError",
    "Principal",
    "Role",
    "SessionSigner",
    "TokenEntry",
    "add_token",
    "ensure_dev_credentials",
    "hash_token",
    "new_token",
    "remove_token",
]

log = structlog.stdlib.get_logger(__name__)

CREDENTIALS_ENV: Final = "PATHWAY_CREDENTIALS"
OPERATOR: Final = "operator"
#: How long a browser session lasts: one working day, then the person pastes their token again.
SESSION_TTL: Final = timedelta(hours=8)
DEV_CREDENTIALS_FILE: Final = "credentials.toml"

_ROLES: Final = (OPERATOR, *(org.value for org in Organisation))
#: Every role a token can have: ``"operator"``, then each organisation.
ROLES: Final[tuple[str, ...]] = _ROLES


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


class _FileStamp(NamedTuple):
    """What ``os.stat`` says about a file version: a rename, a rewrite or an edit changes it."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def _stamp(path: Path) -> _FileStamp | None:
    """The file's stamp, or None if it cannot be seen (removed, no permission)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _FileStamp(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Credentials(BaseModel):
    """The tokens that may call the service, stored as hashes only.

    One loaded from a file (:meth:`load`) follows the file: :meth:`authenticate` checks the
    file's stamp (one ``stat``) on every call and re-reads it when it changed, so tokens added
    by ``pathway credentials add`` (or removed by hand) count at once, without a restart. A
    version that cannot be read or is invalid is logged and ignored: the last valid one stays in
    force until the file is fixed. ``tokens`` is the content as first loaded; :meth:`current`
    is the content in force now. One built directly (``Credentials(tokens=[...])``) is fixed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: list[TokenEntry] = Field(min_length=1)

    # Where this was loaded from, the stamp last looked at, and the last valid content read
    # since (None: this object's own tokens). Replacing the reference is atomic, so concurrent
    # callers at worst both re-read the file.
    _source: Path | None = PrivateAttr(default=None)
    _seen: _FileStamp | None = PrivateAttr(default=None)
    _latest: Credentials | None = PrivateAttr(default=None)

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
        """Read the TOML file at ``path``, else at ``$PATHWAY_CREDENTIALS``; the result follows
        the file from then on (see the class).

        Raises :class:`CredentialsError` (naming the file and the field, never a value) if the
        file is missing, unreadable, not TOML or not a valid credentials file.
        """
        if path is None:
            from pathway import settings

            path = settings.current().credentials
            if path is None:
                raise CredentialsError(f"no credentials file: set {CREDENTIALS_ENV} or pass a path")
        # Stamped before reading: a change while reading shows as a new stamp at the next check.
        seen = _stamp(path)
        credentials = cls._read(path)
        credentials._source = path
        credentials._seen = seen
        return credentials

    @classmethod
    def _read(cls, path: Path) -> Credentials:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise CredentialsError(f"credentials file {path} does not exist") from err
        except (OSError, UnicodeDecodeError) as err:
            raise CredentialsError(
                f"credentials file {path} cannot be read: {type(err).__name__}"
            ) from err
        except tomllib.TOMLDecodeError as err:
            # The decoder's message gives line and column only, never the offending text.
            raise CredentialsError(f"credentials file {path} is not valid TOML: {err}") from err
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            raise CredentialsError(f"credentials file {path}: {_describe(err)}") from None

    @property
    def source(self) -> Path | None:
        """The file this was loaded from (None if built directly)."""
        return self._source

    def current(self) -> Credentials:
        """The credentials in force now: the file's latest valid content if this was loaded
        from a file (re-read only when its stamp changed), else ``self``. Never raises."""
        if self._source is None:
            return self
        stamp = _stamp(self._source)
        if stamp == self._seen:
            return self._latest or self
        self._seen = stamp
        try:
            fresh = type(self)._read(self._source)
        except CredentialsError as err:
            # The message names the file, line and field, never a token or hash.
            log.error(
                "credentials file not reloaded; the last valid version stays in force",
                file=str(self._source),
                error=str(err),
            )
            return self._latest or self
        self._latest = fresh
        log.info("credentials file reloaded", file=str(self._source), entries=len(fresh.tokens))
        return fresh

    def holds(self, principal: Principal, credential: str) -> bool:
        """Whether :meth:`current` still has ``principal``'s entry (name and role) for the
        token whose hash starts with ``credential`` (hex; a session keeps the first
        :data:`CREDENTIAL_DIGITS` digits of :func:`hash_token`). A browser session signed in
        with a token counts only while it does: removing the entry (revoking the token) ends
        its sessions at their next request, and a new token under the same name does not bring
        them back."""
        credential = credential.lower()
        return len(credential) >= CREDENTIAL_DIGITS and any(
            entry.name == principal.name
            and entry.role == principal.role
            and entry.sha256.startswith(credential)
            for entry in self.current().tokens
        )

    def authenticate(self, token: str) -> Principal | None:
        """The principal whose token this is, or None (checked against :meth:`current`).

        Every entry is compared, in constant time, whatever matched: the time taken tells
        nothing about which entry (or how much of a hash) a guess came close to.
        """
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: TokenEntry | None = None
        for entry in self.current().tokens:
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


_FILE_HEADER: Final = (
    "# Pathway access tokens. Only the SHA-256 of each token is kept here; the token\n"
    "# itself is shown once to the person it is for. Add one with:\n"
    "#   pathway credentials add ROLE [--name NAME]\n"
    f"# role: one of {', '.join(_ROLES)}\n"
)

_NAME_RULE: Final = (
    "a name starts with a letter, digit or _ and has only letters, digits, "
    "spaces and _ . @ ' - (at most 100 characters)"
)


def _entry_toml(entry: TokenEntry, comment: str | None = None) -> str:
    # json.dumps escapes exactly what a TOML basic string must (quote, backslash, controls).
    head = f"# {comment}\n" if comment else ""
    return (
        f"{head}[[tokens]]\nname = {json.dumps(entry.name, ensure_ascii=False)}\n"
        f'role = "{entry.role}"\nsha256 = "{entry.sha256}"\n'
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on changing ``path`` (``.<name>.lock`` beside it): two changes at once
    must not each keep only their own new entry."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_for_update(path: Path) -> tuple[str | None, list[TokenEntry]]:
    """The file's text (None if it does not exist) and its entries (none for a file of
    comments only); :class:`CredentialsError` if it is not a valid credentials file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, []
    except (OSError, UnicodeDecodeError) as err:
        raise CredentialsError(
            f"credentials file {path} cannot be read: {type(err).__name__}"
        ) from err
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CredentialsError(f"credentials file {path} is not valid TOML: {err}") from err
    if not raw.get("tokens") and set(raw) <= {"tokens"}:
        return text, []
    try:
        return text, Credentials.model_validate(raw).tokens
    except ValidationError as err:
        raise CredentialsError(f"credentials file {path}: {_describe(err)}") from None


def _free_name(role: str, taken: set[str]) -> str:
    number = 1
    while f"{role}-{number}" in taken:
        number += 1
    return f"{role}-{number}"


def add_token(path: Path, role: str, name: str | None = None) -> tuple[TokenEntry, str]:
    """Add a new random token for ``role`` (an organisation, or ``"operator"``) to the
    credentials file at ``path``, creating the file (and its directory, 0700) if missing.

    ``name`` defaults to ``<role>-<n>``, the first such name not yet in the file. Only the
    token's hash is written; the file is replaced in one step (mode 0600) under a lock, so
    running servers (which follow the file) never see half of it, and existing entries and
    comments are kept. Returns the new entry and the token in plain text, which exists nowhere
    else: hand it to its holder once.

    Raises :class:`CredentialsError` for an unknown role (listing the valid ones), an invalid
    or taken name, or a file that is invalid or cannot be written; the message quotes the role
    or name as given (the caller escapes it for a terminal).
    """
    if role not in _ROLES:
        raise CredentialsError(f"unknown role '{role}'; valid roles: {', '.join(_ROLES)}")
    try:
        private_dir(path.parent)
        with _locked(path):
            while True:
                text, entries = _read_for_update(path)
                taken = {entry.name for entry in entries}
                chosen = _free_name(role, taken) if name is None else name
                if chosen in taken:
                    raise CredentialsError(
                        f"the name '{chosen}' is already in {path}; choose another with --name"
                    )
                token = new_token()
                try:
                    entry = TokenEntry(name=chosen, role=role, sha256=hash_token(token))
                except ValidationError:
                    raise CredentialsError(f"invalid name '{chosen}': {_NAME_RULE}") from None
                new_text = _appended(text, entries, entry)
                # Without the lock (pathway dev creating its first file): only if still absent.
                if write_secret(path, new_text, replace=text is not None):
                    return entry, token
    except OSError as err:
        raise CredentialsError(
            f"credentials file {path} cannot be written: {err.strerror or type(err).__name__}"
        ) from err


def _appended(text: str | None, entries: list[TokenEntry], entry: TokenEntry) -> str:
    """The file's text with ``entry`` appended (comments and layout kept), or, if appending
    does not give a valid file (e.g. an inline ``tokens = [...]``), every entry written anew."""
    comment = (
        f"{entry.name}: added {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `pathway credentials add`"
    )
    base = _FILE_HEADER if text is None else text
    if base and not base.endswith("\n"):
        base += "\n"
    candidate = f"{base}\n{_entry_toml(entry, comment)}"
    try:
        Credentials.model_validate(tomllib.loads(candidate))
        return candidate
    except (tomllib.TOMLDecodeError, ValidationError):
        return _FILE_HEADER + "".join(f"\n{_entry_toml(e)}" for e in [*entries, entry])


def remove_token(path: Path, name: str) -> TokenEntry:
    """Remove the entry ``name`` from the credentials file at ``path`` (revoking its token):
    the file is replaced in one step (mode 0600) under the same lock as :func:`add_token`, so
    running servers (which follow the file) refuse the token, and end its browser sessions, at
    their next request. The remaining entries are written anew (comments are not kept).
    Returns the removed entry.

    Raises :class:`CredentialsError` if the file is missing or invalid, holds no entry
    ``name``, or ``name`` is its last entry (a file with no token would let no one in, and the
    servers would keep the last valid version in force)."""
    try:
        with _locked(path):
            text, entries = _read_for_update(path)
            if text is None:
                raise CredentialsError(f"credentials file {path} does not exist")
            gone = [entry for entry in entries if entry.name == name]
            if not gone:
                raise CredentialsError(f"no token named '{name}' in {path}")
            kept = [entry for entry in entries if entry.name != name]
            if not kept:
                raise CredentialsError(
                    f"'{name}' holds the last token in {path}: add another first"
                )
            write_secret(
                path, _FILE_HEADER + "".join(f"\n{_entry_toml(e)}" for e in kept), replace=True
            )
            return gone[0]
    except OSError as err:
        raise CredentialsError(
            f"credentials file {path} cannot be written: {err.strerror or type(err).__name__}"
        ) from err


def ensure_dev_credentials(var_dir: Path) -> tuple[Path, str | None]:
    """The embedded default's credentials file, ``var_dir/credentials.toml``.

    Created on first use (mode 0600, in one step; ``var_dir`` 0700 if new) with one operator
    token, which is returned in plain text this one time so that ``pathway dev`` can hand it
    over; afterwards only its hash exists and this returns ``(path, None)``. Nothing here is a
    built-in credential: each checkout gets its own.
    """
    path = var_dir / DEV_CREDENTIALS_FILE
    if path.exists():
        return path, None
    private_dir(var_dir)
    token = new_token()
    entry = TokenEntry(name="dev-operator", role=OPERATOR, sha256=hash_token(token))
    # Linked into place only if absent: two processes starting at once must not both hand out
    # a token, and no reader ever sees a half-written file.
    if not write_secret(path, f"{_FILE_HEADER}\n{_entry_toml(entry)}", replace=False):
        return path, None
    return path, token


class _SessionClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n: str
    r: Role
    exp: int
    # The first CREDENTIAL_DIGITS hex digits of the token's hash; absent: a JWT sign-in.
    h: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")


#: How many hex digits of a token's hash a session keeps (128 bits): enough to tell one token
#: of a name from the next, while the cookie still holds nothing that opens the service.
CREDENTIAL_DIGITS: Final = 32


class Session(NamedTuple):
    """A genuine, unexpired session: who, and (a token sign-in) the first
    :data:`CREDENTIAL_DIGITS` hex digits of the token's hash, None for a JWT sign-in."""

    principal: Principal
    credential: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SessionSigner:
    """Browser sessions as HMAC-signed values: the principal's name and role and an expiry.

    The secret is random per process unless given (a restart then signs everyone out). A
    session carries no token: whoever verifies it also checks that the principal still holds
    one (:meth:`Credentials.holds`), which is how a revoked token's sessions end. Nothing is
    stored server-side.
    """

    _CONTEXT = b"pathway-session/v1|"

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        ttl: timedelta = SESSION_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self.ttl = ttl
        self._clock = clock

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, self._CONTEXT + body.encode("ascii"), "sha256").digest()

    def issue(self, principal: Principal, credential: str | None = None) -> tuple[str, datetime]:
        """A session value for ``principal`` and the moment it expires. ``credential``: the
        hash of the token it signed in with (:func:`hash_token`; None for a JWT), of which the
        session keeps the first :data:`CREDENTIAL_DIGITS` digits (:meth:`open`)."""
        expires = self._clock() + self.ttl
        claims: dict[str, Any] = {
            "n": principal.name,
            "r": principal.role,
            "exp": int(expires.timestamp()),
        }
        if credential is not None:
            claims["h"] = credential.lower()[:CREDENTIAL_DIGITS]
        body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{_b64(self._mac(body))}", expires

    def verify(self, value: str) -> Principal | None:
        """The principal of a genuine, unexpired session value; None for anything else."""
        session = self.open(value)
        return None if session is None else session.principal

    def open(self, value: str) -> Session | None:
        """The :class:`Session` of a genuine, unexpired session value; None for anything
        else. Whoever uses it checks that its token is still held (:meth:`Credentials.holds`)."""
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
        return Session(Principal(organisation=claims.r, name=claims.n), claims.h)
