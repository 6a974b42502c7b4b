"""``pathway report YEAR``: the yearly statistics per programme (aggregates only), from every
readable case and programme register."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from pathway.cli._common import EXIT_OK, Commands, connect, write_json

if TYPE_CHECKING:
    from temporalio.client import Client

    from pathway.domain.programmes import ProgrammeState
    from pathway.domain.state import CaseState


async def _cases(client: Client) -> list[CaseState]:
    """The state of every case that can still be read (an erased case is not counted)."""
    from temporalio.service import RPCError

    from pathway.domain.state import CaseState

    found: list[CaseState] = []
    async for execution in client.list_workflows("WorkflowType = 'VictimCaseWorkflow'"):
        try:
            state = await client.get_workflow_handle(execution.id).query(
                "state", result_type=CaseState
            )
        except RPCError:
            continue  # erased, or not readable: not counted
        if state is not None:
            found.append(state)
    return found


async def _registers(client: Client) -> list[ProgrammeState]:
    """The state of every programme register in use."""
    from temporalio.service import RPCError

    from pathway.domain.programmes import Programme, ProgrammeState, register_id

    registers: list[ProgrammeState] = []
    for programme in Programme:
        try:
            registers.append(
                await client.get_workflow_handle(register_id(programme)).query(
                    "state", result_type=ProgrammeState
                )
            )
        except RPCError:
            continue  # never used
    return registers


async def _report(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.domain.statistics import yearly_report

    client = await connect(args)
    report = yearly_report(args.year, await _cases(client), await _registers(client))
    write_json(report.model_dump(mode="json"), out)
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``report``."""
    report = sub.add_parser("report", help="yearly statistics per programme (aggregates)")
    report.set_defaults(uses_state=True)
    report.add_argument("year", type=int, help="the calendar year, e.g. 2026")
    report.set_defaults(handler=_report)
