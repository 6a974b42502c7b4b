"""The operator CLI: ``pathway dev``, ``pathway worker``, ``pathway gateway``,
``pathway codec-server``, ``pathway case …``, ``pathway credentials …``, ``pathway schema``.

Exit codes: 0 done; 1 internal error (one line naming the exception type); 2 bad input (the
field or file is named); 3 the event broke a rule (the rule ID is named); 4 unknown (or erased)
case; 5 Temporal unreachable (the address is named); 6 not allowed; 7 busy: Temporal took no
more events for the case just then (its limit of updates in flight per workflow, or the case
was continuing as new), nothing was recorded, run the same command again in a moment; 8 outcome
unknown: Temporal is up but the answer did not come, the event may or may not have been
recorded, run the same command again (same event_id: a repeat answers the first result).

Nothing a sender wrote reaches the terminal raw: human-readable output passes every such value
through :func:`printable`, and JSON output escapes every non-ASCII character (``\\u202e``).

Only ``pathway dev`` creates the state directory (``$PATHWAY_VAR``, default ``./var``) and the
secrets in it; every other command that uses it (``case``, ``keys``, ``programme``, ``report``,
``credentials`` without ``--file``) refuses with exit 2 if it is missing or has no ID pepper or
master key, so that a command run from the wrong directory cannot make keys of its own.

A reader that goes away (``pathway case show … | head -1``) is not an error: the command stops
writing and exits 0, printing nothing more.

One module per command group, each registering its commands with ``add_commands``:
:mod:`~pathway.cli.service` (dev, gateway, codec-server, worker), :mod:`~pathway.cli.case`,
:mod:`~pathway.cli.credentials`, :mod:`~pathway.cli.keys`, :mod:`~pathway.cli.programme`,
:mod:`~pathway.cli.report`, :mod:`~pathway.cli.schema`. What they share is in
:mod:`pathway.cli._common`; none imports another. This module builds the parser from them,
runs one command and maps its errors to exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO, TypeAlias

from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from pathway import settings
from pathway.cli import (
    case,
    credentials,
    export,
    keys,
    programme,
    report,
    retention,
    schema,
    service,
)
from pathway.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOT_ALLOWED,
    EXIT_OK,
    EXIT_OUTCOME_UNKNOWN,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    EXIT_UNKNOWN_CASE,
    BadInput,
    Handler,
    NotAllowed,
    Unavailable,
    lines,
    printable,
    target,
    unreachable,
)
from pathway.cli.case import render_case
from pathway.clients import cases
from pathway.privacy.keys import CaseErased
from pathway.process import exit_now
from pathway.settings import SettingsError, StateError, existing_state

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BUSY",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALLOWED",
    "EXIT_OK",
    "EXIT_OUTCOME_UNKNOWN",
    "EXIT_REJECTED",
    "EXIT_UNAVAILABLE",
    "EXIT_UNKNOWN_CASE",
    "BadInput",
    "NotAllowed",
    "Unavailable",
    "build_parser",
    "main",
    "printable",
    "render_case",
    "run",
]

#: Set (to anything) to get the traceback of an internal error on stderr.
DEBUG_ENV: Final = "PATHWAY_DEBUG"

#: What ``pathway --help`` says first.
DESCRIPTION: Final = (
    "The operator CLI of Pathway: run the service, open cases and send them events, and "
    "administer access tokens, keys, programme registers and yearly reports."
)

#: The command groups, in the order ``pathway --help`` lists them.
_GROUPS: Final = (service, case, credentials, keys, programme, report, export, retention, schema)


def build_parser() -> argparse.ArgumentParser:
    """``pathway``'s parser: the global options, then each group's commands."""
    parser = argparse.ArgumentParser(prog="pathway", description=DESCRIPTION)
    parser.add_argument(
        "--address",
        default=None,
        help="Temporal frontend (default $PATHWAY_TEMPORAL_ADDRESS, else $TEMPORAL_ADDRESS or "
        "the TEMPORAL_PROFILE, else 127.0.0.1:7233; TLS, mTLS and API key from the TEMPORAL_* "
        "settings: docs/operations.md)",
    )
    parser.add_argument(
        "--namespace",
        default=None,
        help="Temporal namespace (default $PATHWAY_NAMESPACE, else $TEMPORAL_NAMESPACE or the "
        "TEMPORAL_PROFILE, else default)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for group in _GROUPS:
        group.add_commands(sub)
    return parser


def _transport_failure(args: argparse.Namespace, err: RPCError) -> str:
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return unreachable(args)
    address, namespace = target(args)
    detail = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
    return (
        f"Temporal at {address} (namespace {namespace}) refused the request "
        f"({err.status.name if err.status else 'unknown status'}): {detail}"
    )


def _no_answer(args: argparse.Namespace, _: Exception) -> str:
    address, namespace = target(args)
    return (
        f"error: Temporal at {address} (namespace {namespace}) did not answer in time: the "
        "event may or may not have been recorded; run the command again (same event_id). Is "
        "the service running (bin/serve), with its workers?"
    )


#: Which errors (one type or several), and the line for stderr given the command's arguments.
_Kinds: TypeAlias = type[Exception] | tuple[type[Exception], ...]
_Line: TypeAlias = Callable[[argparse.Namespace, Any], str]

#: The errors a command may end with, first match wins: what kind, the exit code, and the
#: line written to stderr.
_ERRORS: Final[tuple[tuple[_Kinds, int, _Line], ...]] = (
    # One line per bad setting, each naming its variable (never its value).
    (
        SettingsError,
        EXIT_BAD_INPUT,
        lambda _, e: "\n".join(f"error: {printable(line)}" for line in e.lines),
    ),
    ((BadInput, StateError), EXIT_BAD_INPUT, lambda _, e: f"error: {lines(e)}"),
    (
        FileNotFoundError,
        EXIT_BAD_INPUT,
        lambda _, e: f"error: {printable(e.filename or e)} does not exist",
    ),
    (cases.EventRejected, EXIT_REJECTED, lambda _, e: f"rejected: {lines(e)}"),
    (NotAllowed, EXIT_NOT_ALLOWED, lambda _, e: f"error: not allowed: {lines(e)}"),
    ((cases.UnknownCase, CaseErased), EXIT_UNKNOWN_CASE, lambda _, e: f"error: {lines(e)}"),
    (cases.CaseBusy, EXIT_BUSY, lambda _, e: f"busy: {lines(e)}"),
    (cases.OutcomeUnknown, EXIT_OUTCOME_UNKNOWN, lambda _, e: f"error: {lines(e)}"),
    (Unavailable, EXIT_UNAVAILABLE, lambda _, e: f"error: {lines(e)}"),
    (
        RPCError,
        EXIT_UNAVAILABLE,
        lambda args, e: f"error: {printable(_transport_failure(args, e))}",
    ),
    (WorkflowUpdateRPCTimeoutOrCancelledError, EXIT_OUTCOME_UNKNOWN, _no_answer),
    # e.g. a port already in use: the system's own message, on one line
    (OSError, EXIT_INTERNAL, lambda _, e: f"error: {printable(e)}"),
)


def _debug() -> bool:
    """``PATHWAY_DEBUG`` as the settings model reads it; any value if the settings are broken
    (the error being reported may be theirs)."""
    try:
        return settings.current().debug
    except settings.SettingsError:
        return bool(os.environ.get(DEBUG_ENV))


def _internal_error(exc: Exception, err: TextIO) -> int:
    """One line on stderr for an error this CLI has no name for; the traceback goes to the
    log if logging is set up (``pathway dev``, ``gateway``), or to stderr with PATHWAY_DEBUG."""
    kind = type(exc).__name__
    if _debug():
        traceback.print_exception(exc, file=err)
        where = "traceback above"
    elif logging.getLogger().hasHandlers():
        logging.getLogger(__name__).error("command failed", exc_info=exc)
        where = "see the log"
    else:
        where = f"run again with {DEBUG_ENV}=1 for the traceback"
    err.write(f"error: internal error ({kind}); {where}\n")
    return EXIT_INTERNAL


def _reader_gone(out: TextIO) -> None:
    """The reader of ``out`` went away: whatever is still buffered for it goes nowhere (so
    that flushing it at exit does not fail again)."""
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):
        return  # not a file (a StringIO): nothing to flush
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _execute(args: argparse.Namespace, out: TextIO) -> int:
    handler: Handler = args.handler
    if getattr(args, "uses_state", False):
        existing_state()  # before anything could create a key or a pepper
    result = handler(args, out)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    assert isinstance(result, int)
    return result


def run(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run one command; returns the exit code. Errors are written to ``err``: one line (a
    list of fields for an invalid event), never a traceback, with the exit codes of the module
    docstring; anything unforeseen is exit 1, "error: internal error (<type>); …"."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = service.passed_through(argv) or build_parser().parse_args(argv)
    args.stderr = err  # for handlers that explain something besides their output
    try:
        settings.current()  # every setting checked before anything starts (issue 16 item 2)
        return _execute(args, out)
    except BrokenPipeError:
        _reader_gone(out)
        return EXIT_OK
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        for kinds, code, line in _ERRORS:
            if isinstance(exc, kinds):
                err.write(line(args, exc) + "\n")
                return code
        return _internal_error(exc, err)


def main(argv: Sequence[str] | None = None) -> None:
    """``pathway``: :func:`run`, then end the process with its exit code."""
    try:
        code = run(argv)
    except BrokenPipeError:  # the reader went away (`pathway case show … | head`)
        code = EXIT_OK
    exit_now(code)
