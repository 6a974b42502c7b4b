"""``pathway case open|event|show|timeline|erase|episodes|member|history``: one case, from the
operator's terminal, and :func:`render_case`, its human view."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path, PurePath
from typing import Any, Final, TextIO

from pydantic import ValidationError
from temporalio.service import RPCError, RPCStatusCode

from pathway.cli._common import (
    EXIT_OK,
    BadInput,
    Commands,
    connect,
    load,
    local_time,
    operator,
    printable,
    write_json,
)
from pathway.clients import cases
from pathway.domain.events import EVENT_ADAPTER, Identified
from pathway.domain.ids import NotACaseId, is_case_id
from pathway.domain.membership import (
    OPERATOR_ROLES,
    RULE_MEMBERS,
    MemberRole,
    Membership,
    MembershipChange,
)
from pathway.domain.organisations import Organisation
from pathway.domain.state import CaseState


async def _open(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings

    event = load(args.file, EVENT_ADAPTER)
    if not isinstance(event, Identified):
        raise BadInput("field type: a case is opened by an 'identified' event (R1)")
    client = await connect(args)
    case_id, result = await cases.open_case(
        client, event, pepper=settings.id_pepper(), config=settings.case_config()
    )
    if args.json:
        write_json({"case_id": case_id, **result.model_dump(mode="json")}, out)
    else:
        # The ID alone on stdout, so that CASE=$(pathway case open …) works also on a repeat.
        out.write(printable(case_id) + "\n")
        if result.duplicate:
            sys.stderr.write("(already open: this is the first result; nothing changed)\n")
    return EXIT_OK


async def _event(args: argparse.Namespace, out: TextIO) -> int:
    event = load(args.file, EVENT_ADAPTER)
    client = await connect(args)
    result = await cases.record_event(client, args.case_id, event)
    if args.json:
        write_json(result.model_dump(mode="json"), out)
        return EXIT_OK
    note = (
        "  (repeat of an accepted event: first result, nothing changed)" if result.duplicate else ""
    )
    out.write(f"accepted {printable(result.event_type)} {printable(result.event_id)}{note}\n")
    # The acknowledgement is small (issue 14); the case as it stands now is one query away.
    state = await cases.case_state(client, args.case_id)
    write_summary_lines(state.summary().model_dump(mode="json"), out)
    return EXIT_OK


async def _show(args: argparse.Namespace, out: TextIO) -> int:
    client = await connect(args)
    state = await cases.case_state(client, args.case_id)
    if args.json:
        write_json(state.model_dump(mode="json"), out)
    else:
        render_case(state, out)
    return EXIT_OK


#: What ``case timeline --out`` writes, by the file's extension.
PICTURE_FORMATS: Final = ("svg", "png")


def _picture_format(path: str) -> str:
    """``svg`` or ``png`` from ``path``'s extension; :class:`BadInput` naming ``--out`` for
    anything else (before anything is read)."""
    suffix = PurePath(path).suffix.lower().removeprefix(".")
    if suffix not in PICTURE_FORMATS:
        raise BadInput(
            f"--out {printable(path)}: the picture is written as .svg or .png, "
            f"not {'.' + printable(suffix) if suffix else 'a file without an extension'}"
        )
    return suffix


async def _timeline(args: argparse.Namespace, out: TextIO) -> int:
    """``case timeline CASE_ID --out FILE.svg|png``: the case's timeline picture
    (:mod:`pathway.timeline_svg`) as the operator reads the case (the access policy's
    operator view), today marked at the moment it runs; exit 2 for another extension or a
    file that cannot be written, exit 4 for a case never opened here (or erased)."""
    from datetime import UTC, datetime

    from pathway.access.credentials import OPERATOR
    from pathway.access.policy import case_view
    from pathway.timeline_svg import timeline_png, timeline_svg

    picture = _picture_format(args.out)
    client = await connect(args)
    view = case_view(await cases.case_state(client, args.case_id), OPERATOR)
    now = datetime.now(UTC)
    data = (
        timeline_svg(view, now=now).encode("utf-8")
        if picture == "svg"
        else timeline_png(view, now=now)
    )
    try:
        await asyncio.to_thread(Path(args.out).write_bytes, data)
    except OSError as err:
        raise BadInput(
            f"--out {printable(args.out)} cannot be written: "
            f"{printable(err.strerror or type(err).__name__)}"
        ) from None
    out.write(
        f"wrote the timeline of {printable(args.case_id)} to {printable(args.out)}"
        f" ({picture}, times Europe/Ljubljana)\n"
    )
    return EXIT_OK


async def _erase(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.privacy.erasure import erase_case
    from pathway.temporal_connection import default_keystore

    principal = operator()
    store = default_keystore()
    client = await connect(args)
    erasure = await erase_case(client, store, args.case_id, by=principal.name, why=args.why)
    state = "erased" if erasure.key_destroyed else "was already erased"
    running = "; its workflow was terminated" if erasure.was_running else ""
    out.write(f"{printable(args.case_id)} {state}{running}\n")
    return EXIT_OK


async def _episodes(args: argparse.Namespace, out: TextIO) -> int:
    """``case episodes CASE_ID``: the case's episodes (issue 12), oldest first, with their
    status (open, closed, erased) and dates; exit 4 for a case never opened here. Pseudonymous
    IDs and dates only."""
    client = await connect(args)
    episodes = await cases.case_episodes(client, args.case_id)
    if not episodes:
        raise cases.UnknownCase(args.case_id)
    run = await cases.current_run(client, args.case_id)
    rows: list[dict[str, Any]] = []
    for e in episodes:
        closed_at, closed_run = e.closed_at, e.closed_run
        if e is episodes[-1] and run is not None and closed_at is None and not run.running:
            closed_at, closed_run = run.close_time, run.run_id
        current = e is episodes[-1] and run is not None and run.running and not e.erased
        status = "erased" if e.erased else ("open" if current else "closed")
        rows.append(
            {
                "episode": e.number,
                "status": status,
                "opened_at": e.opened_at.isoformat(),
                "closed_at": None if closed_at is None else closed_at.isoformat(),
                "closed_run": closed_run,
                "erased_at": None if e.erased_at is None else e.erased_at.isoformat(),
                "key_id": e.key_id,
            }
        )
    if args.json:
        write_json({"case_id": args.case_id, "episodes": rows}, out)
        return EXIT_OK
    out.write(f"{printable(args.case_id)}  (times Europe/Ljubljana)\n")
    for row in rows:
        out.write(
            f"  episode {row['episode']}  {row['status']:<6}  opened {local_time(row['opened_at'])}"
            f"  closed {local_time(row['closed_at'])}  erased {local_time(row['erased_at'])}\n"
        )
    return EXIT_OK


async def _member(args: argparse.Namespace, out: TextIO) -> int:
    """``case member add|remove``: operators only (exit 6 for anyone else, before anything is
    read or sent); a value that names no organisation or role is exit 2; a change the rules
    refuse exit 3 (MEMBERS), changing nothing."""
    principal = operator()
    try:
        change = MembershipChange(
            action=args.member_command,
            organisation=args.organisation,
            role=args.role,
            why=args.why,
            by=principal.name,
            change_id=str(uuid.uuid4()),
        )
    except ValidationError as err:
        raise _bad_change(err) from err
    client = await connect(args)
    records = await cases.change_membership(client, args.case_id, change)
    if args.json:
        write_json([m.model_dump(mode="json") for m in records], out)
        return EXIT_OK
    done = "added" if change.action == "add" else "removed"
    out.write(
        f"{done} {printable(change.organisation.value)} as {printable(change.role.value)}"
        f" in {printable(args.case_id)} ({RULE_MEMBERS})\n"
    )
    _write_member_records(records, out)
    return EXIT_OK


def _bad_change(err: ValidationError) -> BadInput:
    """One line per field at fault; an organisation or a role names the values it takes."""
    choices = {
        "organisation": ", ".join(o.value for o in Organisation),
        "role": ", ".join(r.value for r in MemberRole),
    }
    found = []
    for e in err.errors(include_url=False):
        where = ".".join(str(part) for part in e["loc"])
        hint = f" (one of: {choices[where]})" if where in choices else ""
        found.append(f"field {printable(where)}: {printable(e['msg'])}{hint}")
    return BadInput("\n  ".join(found))


async def _history(args: argparse.Namespace, out: TextIO) -> int:
    from google.protobuf.json_format import MessageToJson

    from pathway.privacy.erasure import run_episode
    from pathway.privacy.history import fetch_decoded_history

    client = await connect(args)
    run_id = args.run
    if run_id is None:
        # The case's current run, named before it is read: a run that starts meanwhile (the
        # case continued as new, or the person was identified again) is not mixed in.
        run = await cases.current_run(client, args.case_id)
        if run is None:
            raise cases.UnknownCase(args.case_id)
        run_id = run.run_id
    try:
        history = await fetch_decoded_history(client, args.case_id, run_id=run_id)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise cases.UnknownCase(args.case_id) from err
        raise
    episode = await run_episode(client, args.case_id, run_id)
    args.stderr.write(
        f"history of {printable(args.case_id)} run {printable(run_id)}"
        f" (episode {'?' if episode is None else episode})\n"
    )
    out.write(MessageToJson(history, ensure_ascii=True) + "\n")
    return EXIT_OK


def write_summary_lines(summary: dict[str, Any], out: TextIO) -> None:
    """The lines after ``accepted …``: phase, deadlines, obligations (``summary`` is a
    :class:`~pathway.domain.state.CaseSummary` dumped as JSON; every value made printable)."""
    p, local = printable, local_time
    out.write(f"phase: {p(summary['phase'])}\n")
    for d in summary["upcoming_deadlines"]:
        out.write(
            f"  deadline {p(d['kind'])} ({p(d['rule'])}) due {local(d['due_at'])}"
            f"  next reminder {local(d['next_reminder_at'])}\n"
        )
    for o in summary["open_obligations"]:
        flag = "  ESCALATED" if o["escalated"] else ""
        out.write(
            f"  obligation {p(o['id'])} ({p(o['rule'])}) owner {p(o['owner'])}"
            f" due {local(o['due_at'])}{flag}\n"
        )


def render_case(state: CaseState, out: TextIO) -> None:
    """The human view of a case: state, members, deadlines, obligations, timeline and rejected
    events (times in Ljubljana).

    Every text value is passed through :func:`printable`: actor, reason and a child's notes
    come from senders and must not be able to forge lines on the operator's terminal.
    """
    p = printable
    out.write(
        f"{p(state.case_id)}  phase: {p(state.phase.value)}"
        f"  opened {local_time(state.opened_at)}  (times Europe/Ljubljana)\n"
    )
    _write_members(state, out)
    _write_deadlines_and_obligations(state, out)
    out.write(f"\nNotifications pending delivery: {len(state.pending_notifications)}\n")
    _write_timeline(state, out)
    _write_rejections(state, out)


def _write_members(state: CaseState, out: TextIO) -> None:
    """Who holds which role in the case, since when and by which rule; roles that ended are
    listed after, with when and why they ended."""
    out.write("\n")
    _write_member_records(state.membership, out)


def _write_member_records(records: list[Membership], out: TextIO) -> None:
    p, local = printable, local_time
    out.write("Members\n")
    current = [m for m in records if m.is_active]
    for m in current:
        out.write(
            f"  {p(m.organisation.value):<20} {p(m.role.value):<22} since {local(m.since)}"
            f"  ({p(m.rule)})  by {p(m.added_by)}\n"
        )
    if not current:
        out.write("  none\n")
    for m in records:
        if not m.is_active:
            out.write(
                f"  {p(m.organisation.value):<20} {p(m.role.value):<22} since {local(m.since)}"
                f"  ({p(m.rule)})  ended {local(m.removed_at)} ({p(m.removed_rule)}):"
                f" {p(m.removed_why)}\n"
            )


def _write_deadlines_and_obligations(state: CaseState, out: TextIO) -> None:
    p, local = printable, local_time
    summary = state.summary()
    out.write("\nDeadlines\n")
    for d in summary.upcoming_deadlines or []:
        out.write(
            f"  {local(d.due_at)}  {p(d.kind.value)} ({p(d.rule)})"
            f"  next reminder {local(d.next_reminder_at)}\n"
        )
    if not summary.upcoming_deadlines:
        out.write("  none\n")
    out.write("\nOpen obligations\n")
    for o in summary.open_obligations:
        flag = "  ESCALATED" if o.escalated else ""
        out.write(
            f"  {p(o.owner.value):<20} {p(o.id)} ({p(o.rule)})  due {local(o.due_at)}{flag}\n"
        )
    if not summary.open_obligations:
        out.write("  none\n")


def _write_timeline(state: CaseState, out: TextIO) -> None:
    p = printable
    out.write("\nTimeline\n")
    for t in sorted(state.timeline, key=lambda entry: entry.at):  # stable: ties keep order
        rule = f" [{p(t.rule)}]" if t.rule else ""
        why = f"  because: {p(t.why)}" if t.why else ""
        out.write(f"  {local_time(t.at)}  {p(t.who)}: {p(t.what)}{rule}{why}\n")
        if t.child is not None:  # C1, C2: shown beside the decision
            out.write(
                f"      best interests: {p(t.child.best_interests)}\n"
                f"      the child's views: {p(t.child.child_views)}\n"
            )


def _write_rejections(state: CaseState, out: TextIO) -> None:
    """The events the case's rules rejected (issue 17 item 3), if any: when noted, who sent
    it, its type, the rule, its reason and field, its event ID; nothing else was kept."""
    if not state.rejections:
        return
    p = printable
    out.write("\nRejected events (they changed nothing)\n")
    for r in state.rejections:
        field = f" (field {p(r.field)})" if r.field else ""
        out.write(
            f"  {local_time(r.at)}  {p(r.organisation.value)}: "
            f"{p(r.event_type.replace('_', ' '))} rejected [{p(r.rule)}] {p(r.reason)}{field}"
            f"  event {p(r.event_id)}\n"
        )


#: The help of the arguments several case commands take.
_CASE_ID: Final = "the case's ID, as `pathway case open` printed it"


def case_id_arg(value: str) -> str:
    """argparse type of a case ID argument: exit 2 naming the argument for anything else (an
    episode's address ``<case>/e<N>`` included; review of issue 12)."""
    if not is_case_id(value):
        raise argparse.ArgumentTypeError(str(NotACaseId(value)))
    return value


_FILE: Final = "event JSON file (at most 1 MiB), or - for stdin"
_JSON: Final = "print the result as JSON (non-ASCII characters escaped)"


def _run_id(text: str) -> str:
    """A Temporal run ID: a UUID (argparse answers anything else as a usage error)."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError("a run ID is a UUID") from None


def add_commands(sub: Commands) -> None:
    """Register ``case`` and its subcommands (each needs the state directory)."""
    case = sub.add_parser("case", help="open a case, send an event, show a case")
    case.set_defaults(uses_state=True)
    case_sub = case.add_subparsers(dest="case_command", required=True)
    open_ = case_sub.add_parser("open", help="open a case from an 'identified' event (R1)")
    open_.add_argument("file", help=_FILE)
    open_.add_argument("--json", action="store_true", help=_JSON)
    open_.set_defaults(handler=_open)
    event = case_sub.add_parser("event", help="send one event to a case")
    event.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
    event.add_argument("file", help=_FILE)
    event.add_argument("--json", action="store_true", help=_JSON)
    event.set_defaults(handler=_event)
    show = case_sub.add_parser("show", help="state, obligations, deadlines, timeline")
    show.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
    show.add_argument("--json", action="store_true", help=_JSON)
    show.set_defaults(handler=_show)
    timeline = case_sub.add_parser(
        "timeline",
        help="the case's timeline picture: phases, deadlines, reminders, events, today "
        "(times Europe/Ljubljana), as SVG or PNG",
        description="Draw the case's timeline (as the operator reads it) to FILE: phases as "
        "bands, deadlines and reminders as markers, events as ticks, today as a line. Only "
        "phases, deadline kinds, event types, rule IDs and dates are drawn, never who acted or "
        "why, nor any fact about the person.",
    )
    timeline.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
    timeline.add_argument(
        "--out",
        required=True,
        metavar="FILE.svg|FILE.png",
        help="the file to write (replaced if it exists); its extension, .svg or .png, "
        "chooses the format",
    )
    timeline.set_defaults(handler=_timeline)
    erase = case_sub.add_parser(
        "erase",
        help="erase a case for good: terminate it and destroy "
        "its data key (operator only; token in $PATHWAY_TOKEN)",
    )
    erase.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
    erase.add_argument(
        "--why",
        default="request",
        choices=["request", "retention", "legal"],
        help="category recorded in the audit log",
    )
    erase.set_defaults(handler=_erase)
    episodes = case_sub.add_parser(
        "episodes",
        help="the case's episodes (one per identification that opened it anew): status, "
        "dates, erased or not",
    )
    episodes.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
    episodes.add_argument("--json", action="store_true", help=_JSON)
    episodes.set_defaults(handler=_episodes)
    _add_member_commands(case_sub)
    history = case_sub.add_parser(
        "history",
        help="export the decoded history (JSON) of one run of the case: its current run, or "
        "--run; the run and its episode are named on stderr",
    )
    history.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
    history.add_argument(
        "--run",
        default=None,
        type=_run_id,
        help="the run ID (a UUID; `pathway case episodes --json` names each closed episode's "
        "last run as closed_run)",
    )
    history.set_defaults(handler=_history)


def _add_member_commands(case_sub: Commands) -> None:
    """``case member add|remove CASE_ID --organisation ORG --role ROLE --why TEXT``."""
    member = case_sub.add_parser(
        "member",
        help="add or remove a member of a case, with a reason (MEMBERS; operator only; token "
        "in $PATHWAY_TOKEN)",
    )
    member_sub = member.add_subparsers(dest="member_command", required=True)
    for action, says in (
        ("add", "give an organisation a role in the case"),
        ("remove", "end an organisation's role in the case (the record stays, ended)"),
    ):
        command = member_sub.add_parser(
            action,
            help=f"{says}, with a reason (MEMBERS; operator only; token in $PATHWAY_TOKEN)",
            description=f"{says[0].upper()}{says[1:]} (MEMBERS). Operator only. The identifying "
            "authority and the lead NGO change only by the rules; analysts are never members. "
            "The reason is recorded in the case and shown to every organisation that reads it: "
            "it must hold no personal data.",
        )
        command.add_argument("case_id", type=case_id_arg, help=_CASE_ID)
        command.add_argument(
            "--organisation",
            required=True,
            help="the organisation: "
            + ", ".join(o.value for o in Organisation if o is not Organisation.ANALYST),
        )
        command.add_argument(
            "--role",
            required=True,
            help="the role: " + ", ".join(sorted(r.value for r in OPERATOR_ROLES)),
        )
        command.add_argument(
            "--why",
            required=True,
            help="the reason, recorded in the case and shown to every organisation that reads "
            "it: a ticket number or a purpose, never personal data (no name, health or other "
            "fact about the person)",
        )
        command.add_argument("--json", action="store_true", help=_JSON)
        command.set_defaults(handler=_member)
