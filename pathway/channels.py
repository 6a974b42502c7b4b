"""How each organisation receives its notifications (docs/rules.md "Notifications").

Three channels: a signed webhook, e-mail over SMTP, or a local outbox file (the embedded default,
so a fresh install delivers somewhere without any configuration). The mapping from organisation to
channel is read from a TOML file; see ``deploy/channels.example.toml`` for every option.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, BinaryIO, Literal, get_args

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from pathway.domain.organisations import NOTIFIED, Organisation
from pathway.secret_files import open_private_append, private_dir
from pathway.settings import var_dir

#: The environment variable naming the channels file when no path is given.
CHANNELS_ENV = "PATHWAY_CHANNELS"

ChannelKind = Literal["outbox", "webhook", "smtp"]


class _ChannelModel(BaseModel):
    # extra="forbid": a misspelt option (``timeout`` for ``timeout_seconds``) must fail loudly
    # rather than silently fall back to a default.
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutboxChannel(_ChannelModel):
    """Append one JSON line per notification to ``<directory>/<recipient>.jsonl``.

    A relative ``directory`` is relative to the worker's working directory; by default it is
    ``outbox/`` in the state directory (``PATHWAY_VAR``, default ``./var``). The directory is
    created 0700 and each file 0600 (:func:`open_outbox`), whatever the umask.
    """

    kind: Literal["outbox"] = "outbox"
    directory: Path = Field(default_factory=lambda: var_dir() / "outbox")


def open_outbox(path: Path) -> BinaryIO:
    """An outbox file opened for appending: created 0600 (and its directory 0700) if missing,
    so that only the service's account reads the notifications, whatever the umask."""
    private_dir(path.parent)
    return open_private_append(path)


class WebhookChannel(_ChannelModel):
    """POST the notification as JSON, signed with HMAC-SHA256 over the timestamp and body."""

    kind: Literal["webhook"] = "webhook"
    url: str
    # 16 characters at least: a short shared secret makes the signature guessable.
    secret: SecretStr = Field(min_length=16)
    timeout_seconds: float = Field(default=10, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as error:
            raise ValueError(f"not a valid URL: {error}") from error
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value


def _mailbox(value: str) -> str:
    # A full address check needs the email-validator package; this catches the mistakes that
    # matter here (an empty value, a name instead of an address, header injection via newlines).
    if "@" not in value or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


class SmtpChannel(_ChannelModel):
    """Send a plain-text e-mail through an SMTP server (optionally upgraded with STARTTLS)."""

    kind: Literal["smtp"] = "smtp"
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=10, gt=0)

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        return _mailbox(value)

    @field_validator("recipients")
    @classmethod
    def _recipient_addresses(cls, value: list[str]) -> list[str]:
        return [_mailbox(address) for address in value]

    @model_validator(mode="after")
    def _password_needs_username(self) -> SmtpChannel:
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")
        return self


Channel = Annotated[OutboxChannel | WebhookChannel | SmtpChannel, Field(discriminator="kind")]


class Channels(BaseModel):
    """The channel of every organisation: its own entry if it has one, else ``default``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Channel = Field(default_factory=OutboxChannel)
    organisations: dict[Organisation, Channel] = Field(default_factory=dict)

    @field_validator("organisations")
    @classmethod
    def _only_notified(cls, value: dict[Organisation, Channel]) -> dict[Organisation, Channel]:
        # A channel for an organisation that is never notified (the analyst) is a mistake in the
        # file, most likely the wrong key.
        unused = sorted(org.value for org in value if org not in NOTIFIED)
        if unused:
            raise ValueError(f"{', '.join(unused)} never receive notifications")
        return value

    def for_recipient(self, organisation: Organisation) -> Channel:
        """The channel through which ``organisation`` receives notifications."""
        return self.organisations.get(organisation, self.default)


class ChannelConfigError(ValueError):
    """The channels file is missing, unreadable, not TOML, or has an invalid option."""


def load_channels(path: Path | None = None) -> Channels:
    """Read the channels file at ``path``.

    Without a path, the file named by ``$PATHWAY_CHANNELS`` is read; if that is unset too,
    every organisation gets the default outbox. Errors name the file and the offending option.
    """
    if path is None:
        from pathway import settings

        if (path := settings.current().channels) is None:
            return Channels()
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except OSError as error:
        raise ChannelConfigError(f"{path}: cannot read: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ChannelConfigError(f"{path}: not valid TOML: {error}") from error
    try:
        return Channels.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{_location(detail)}: {detail['msg'].removeprefix('Value error, ')}"
            for detail in error.errors()
        )
        raise ChannelConfigError(f"{path}: {problems}") from error


_KINDS = frozenset(get_args(ChannelKind))


def _location(detail: ErrorDetails) -> str:
    """The option's dotted path as written in TOML (``organisations.police.secret``).

    Pydantic puts the union's tag into the path (``organisations.police.webhook.secret``), a
    table that does not exist in the file, so it is left out.
    """
    loc = list(detail["loc"])
    if loc[:1] == ["default"] and len(loc) > 1 and loc[1] in _KINDS:
        del loc[1]
    elif loc[:1] == ["organisations"] and len(loc) > 2 and loc[2] in _KINDS:
        del loc[2]
    # "[key]" marks a bad dictionary key; the key itself is already the last part of the path.
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc if part != "[key]"
    )
    return path.removeprefix(".") or "(file)"
