"""What every command group of the CLI shares: exit codes, the errors that become them, reading
an event file, :func:`printable`, connecting to Temporal, the operator check, local times.

Imported by the command modules and by :mod:`pathway.cli`; it imports none of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO, TypeAlias, TypeVar

from pydantic import TypeAdapter, ValidationError

from pathway.domain.calendar import LJUBLJANA
from pathway.domain.events import validation_problems

if TYPE_CHECKING:
    from temporalio.client import Client

    from pathway.access.credentials import Principal

EXIT_OK: Final = 0
EXIT_INTERNAL: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_REJECTED: Final = 3
EXIT_UNKNOWN_CASE: Final = 4
EXIT_UNAVAILABLE: Final = 5
EXIT_NOT_ALLOWED: Final = 6
#: Temporal took no more events for the case just then; nothing was recorded: run it again.
EXIT_BUSY: Final = 7
#: Temporal is up but did not answer in time: run it again with the same event (event_id).
EXIT_OUTCOME_UNKNOWN: Final = 8
EXIT_INTERRUPTED: Final = 130

#: What a date-time field expects, named in every error about one.
DATETIME_FORMAT: Final = "ISO 8601 with a UTC offset, e.g. 2026-11-20T09:00:00+01:00"
DATE_FORMAT: Final = "ISO 8601, e.g. 2026-11-20"

#: A command: ``(args, out) -> exit code``, or a coroutine for one (run with ``asyncio.run``).
Handler: TypeAlias = Callable[[argparse.Namespace, TextIO], "int | Awaitable[int]"]
#: What each command module's ``add_commands`` registers its commands on.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

T = TypeVar("T")


class BadInput(Exception):
    """Input that cannot become an event; the message names the field or the file."""


class Unavailable(Exception):
    """Temporal cannot be reached; the message names the address tried."""


class NotAllowed(Exception):
    """The caller's credentials do not allow this command."""


# -- what reaches the terminal -------------------------------------------------------------------

_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control (Cc: C0, DEL, C1), format (Cf: bidi overrides and isolates, zero-width characters),
# lone surrogates (Cs, which JSON allows and a terminal cannot print) and the Unicode line and
# paragraph separators (Zl, Zp).
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code <= 0xFF
        else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    )


def printable(text: object) -> str:
    """``str(text)`` safe for a terminal: every control, format (bidi) or separator character
    becomes a visible escape (``\\x1b``, ``\\n``, ``\\x00``, ``\\u202e``), so a value from an
    event can neither forge a line nor recolour or reorder one. Everything else, letters with
    diacritics included, is kept; so is a backslash, which keeps ``printable`` idempotent (a
    literal ``\\n`` in the text looks the same as an escaped line break)."""
    value = str(text)
    if value.isprintable():
        return value  # the common case: nothing to escape
    return "".join(
        _escape(char) if unicodedata.category(char) in _UNPRINTABLE else char for char in value
    )


def lines(message: object) -> str:
    """A message for stderr: each of its lines :func:`printable` (a second line of defence:
    whoever builds a message escapes the values it quotes)."""
    return "\n".join(printable(line) for line in str(message).split("\n"))


def write_json(value: Any, out: TextIO) -> None:
    """``value`` as indented JSON with every non-ASCII character escaped (``\\u202e``), so
    that a terminal never receives a raw control or bidi character; still valid JSON."""
    out.write(json.dumps(value, ensure_ascii=True, indent=2) + "\n")


def local_time(value: datetime | str | None, with_time: bool = True) -> str:
    """An instant (or its ISO text) as Ljubljana wall-clock time; ``-`` for none."""
    if value is None:
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = instant.astimezone(LJUBLJANA)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


# -- event files ---------------------------------------------------------------------------------


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


#: The most an event file (or standard input) may hold; an event is a few KiB (the gateway
#: takes bodies of at most 64 KiB), so anything larger is a mistake (``/dev/zero``, a log).
MAX_EVENT_BYTES: Final = 1024 * 1024
MAX_EVENT_SIZE: Final = "1 MiB"


def _read_limited(source: str) -> bytes | str:
    """At most :data:`MAX_EVENT_BYTES` + 1 bytes (characters, for a text-only stdin) of
    ``source``: one more than allowed tells that there is more."""
    if source != "-":
        with Path(source).open("rb") as file:
            return file.read(MAX_EVENT_BYTES + 1)
    stdin = sys.stdin
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read(MAX_EVENT_BYTES + 1)
        return data
    return stdin.read(MAX_EVENT_BYTES + 1)


def _read_text(source: str, name: str) -> bytes | str:
    try:
        raw = _read_limited(source)
    except FileNotFoundError:
        raise BadInput(f"{name} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"{name} is a directory, not an event file") from None
    except PermissionError:
        raise BadInput(f"{name} cannot be read: permission denied") from None
    except OSError as err:
        raise BadInput(f"{name} cannot be read: {err.strerror or type(err).__name__}") from None
    if len(raw) > MAX_EVENT_BYTES:
        raise BadInput(f"{name} is larger than {MAX_EVENT_SIZE}, too large to be an event")
    return raw


def read_json(source: str) -> Any:
    """The JSON value in file ``source`` (``-``: standard input).

    Raises :class:`BadInput` with one line naming the file for a file that does not exist,
    is a directory, cannot be read, is larger than :data:`MAX_EVENT_BYTES`, is not UTF-8, is
    not JSON (with the decoder's full message, line and column) or is nested too deeply to
    parse.
    """
    name = "standard input" if source == "-" else printable(source)
    raw = _read_text(source, name)
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as err:
        raise BadInput(
            f"{name} is not UTF-8 text (invalid byte at offset {err.start}); an event file is JSON"
        ) from None
    try:
        return json.loads(text, parse_constant=_strict_constant)
    except json.JSONDecodeError as err:
        raise BadInput(
            f"{name} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except ValueError as err:  # NaN, Infinity
        raise BadInput(f"{name} is not valid JSON: {err}") from None
    except RecursionError:
        raise BadInput(f"{name} is nested too deeply to be an event") from None


def _format_hint(error_type: str) -> str:
    if error_type.startswith(("datetime", "timezone")):
        return f" (expected {DATETIME_FORMAT})"
    if error_type.startswith("date"):
        return f" (expected {DATE_FORMAT})"
    return ""


def invalid_event(err: ValidationError) -> BadInput:
    """One line per problem, ``field <path>: <message>``; a date or time names its format."""
    problems = validation_problems(err)
    types = [e["type"] for e in err.errors(include_url=False)]
    found = [
        f"field {printable(where)}: {printable(msg)}{_format_hint(kind)}"
        for (where, msg), kind in zip(problems, types, strict=True)
    ]
    return BadInput("invalid event:\n  " + "\n  ".join(found))


def load(source: str, adapter: TypeAdapter[T]) -> T:
    """The event in file ``source`` (``-``: standard input), validated by ``adapter``;
    :class:`BadInput` naming the file or every field at fault."""
    try:
        return adapter.validate_python(read_json(source))
    except ValidationError as err:
        raise invalid_event(err) from err


# -- Temporal ------------------------------------------------------------------------------------


def target(args: argparse.Namespace) -> tuple[str, str]:
    """The Temporal address and namespace this command uses, as
    :func:`pathway.temporal_connection.connect` picks them: ``--address``/``--namespace``,
    else ``PATHWAY_TEMPORAL_ADDRESS`` / ``PATHWAY_NAMESPACE``, else the SDK's configuration
    (``TEMPORAL_*``, profile), else the defaults."""
    from pathway.temporal_config import describe_target

    connection = describe_target(getattr(args, "address", None), getattr(args, "namespace", None))
    return connection.target, connection.namespace


def unreachable(args: argparse.Namespace) -> str:
    """The one line saying Temporal could not be reached, naming where and how to start it
    (and, over TLS, what else to check)."""
    from pathway.temporal_config import describe_target

    connection = describe_target(getattr(args, "address", None), getattr(args, "namespace", None))
    address, namespace = connection.target, connection.namespace
    tls = (
        "; over TLS, also check the server CA and client certificate (TEMPORAL_TLS_*)"
        if connection.uses_tls
        else ""
    )
    return (
        f"could not reach Temporal at {address} (namespace {namespace}); start the service "
        f"with bin/serve, or set --address / PATHWAY_TEMPORAL_ADDRESS{tls}"
    )


async def connect(args: argparse.Namespace) -> Client:
    """A client for ``args``' Temporal; :class:`Unavailable` naming the address if it cannot
    be reached, :class:`BadInput` naming the setting if a connection setting cannot work
    (a profile file or certificate that does not exist, an unknown profile)."""
    from pathway.temporal_config import TemporalConfigError
    from pathway.temporal_connection import connect as connect_client

    try:
        return await connect_client(
            getattr(args, "address", None), getattr(args, "namespace", None)
        )
    except TemporalConfigError as err:
        raise BadInput(printable(err)) from None
    except RuntimeError as err:  # the SDK reports a failed connection as RuntimeError
        raise Unavailable(unreachable(args)) from err


# -- credentials ---------------------------------------------------------------------------------


def credentials_file(args: argparse.Namespace | None = None) -> Path:
    """The credentials file: ``--file``, else ``$PATHWAY_CREDENTIALS``, else the embedded
    default's ``$PATHWAY_VAR/credentials.toml`` (the one ``pathway dev`` uses), which needs the
    state directory to exist (:func:`pathway.settings.existing_state`: only ``pathway dev``
    creates it)."""
    from pathway import settings
    from pathway.access.credentials import DEV_CREDENTIALS_FILE

    if args is not None and getattr(args, "file", None):
        return Path(args.file)
    if (path := settings.current().credentials) is not None:
        return path
    return settings.existing_state(secrets_needed=False) / DEV_CREDENTIALS_FILE


def operator() -> Principal:
    """The operator whose token is in ``PATHWAY_TOKEN``; anyone else is refused."""
    from pathway import settings
    from pathway.access.credentials import Credentials, CredentialsError

    secret = settings.current().token
    token = "" if secret is None else secret.get_secret_value()
    if not token:
        raise NotAllowed("set PATHWAY_TOKEN to an operator's token")
    try:
        credentials = Credentials.load(credentials_file())
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    principal = credentials.authenticate(token)
    if principal is None or not principal.is_operator:
        raise NotAllowed("only an operator may do this")
    return principal
