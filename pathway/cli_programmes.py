"""``pathway programme …`` and ``pathway report``: the programme registers (P1, X1) and the
yearly statistics, from the operator CLI."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from pathway.domain.events import validation_problems
from pathway.domain.programmes import PROGRAMME_EVENT_ADAPTER, Programme, register_id

EXIT_OK = 0


def _load(source: str, adapter: TypeAdapter[Any]) -> Any:
    from pathway.cli import BadInput, _read_json

    try:
        return adapter.validate_python(_read_json(source))
    except ValidationError as err:
        lines = [f"field {where}: {msg}" for where, msg in validation_problems(err)]
        raise BadInput("invalid event:\n  " + "\n  ".join(lines)) from err


async def _record(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.cli import _connect
    from pathway.programmes import record_programme_event

    event = _load(args.file, PROGRAMME_EVENT_ADAPTER)
    result = await record_programme_event(await _connect(args), event)
    note = "  (repeat: nothing changed)" if result.duplicate else ""
    out.write(f"recorded {event.type} {event.event_id} in {result.register_id}{note}\n"
              f"interviews: {result.interviews}  participants: {result.participants}\n")
    return EXIT_OK


async def _pats(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.cli import _connect
    from pathway.programmes import PatsInterviewReport, report_pats_interview

    report = _load(args.file, TypeAdapter(PatsInterviewReport))
    result, case_id = await report_pats_interview(
        await _connect(args), report, pepper=settings.id_pepper(),
        config=settings.case_config())
    out.write(f"interview counted in {result.register_id} "
              f"({result.interviews} interviews)\n")
    if case_id is not None:
        out.write(f"suspicion: UOIM notified (P1); case opened (R1): {case_id}\n")
    return EXIT_OK


async def _report(args: argparse.Namespace, out: TextIO) -> int:
    from temporalio.service import RPCError

    from pathway.cli import _connect
    from pathway.domain.programmes import ProgrammeState
    from pathway.domain.state import CaseState
    from pathway.domain.statistics import yearly_report

    client = await _connect(args)
    cases: list[CaseState] = []
    async for execution in client.list_workflows("WorkflowType = 'VictimCaseWorkflow'"):
        try:
            state = await client.get_workflow_handle(execution.id).query(
                "state", result_type=CaseState)
        except RPCError:
            continue  # erased, or not readable: not counted
        if state is not None:
            cases.append(state)
    registers = []
    for programme in Programme:
        try:
            registers.append(await client.get_workflow_handle(register_id(programme)).query(
                "state", result_type=ProgrammeState))
        except RPCError:
            continue  # never used
    report = yearly_report(args.year, cases, registers)
    out.write(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """Register ``programme`` and ``report`` on the CLI's subcommands."""
    programme = sub.add_parser("programme", help="programme registers: PATS interviews (P1), "
                               "prostitution-exit support (X1)")
    programme_sub = programme.add_subparsers(dest="programme_command", required=True)
    record = programme_sub.add_parser("record", help="record a programme event (JSON)")
    record.add_argument("file", help="event JSON file, or - for stdin")
    record.set_defaults(handler=_record)
    pats = programme_sub.add_parser(
        "pats", help="record a PATS interview; on suspicion notify UOIM and open the case")
    pats.add_argument("file", help='{"interview": {...}, "suspected_victim": {...}} or -')
    pats.set_defaults(handler=_pats)
    report = sub.add_parser("report", help="yearly statistics per programme (aggregates)")
    report.add_argument("year", type=int)
    report.set_defaults(handler=_report)
