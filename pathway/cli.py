"""The operator CLI: ``pathway dev``, ``pathway worker``, ``pathway gateway``, ``pathway case …``,
``pathway schema``.

Exit codes: 0 done; 2 bad input (the field is named); 3 the event broke a rule (the rule ID is
named); 4 unknown (or erased) case; 5 Temporal unreachable; 6 not allowed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from pathway import cases
from pathway.auth import Principal
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.events import EVENT_ADAPTER, Identified, parse_event, validation_problems
from pathway.domain.state import CaseState
from pathway.privacy.keys import CaseErased

EXIT_OK, EXIT_BAD_INPUT, EXIT_REJECTED, EXIT_UNKNOWN_CASE, EXIT_UNAVAILABLE = 0, 2, 3, 4, 5
EXIT_NOT_ALLOWED = 6


class BadInput(Exception):
    """Input that cannot become an event; the message names the field."""


class Unavailable(Exception):
    """Temporal cannot be reached."""


class NotAllowed(Exception):
    """The caller's credentials do not allow this command."""


def _read_json(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInput(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from err


def _parse(source: str) -> Any:
    try:
        return parse_event(_read_json(source))
    except ValidationError as err:
        lines = [f"field {where}: {msg}" for where, msg in validation_problems(err)]
        raise BadInput("invalid event:\n  " + "\n  ".join(lines)) from err


async def _connect(args: argparse.Namespace) -> Client:
    from pathway.client import connect

    try:
        return await connect(args.address, args.namespace)
    except RuntimeError as err:  # the SDK reports a failed connection as RuntimeError
        raise Unavailable(str(err)) from err


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
        out.write(case_id + ("  (already open: first result)" if result.duplicate else "") + "\n")
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
    out.write(f"accepted {result.event_type} {result.event_id}{note}\n")
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


def _operator() -> Principal:
    """The operator whose token is in ``PATHWAY_TOKEN``; anyone else is refused."""
    from pathway import settings
    from pathway.auth import CREDENTIALS_ENV, Credentials

    token = os.environ.get("PATHWAY_TOKEN", "")
    if not token:
        raise NotAllowed("set PATHWAY_TOKEN to an operator's token")
    path = None if os.environ.get(CREDENTIALS_ENV) else settings.var_dir() / "credentials.toml"
    principal = Credentials.load(path).authenticate(token)
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
    out.write(f"phase: {summary['phase']}\n")
    for d in summary["upcoming_deadlines"]:
        out.write(f"  deadline {d['kind']} ({d['rule']}) due {_local(d['due_at'])}"
                  f"  next reminder {_local(d['next_reminder_at'])}\n")
    for o in summary["open_obligations"]:
        flag = "  ESCALATED" if o["escalated"] else ""
        out.write(f"  obligation {o['id']} ({o['rule']}) owner {o['owner']}"
                  f" due {_local(o['due_at'])}{flag}\n")


def render_case(state: CaseState, out: TextIO) -> None:
    """The human view of a case: state, deadlines, obligations, timeline (times in Ljubljana)."""
    summary = state.summary()
    out.write(f"{state.case_id}  phase: {state.phase.value}  opened {_local(state.opened_at)}"
              "  (times Europe/Ljubljana)\n")
    out.write("\nDeadlines\n")
    for d in summary.upcoming_deadlines or []:
        out.write(f"  {_local(d.due_at)}  {d.kind.value} ({d.rule})"
                  f"  next reminder {_local(d.next_reminder_at)}\n")
    if not summary.upcoming_deadlines:
        out.write("  none\n")
    out.write("\nOpen obligations\n")
    for o in summary.open_obligations:
        flag = "  ESCALATED" if o.escalated else ""
        out.write(f"  {o.owner.value:<20} {o.id} ({o.rule})  due {_local(o.due_at)}{flag}\n")
    if not summary.open_obligations:
        out.write("  none\n")
    out.write(f"\nNotifications pending delivery: {len(state.pending_notifications)}\n")
    out.write("\nTimeline\n")
    for t in sorted(state.timeline, key=lambda entry: entry.at):  # stable: ties keep order
        rule = f" [{t.rule}]" if t.rule else ""
        why = f"  because: {t.why}" if t.why else ""
        out.write(f"  {_local(t.at)}  {t.who}: {t.what}{rule}{why}\n")
        if t.child is not None:  # C1, C2: shown beside the decision
            out.write(f"      best interests: {t.child.best_interests}\n"
                      f"      the child's views: {t.child.child_views}\n")


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
        raise BadInput(str(err)) from err
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
        raise BadInput(str(err)) from err
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


def run(argv: Sequence[str] | None = None, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    """Run one command; returns the exit code (errors are written to ``err``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["worker"]:  # everything after it belongs to worker.py's own parser
        args = argparse.Namespace(handler=_worker, worker_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace, TextIO], int | Awaitable[int]] = args.handler
    try:
        result = handler(args, out)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        assert isinstance(result, int)
        return result
    except BadInput as e:
        err.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    except FileNotFoundError as e:
        err.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    except cases.EventRejected as e:
        err.write(f"rejected: {e}\n")
        return EXIT_REJECTED
    except NotAllowed as e:
        err.write(f"error: not allowed: {e}\n")
        return EXIT_NOT_ALLOWED
    except (cases.UnknownCase, CaseErased) as e:
        err.write(f"error: {e}\n")
        return EXIT_UNKNOWN_CASE
    except (Unavailable, RPCError) as e:
        err.write(f"error: Temporal is unavailable: {e}\n")
        return EXIT_UNAVAILABLE


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
