"""``pathway report YEAR``: the yearly statistics per programme (aggregates only), from every
readable case and programme register. Cases, not runs, are counted (issue 12): a person is one
case ID whatever its runs and episodes, and erased episodes are skipped and said so
(``skipped_erased`` in the JSON, and one line on stderr)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from pathway.cli._common import EXIT_OK, Commands, connect, write_json

if TYPE_CHECKING:
    from temporalio.client import Client

    from pathway.domain.programmes import ProgrammeState
    from pathway.domain.state import CaseState


async def _cases(client: Client) -> tuple[list[CaseState], int]:
    """The states to count, and how many episodes were skipped because they are erased.

    Walks cases, not runs (issue 12): a run that continued as new is skipped (its state lives
    on in the next run), so each episode of a case is read once, from its last run (pinned by
    run ID); a run that never opened a case (state None) is not a case. An erased episode is
    skipped, and counted as such, without asking a worker to decode what it cannot; so is one
    whose state cannot be read (erased meanwhile)."""
    from temporalio.client import WorkflowExecutionStatus, WorkflowQueryFailedError
    from temporalio.service import RPCError

    from pathway.domain.state import CaseState
    from pathway.privacy.codec import CaseCodec
    from pathway.privacy.erasure import run_episode
    from pathway.privacy.keys import PrivacyError, episode_ref

    codec = client.data_converter.payload_codec
    store = codec.store if isinstance(codec, CaseCodec) else None
    found: list[CaseState] = []
    skipped = 0
    async for run in client.list_workflows("WorkflowType = 'VictimCaseWorkflow'"):
        if run.status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            continue
        if store is not None:
            episode = await run_episode(client, run.id, run.run_id)
            if episode is not None and store.is_destroyed(episode_ref(run.id, episode)):
                skipped += 1
                continue
        try:
            state = await client.get_workflow_handle(run.id, run_id=run.run_id).query(
                "state", result_type=CaseState
            )
        except (RPCError, WorkflowQueryFailedError, PrivacyError):
            skipped += 1  # erased since it was listed, or not readable: not counted
            continue
        if state is not None:
            found.append(state)
    return found, skipped


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
    states, skipped = await _cases(client)
    report = yearly_report(args.year, states, await _registers(client))
    report.skipped_erased = skipped
    write_json(report.model_dump(mode="json"), out)
    if skipped:
        sys.stderr.write(f"{skipped} erased episode(s) skipped: not counted\n")
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``report``."""
    report = sub.add_parser("report", help="yearly statistics per programme (aggregates)")
    report.set_defaults(uses_state=True)
    report.add_argument("year", type=int, help="the calendar year, e.g. 2026")
    report.set_defaults(handler=_report)
