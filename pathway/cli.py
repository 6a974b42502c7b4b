"""The operator CLI: ``pathway dev``, ``pathway worker``, ``pathway gateway``, ``pathway case …``,
``pathway credentials …``, ``pathway schema``.

Exit codes: 0 done; 1 internal error (one line naming the exception type); 2 bad input (the
field or file is named); 3 the event broke a rule (the rule ID is named); 4 unknown (or erased)
case; 5 Temporal unreachable (the address is named); 6 not allowed.

Nothing a sender wrote reaches the terminal raw: human-readable output passes every such value
through :func:`printable`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import traceback
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TextIO

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from pathway import cases
from pathway.auth import OPERATOR, Principal
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.events import EVENT_ADAPTER, Identified, parse_event, validation_problems
from pathway.domain.state import CaseState
from pathway.privacy.keys import CaseErased

EXIT_OK, EXIT_BAD_INPUT, EXIT_REJECTED, EXIT_UNKNOWN_CASE, EXIT_UNAVAILABLE = 0, 2, 3, 4, 5
EXIT_NOT_ALLOWED = 6
EXIT_INTERNAL = 1

#: Set (to anything) to get the traceback of an internal error on stderr.
DEBUG_ENV: Final = "PATHWAY_DEBUG"
#: What a date-time field expects, named in every error about one.
DATETIME_FORMAT: Final = "ISO 8601 with a UTC offset, e.g. 2026-11-20T09:00:00+01:00"
DATE_FORMAT: Final = "ISO 8601, e.g. 2026-11-20"


class BadInput(Exception):
    """Input that cannot become an event; the message names the field or the file."""


class Unavailable(Exception):
    """Temporal cannot be reached; the message names the address tried."""


class NotAllowed(Exception):
    """The caller's credentials do not allow this command."""


_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control (Cc: C0, DEL, C1), format (Cf: bidi overrides and isolates, zero-width characters),
# lone surrogates (Cs, which JSON allows and a terminal cannot print) and the Unicode line and
# paragraph separators (Zl, Zp).
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else (
        f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def printable(text: object) -> str:
    """``str(text)`` safe for a terminal: every control, format (bidi) or separator character
    becomes a visible escape (``\\x1b``, ``\\n``, ``\\x00``, ``\\u202e``), so a value from an
    event can neither forge a line nor recolour or reorder one. Everything else, letters with
    diacritics included, is kept; so is a backslash, which keeps ``printable`` idempotent (a
    literal ``\\n`` in the text looks the same as an escaped line break)."""
    value = str(text)
    if value.isprintable():
        return value  # the common case: nothing to escape
    return "".join(_escape(char) if unicodedata.category(char) in _UNPRINTABLE else char
                   for char in value)


def _lines(message: object) -> str:
    """A message for stderr: each of its lines :func:`printable` (a second line of defence:
    whoever builds a message escapes the values it quotes)."""
    return "\n".join(printable(line) for line in str(message).split("\n"))


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _read_json(source: str) -> Any:
    """The JSON value in file ``source`` (``-``: standard input).

    Raises :class:`BadInput` with one line naming the file for a file that does not exist,
    is a directory, cannot be read, is not UTF-8, is not JSON (with the decoder's full message,
    line and column) or is nested too deeply to parse.
    """
    name = "standard input" if source == "-" else printable(source)
    try:
        if source == "-":
            stdin = sys.stdin
            raw: bytes | str = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
        else:
            raw = Path(source).read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{name} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"{name} is a directory, not an event file") from None
    except PermissionError:
        raise BadInput(f"{name} cannot be read: permission denied") from None
    except OSError as err:
        raise BadInput(f"{name} cannot be read: {err.strerror or type(err).__name__}") from None
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as err:
        raise BadInput(f"{name} is not UTF-8 text (invalid byte at offset {err.start}); an "
                       "event file is JSON") from None
    try:
        return json.loads(text, parse_constant=_strict_constant)
    except json.JSONDecodeError as err:
        raise BadInput(f"{name} is not valid JSON: {err.msg} at line {err.lineno}, "
                       f"column {err.colno}") from None
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
    lines = [f"field {printable(where)}: {printable(msg)}{_format_hint(kind)}"
             for (where, msg), kind in zip(problems, types, strict=True)]
    return BadInput("invalid event:\n  " + "\n  ".join(lines))


def _parse(source: str) -> Any:
    try:
        return parse_event(_read_json(source))
    except ValidationError as err:
        raise invalid_event(err) from err


def _target(args: argparse.Namespace) -> tuple[str, str]:
    """The Temporal address and namespace this command uses, as :func:`pathway.client.connect`
    picks them: ``--address``/``--namespace``, else the environment, else the defaults."""
    from pathway.client import DEFAULT_NAMESPACE, DEFAULT_TARGET

    address = getattr(args, "address", None) or os.environ.get(
        "PATHWAY_TEMPORAL_ADDRESS", DEFAULT_TARGET)
    namespace = getattr(args, "namespace", None) or os.environ.get(
        "PATHWAY_NAMESPACE", DEFAULT_NAMESPACE)
    return address, namespace


def _unreachable(args: argparse.Namespace) -> str:
    address, namespace = _target(args)
    return (f"could not reach Temporal at {address} (namespace {namespace}); start the service "
            "with bin/serve, or set --address / PATHWAY_TEMPORAL_ADDRESS")


async def _connect(args: argparse.Namespace) -> Client:
    """A client for ``args``' Temporal; :class:`Unavailable` naming the address if it cannot
    be reached."""
    from pathway.client import connect

    address, namespace = _target(args)
    try:
        return await connect(address, namespace)
    except RuntimeError as err:  # the SDK reports a failed connection as RuntimeError
        raise Unavailable(_unreachable(args)) from err


async def _case_open(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings

    event = _parse(args.file)
    if not isinstance(event, Identified):
        raise BadInput("field type: a case is opened by an 'identified' event (R1)")
    client = await _connect(args)
    case_id, result = await cases.open_case(
        client, event, pepper=settings.id_pepper(), config=settings.case_config()
    )
    if args.json:
        out.write(json.dumps({"case_id": case_id, **result.model_dump(mode="json")}, indent=2))
        out.write("\n")
    else:
        # The ID alone on stdout, so that CASE=$(pathway case open …) works also on a repeat.
        out.write(printable(case_id) + "\n")
        if result.duplicate:
            sys.stderr.write("(already open: this is the first result; nothing changed)\n")
    return EXIT_OK


async def _case_event(args: argparse.Namespace, out: TextIO) -> int:
    event = _parse(args.file)
    client = await _connect(args)
    result = await cases.record_event(client, args.case_id, event)
    if args.json:
        out.write(result.model_dump_json(indent=2) + "\n")
        return EXIT_OK
    note = "  (repeat of an accepted event: first result, nothing changed)" if result.duplicate \
        else ""
    out.write(f"accepted {printable(result.event_type)} {printable(result.event_id)}{note}\n")
    _write_summary_lines(result.summary.model_dump(mode="json"), out)
    return EXIT_OK


async def _case_show(args: argparse.Namespace, out: TextIO) -> int:
    client = await _connect(args)
    state = await cases.case_state(client, args.case_id)
    if args.json:
        out.write(state.model_dump_json(indent=2) + "\n")
    else:
        render_case(state, out)
    return EXIT_OK


def _credentials_file(args: argparse.Namespace | None = None) -> Path:
    """The credentials file: ``--file``, else ``$PATHWAY_CREDENTIALS``, else the embedded
    default's ``$PATHWAY_VAR/credentials.toml`` (the one ``pathway dev`` uses)."""
    from pathway import settings
    from pathway.auth import CREDENTIALS_ENV, DEV_CREDENTIALS_FILE

    if args is not None and getattr(args, "file", None):
        return Path(args.file)
    if env := os.environ.get(CREDENTIALS_ENV):
        return Path(env)
    return settings.var_dir() / DEV_CREDENTIALS_FILE


def _operator() -> Principal:
    """The operator whose token is in ``PATHWAY_TOKEN``; anyone else is refused."""
    from pathway.auth import Credentials, CredentialsError

    token = os.environ.get("PATHWAY_TOKEN", "")
    if not token:
        raise NotAllowed("set PATHWAY_TOKEN to an operator's token")
    try:
        credentials = Credentials.load(_credentials_file())
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    principal = credentials.authenticate(token)
    if principal is None or not principal.is_operator:
        raise NotAllowed("only an operator may do this")
    return principal


async def _case_erase(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.client import default_keystore
    from pathway.privacy.erasure import erase_case

    principal = _operator()
    store = default_keystore()
    client = await _connect(args)
    erasure = await erase_case(client, store, args.case_id, by=principal.name, why=args.why)
    state = "erased" if erasure.key_destroyed else "was already erased"
    running = "; its workflow was terminated" if erasure.was_running else ""
    out.write(f"{args.case_id} {state}{running}\n")
    return EXIT_OK


async def _case_history(args: argparse.Namespace, out: TextIO) -> int:
    from google.protobuf.json_format import MessageToJson

    from pathway.privacy.history import fetch_decoded_history

    client = await _connect(args)
    try:
        history = await fetch_decoded_history(client, args.case_id)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise cases.UnknownCase(args.case_id) from err
        raise
    out.write(MessageToJson(history) + "\n")
    return EXIT_OK


def _credentials_add(args: argparse.Namespace, out: TextIO) -> int:
    """``pathway credentials add ROLE [--name NAME] [--file FILE]``: the token alone on
    stdout, what was done on stderr; :class:`BadInput` for a bad role, name or file."""
    from pathway.auth import CredentialsError, add_token

    path = _credentials_file(args)
    new_file = not path.exists()
    try:
        entry, token = add_token(path, args.role, args.name)
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    out.write(token + "\n")  # alone on stdout: TOKEN=$(pathway credentials add caritas)
    note: TextIO = args.stderr
    note.write(f"added {printable(entry.name)} (role {entry.role}) to {printable(path)}; the "
               "token above is shown only this once (only its hash is kept): hand it to its "
               "holder; a running service accepts it at once\n")
    if new_file and entry.role != OPERATOR:
        note.write("that file is new and has no operator token: add one with "
                   "`pathway credentials add operator`\n")
    return EXIT_OK


def _credentials_list(args: argparse.Namespace, out: TextIO) -> int:
    """``pathway credentials list [--file FILE] [--json]``: name and role of every entry,
    never a hash; :class:`BadInput` for a missing or broken file."""
    from pathway.auth import Credentials, CredentialsError

    path = _credentials_file(args)
    if not path.exists():
        raise BadInput(f"credentials file {path} does not exist: `pathway dev` creates it on "
                       "its first start, and so does `pathway credentials add`")
    try:
        entries = Credentials.load(path).tokens
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    if args.json:
        out.write(json.dumps([{"name": e.name, "role": str(e.role)} for e in entries],
                             indent=2) + "\n")
        return EXIT_OK
    width = max(len(e.name) for e in entries)
    for e in entries:
        out.write(f"{printable(e.name):<{width}}  {e.role}\n")
    return EXIT_OK


def _keys_new_master(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.privacy.keys import create_master_key

    key_id = create_master_key(settings.var_dir() / "master-keys")
    out.write(f"{key_id}\nnew data keys are wrapped with it from the next start; run "
              "`pathway keys rewrap` to move the existing ones\n")
    return EXIT_OK


def _keys_rewrap(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.client import default_keystore

    store = default_keystore()
    moved = store.rewrap_all()
    out.write(f"re-wrapped {moved} data keys under {store.ring.newest_id}\n")
    for master_id, count in sorted(store.master_key_use().items()):
        out.write(f"  {master_id}: {count} data keys\n")
    return EXIT_OK


def _local(value: datetime | str | None, with_time: bool = True) -> str:
    if value is None:
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = instant.astimezone(LJUBLJANA)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _write_summary_lines(summary: dict[str, Any], out: TextIO) -> None:
    """The lines after ``accepted …``: phase, deadlines, obligations (``summary`` is a
    :class:`~pathway.domain.state.CaseSummary` dumped as JSON; every value made printable)."""
    p = printable
    out.write(f"phase: {p(summary['phase'])}\n")
    for d in summary["upcoming_deadlines"]:
        out.write(f"  deadline {p(d['kind'])} ({p(d['rule'])}) due {_local(d['due_at'])}"
                  f"  next reminder {_local(d['next_reminder_at'])}\n")
    for o in summary["open_obligations"]:
        flag = "  ESCALATED" if o["escalated"] else ""
        out.write(f"  obligation {p(o['id'])} ({p(o['rule'])}) owner {p(o['owner'])}"
                  f" due {_local(o['due_at'])}{flag}\n")


def render_case(state: CaseState, out: TextIO) -> None:
    """The human view of a case: state, deadlines, obligations, timeline (times in Ljubljana).

    Every text value is passed through :func:`printable`: actor, reason and a child's notes
    come from senders and must not be able to forge lines on the operator's terminal.
    """
    p = printable
    summary = state.summary()
    out.write(f"{p(state.case_id)}  phase: {p(state.phase.value)}"
              f"  opened {_local(state.opened_at)}  (times Europe/Ljubljana)\n")
    out.write("\nDeadlines\n")
    for d in summary.upcoming_deadlines or []:
        out.write(f"  {_local(d.due_at)}  {p(d.kind.value)} ({p(d.rule)})"
                  f"  next reminder {_local(d.next_reminder_at)}\n")
    if not summary.upcoming_deadlines:
        out.write("  none\n")
    out.write("\nOpen obligations\n")
    for o in summary.open_obligations:
        flag = "  ESCALATED" if o.escalated else ""
        out.write(f"  {p(o.owner.value):<20} {p(o.id)} ({p(o.rule)})"
                  f"  due {_local(o.due_at)}{flag}\n")
    if not summary.open_obligations:
        out.write("  none\n")
    out.write(f"\nNotifications pending delivery: {len(state.pending_notifications)}\n")
    out.write("\nTimeline\n")
    for t in sorted(state.timeline, key=lambda entry: entry.at):  # stable: ties keep order
        rule = f" [{p(t.rule)}]" if t.rule else ""
        why = f"  because: {p(t.why)}" if t.why else ""
        out.write(f"  {_local(t.at)}  {p(t.who)}: {p(t.what)}{rule}{why}\n")
        if t.child is not None:  # C1, C2: shown beside the decision
            out.write(f"      best interests: {p(t.child.best_interests)}\n"
                      f"      the child's views: {p(t.child.child_views)}\n")


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    schema = EVENT_ADAPTER.json_schema()
    out.write(json.dumps(schema, indent=2) + "\n")
    return EXIT_OK


def _dev(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.dev import run_dev
    from pathway.logs import configure_logging

    configure_logging()
    # One state directory for everything the embedded default keeps (database, outbox, keys).
    os.environ["PATHWAY_VAR"] = args.var
    from pathway.gateway import GatewayConfigError

    try:
        asyncio.run(run_dev(Path(args.var), port=args.port, ui_port=args.ui_port,
                            codec_port=args.codec_port, gateway_port=args.gateway_port,
                            channels=Path(args.channels) if args.channels else None))
    except GatewayConfigError as err:
        raise BadInput(printable(err)) from err
    return EXIT_OK


def _gateway(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.gateway import (
        GatewayConfigError,
        GatewaySettings,
        load_authenticator,
        run_gateway,
    )
    from pathway.logs import configure_logging

    try:
        # Checked before anything starts: production refuses to run without credentials.
        authenticator = load_authenticator(var_dir=settings.var_dir())
        gateway_settings = GatewaySettings.from_env()
    except GatewayConfigError as err:
        raise BadInput(printable(err)) from err
    configure_logging()
    asyncio.run(run_gateway(args.host, args.port, target=args.address,
                            namespace=args.namespace, authenticator=authenticator,
                            settings=gateway_settings))
    return EXIT_OK


def _worker(args: argparse.Namespace, out: TextIO) -> int:
    import worker

    rest = [a for a in args.worker_args if a != "--"]
    code: int = worker.main(rest)
    return code


_CREDENTIALS_FILE_HELP: Final = (
    "credentials file (default: $PATHWAY_CREDENTIALS, else $PATHWAY_VAR/credentials.toml, "
    "the one `pathway dev` uses)")


def _add_credentials_commands(sub: Any) -> None:
    from pathway.auth import ROLES

    creds = sub.add_parser(
        "credentials", help="access tokens: add one for an organisation, list them",
        description="Access tokens for the gateway and the codec server, kept as SHA-256 "
        "hashes in the credentials file. These are local administration commands: they need "
        "write (add) or read (list) access to that file, not an operator token "
        "(PATHWAY_TOKEN); whoever can write the file can already add tokens to it.")
    creds_sub = creds.add_subparsers(dest="credentials_command", required=True)
    add = creds_sub.add_parser(
        "add", help="create a token for a role and print it once",
        description="Create a new random token for ROLE and print it once, alone on stdout "
        "(TOKEN=$(pathway credentials add caritas)); the explanation goes to stderr. Only its "
        "SHA-256 is stored, in the credentials file (written in one step, mode 0600). A "
        "running `pathway dev` or `pathway gateway` accepts it at once, without a restart. "
        "Needs write access to the file, not PATHWAY_TOKEN. Exit 2 for an unknown role, a "
        "bad or taken name, or a broken file.")
    add.add_argument("role", metavar="ROLE",
                     help=f"an organisation or operator: {', '.join(ROLES)}")
    add.add_argument("--name", default=None,
                     help="who or which system holds it, shown in audit lines (default "
                     "ROLE-N, the first free number); letters, digits, spaces and _ . @ ' -")
    add.add_argument("--file", default=None, help=_CREDENTIALS_FILE_HELP)
    add.set_defaults(handler=_credentials_add)
    list_ = creds_sub.add_parser(
        "list", help="name and role of every token (never a hash or a token)")
    list_.add_argument("--file", default=None, help=_CREDENTIALS_FILE_HELP)
    list_.add_argument("--json", action="store_true")
    list_.set_defaults(handler=_credentials_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pathway", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=None,
                        help="Temporal frontend (default $PATHWAY_TEMPORAL_ADDRESS or "
                        "127.0.0.1:7233)")
    parser.add_argument("--namespace", default=None, help="Temporal namespace")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start the embedded Temporal dev server and all workers")
    dev.add_argument("--var", default=os.environ.get("PATHWAY_VAR", "var"),
                     help="state directory (SQLite database, outbox, keys)")
    dev.add_argument("--port", type=int, default=7233)
    dev.add_argument("--ui-port", type=int, default=8233)
    dev.add_argument("--codec-port", type=int, default=8234,
                     help="codec server for the web UI (decrypts for those allowed)")
    dev.add_argument("--gateway-port", type=int, default=8080,
                     help="event gateway for NGO and authority systems (on 127.0.0.1)")
    dev.add_argument("--channels", default=None, help="notification channels (TOML)")
    dev.set_defaults(handler=_dev)

    gateway = sub.add_parser("gateway", help="run the event gateway alone (HTTP API for NGO "
                             "and authority systems; see docs/gateway.md)")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8080)
    gateway.set_defaults(handler=_gateway)

    wrk = sub.add_parser("worker", add_help=False,
                         help="run workers: `pathway worker --organisations police` (--help)")
    wrk.add_argument("worker_args", nargs=argparse.REMAINDER)
    wrk.set_defaults(handler=_worker)

    case = sub.add_parser("case", help="open a case, send an event, show a case")
    case_sub = case.add_subparsers(dest="case_command", required=True)
    open_ = case_sub.add_parser("open", help="open a case from an 'identified' event (R1)")
    open_.add_argument("file", help="event JSON file, or - for stdin")
    open_.add_argument("--json", action="store_true")
    open_.set_defaults(handler=_case_open)
    event = case_sub.add_parser("event", help="send one event to a case")
    event.add_argument("case_id")
    event.add_argument("file", help="event JSON file, or - for stdin")
    event.add_argument("--json", action="store_true")
    event.set_defaults(handler=_case_event)
    show = case_sub.add_parser("show", help="state, obligations, deadlines, timeline")
    show.add_argument("case_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_case_show)

    erase = case_sub.add_parser("erase", help="erase a case for good: terminate it and destroy "
                                "its data key (operator only; token in $PATHWAY_TOKEN)")
    erase.add_argument("case_id")
    erase.add_argument("--why", default="request", choices=["request", "retention", "legal"],
                       help="category recorded in the audit log")
    erase.set_defaults(handler=_case_erase)
    history = case_sub.add_parser("history", help="export the case's decoded history (JSON)")
    history.add_argument("case_id")
    history.set_defaults(handler=_case_history)

    _add_credentials_commands(sub)

    keys = sub.add_parser("keys", help="master keys: rotate and re-wrap data keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new_master = keys_sub.add_parser("new-master", help="create a new master key file")
    new_master.set_defaults(handler=_keys_new_master)
    rewrap = keys_sub.add_parser("rewrap", help="re-wrap every data key with the newest master")
    rewrap.set_defaults(handler=_keys_rewrap)

    from pathway.cli_programmes import add_commands

    add_commands(sub)
    schema = sub.add_parser("schema", help="JSON Schema of every event type")
    schema.set_defaults(handler=_schema)
    return parser


def _transport_failure(args: argparse.Namespace, err: RPCError) -> str:
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return _unreachable(args)
    address, namespace = _target(args)
    detail = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
    return (f"Temporal at {address} (namespace {namespace}) refused the request "
            f"({err.status.name if err.status else 'unknown status'}): {detail}")


def _internal_error(exc: Exception, err: TextIO) -> int:
    """One line on stderr for an error this CLI has no name for; the traceback goes to the
    log if logging is set up (``pathway dev``, ``gateway``), or to stderr with PATHWAY_DEBUG."""
    kind = type(exc).__name__
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc, file=err)
        where = "traceback above"
    elif logging.getLogger().hasHandlers():
        logging.getLogger(__name__).error("command failed", exc_info=exc)
        where = "see the log"
    else:
        where = f"run again with {DEBUG_ENV}=1 for the traceback"
    err.write(f"error: internal error ({kind}); {where}\n")
    return EXIT_INTERNAL


def run(argv: Sequence[str] | None = None, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    """Run one command; returns the exit code. Errors are written to ``err``: one line (a
    list of fields for an invalid event), never a traceback, with the exit codes of the module
    docstring; anything unforeseen is exit 1, "error: internal error (<type>); …"."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["worker"]:  # everything after it belongs to worker.py's own parser
        args = argparse.Namespace(handler=_worker, worker_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    args.stderr = err  # for handlers that explain something besides their output
    handler: Callable[[argparse.Namespace, TextIO], int | Awaitable[int]] = args.handler
    try:
        result = handler(args, out)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        assert isinstance(result, int)
        return result
    except BadInput as e:
        err.write(f"error: {_lines(e)}\n")
        return EXIT_BAD_INPUT
    except FileNotFoundError as e:
        err.write(f"error: {printable(e.filename or e)} does not exist\n")
        return EXIT_BAD_INPUT
    except cases.EventRejected as e:
        err.write(f"rejected: {_lines(e)}\n")
        return EXIT_REJECTED
    except NotAllowed as e:
        err.write(f"error: not allowed: {_lines(e)}\n")
        return EXIT_NOT_ALLOWED
    except (cases.UnknownCase, CaseErased) as e:
        err.write(f"error: {_lines(e)}\n")
        return EXIT_UNKNOWN_CASE
    except Unavailable as e:
        err.write(f"error: {_lines(e)}\n")
        return EXIT_UNAVAILABLE
    except RPCError as e:
        err.write(f"error: {printable(_transport_failure(args, e))}\n")
        return EXIT_UNAVAILABLE
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        address, namespace = _target(args)
        err.write(f"error: Temporal at {address} (namespace {namespace}) did not answer in "
                  "time: is the service running (bin/serve), with its workers?\n")
        return EXIT_UNAVAILABLE
    except OSError as e:  # e.g. a port already in use: the system's own message, on one line
        err.write(f"error: {printable(e)}\n")
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except Exception as e:
        return _internal_error(e, err)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = run(argv)
    except BrokenPipeError:  # the reader went away (`pathway case show … | head`)
        code = EXIT_OK
    # The SDK's runtime threads can crash CPython's finalisation (sdk-python #300): flush and
    # leave at once so the exit code reports what happened (TEMPORAL-NOTES).
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
