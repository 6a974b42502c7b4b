"""``pathway programme record|pats``: the programme registers (P1, X1), from the operator CLI."""

from __future__ import annotations

import argparse
from typing import TextIO

from pydantic import TypeAdapter

from pathway.cli._common import EXIT_OK, Commands, connect, load, printable
from pathway.domain.programmes import PROGRAMME_EVENT_ADAPTER


async def _record(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.clients.programmes import record_programme_event

    event = load(args.file, PROGRAMME_EVENT_ADAPTER)
    result = await record_programme_event(await connect(args), event)
    note = "  (repeat: nothing changed)" if result.duplicate else ""
    out.write(
        f"recorded {event.type} {printable(event.event_id)} in {result.register_id}"
        f"{note}\ninterviews: {result.interviews}  participants: {result.participants}\n"
    )
    return EXIT_OK


async def _pats(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.clients.programmes import PatsInterviewReport, report_pats_interview

    report = load(args.file, TypeAdapter(PatsInterviewReport))
    result, case_id = await report_pats_interview(
        await connect(args), report, pepper=settings.id_pepper(), config=settings.case_config()
    )
    out.write(f"interview counted in {result.register_id} ({result.interviews} interviews)\n")
    if case_id is not None:
        out.write(f"suspicion: UOIM notified (P1); case opened (R1): {case_id}\n")
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``programme record`` and ``programme pats``."""
    programme = sub.add_parser(
        "programme",
        help="programme registers: PATS interviews (P1), prostitution-exit support (X1)",
    )
    programme.set_defaults(uses_state=True)
    programme_sub = programme.add_subparsers(dest="programme_command", required=True)
    record = programme_sub.add_parser("record", help="record a programme event (JSON)")
    record.add_argument("file", help="event JSON file (at most 1 MiB), or - for stdin")
    record.set_defaults(handler=_record)
    pats = programme_sub.add_parser(
        "pats", help="record a PATS interview; on suspicion notify UOIM and open the case"
    )
    pats.add_argument("file", help='{"interview": {...}, "suspected_victim": {...}} or -')
    pats.set_defaults(handler=_pats)
