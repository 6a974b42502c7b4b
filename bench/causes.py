"""Why Pathway's worker and server cost more per case than bare's: ``python -m bench.causes``.

    .venv/bin/python -m bench.causes [--modes memory,sqlite] [--cases 20] [--concurrency 20]
                                     [--rounds 2] [--idle 20] [--out FILE]

The full bench (``python -m bench``) gives the ratios; this tool takes apart the three that
docs/performance.md explains rather than meets (issue 14): the worker's CPU per case (higher
on the SQLite server than in memory), the server's CPU and time per case on SQLite, and the
client path's acknowledgement under concurrent senders. Per mode it starts a dev server and,
for each side in turn, that side's worker process (as the bench does), and measures:

- ``idle_worker_cpu_ms_per_s``: the worker's CPU while no case moves (pollers, timers of its
  own), over ``--idle`` seconds after a warm-up;
- a throughput phase of ``--cases`` cases at ``--concurrency`` senders (the bench's), with the
  acknowledgement p50 of its events (the client path's), the worker's and server's CPU, the
  wall time, and from every case's history its workflow tasks, upserts (Pathway's, and the
  ``TemporalChangeVersion`` one sdk-core makes per patch), markers, events and bytes;
- ``worker_busy_cpu_ms_per_case``: the worker's CPU per case less its idle rate over the
  phase's wall time, and ``worker_cpu_ms_per_workflow_task``: that CPU divided by the
  workflow tasks in the phase's histories (the activities it ran and the status queries it
  answered are in that CPU too: a cost per unit of work, not of the tasks alone);
- from the worker's own SDK counters (:mod:`bench._sdk_metrics`, read before and after the
  phase): ``sdk_executed_tasks_per_case``, the workflow and query tasks the worker ran to an
  answer, and ``sdk_unrecorded_tasks_per_case``, those less the history's tasks (completed,
  timed out or failed: ``workflow_tasks_timed_out``, ``workflow_tasks_failed``) and the status
  queries ``settle_queries_per_case``: tasks the worker ran that left no event (a speculative
  task of an update the server dropped, a task handed out again), with
  ``worker_cpu_ms_per_executed_task``; failed tasks and cache misses besides, and
  ``events_sent_again``: the events the client sent again after no answer in time;
- ``server_cpu_ms_per_case``: the dev server's CPU over the phase, not corrected for its idle
  rate (it follows the phase's wall time: compare phases of similar length).

The sides are ``pathway``, ``bare`` (:mod:`bench._bare`, the same Temporal work) and
``pathway-no-upserts`` (Pathway's cases opened with ``CaseConfig(upsert_search_attributes=
False)``: what the search-attribute upserts cost the server); ``--sides`` chooses among them.
Rounds alternate the order.
Prints one table per mode (mean over rounds) and writes the figures, per round, as JSON
(``--out``). Not a test: figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType

from bench._args import count, modes_arg
from bench._procs import MODES, checkout, cpu_seconds, dev_server
from bench._run import Env, delivered, drive, outbox_lines, plan_bare, settle, warm, worker
from bench._sdk_metrics import delta, scrape, workflow_task_counts
from bench._workload import PathwaySide, Side
from pathway.access.credentials import new_token
from pathway.access.policy import ROLES
from pathway.domain.config import CaseConfig
from pathway.logs import configure_logging
from pathway.temporal_binaries import free_port
from pathway.temporal_connection import connect, default_keystore

SIDES = ("pathway", "bare", "pathway-no-upserts")
#: How long the SDK's counters may take to count the tasks the histories already record.
SDK_CATCH_UP_SECONDS = 30.0
#: Figures averaged over rounds in the printed table, in its order.
FIGURES = (
    "cases_per_s",
    "ack_ms_p50",
    "idle_worker_cpu_ms_per_s",
    "worker_cpu_ms_per_case",
    "worker_busy_cpu_ms_per_case",
    "workflow_tasks_per_case",
    "worker_cpu_ms_per_workflow_task",
    "workflow_tasks_timed_out",
    "settle_queries_per_case",
    "events_sent_again",
    "sdk_polled_tasks_per_case",
    "sdk_executed_tasks_per_case",
    "sdk_unrecorded_tasks_per_case",
    "sdk_failed_tasks_per_case",
    "sdk_cache_misses_per_case",
    "worker_cpu_ms_per_executed_task",
    "server_cpu_ms_per_case",
    "upserts_per_case",
    "version_upserts_per_case",
    "markers_per_case",
    "events_per_case",
    "history_bytes_per_case",
)


#: The search attribute sdk-core upserts with the first ``workflow.patched`` call of each patch
#: in a run (Temporal's own, not Pathway's; Python has no way to turn it off).
CHANGE_VERSION = "TemporalChangeVersion"


@dataclass
class HistoryCounts:
    """Totals over the histories of a phase's cases."""

    workflow_tasks: int = 0
    #: Tasks the history records as timed out (the worker's completion came too late or not
    #: at all) or failed.
    timed_out: int = 0
    failed: int = 0
    #: Upserts of Pathway's own search attributes (phase, obligation owners).
    upserts: int = 0
    #: Upserts of only :data:`CHANGE_VERSION` (one per patch a new run records).
    version_upserts: int = 0
    markers: int = 0
    events: int = 0
    bytes: int = 0


async def _history_counts(env: Env, side: Side, names: list[str]) -> HistoryCounts:
    counts = HistoryCounts()
    for name in names:
        handle = env.pathway.client.get_workflow_handle(side.workflow_id(name))
        history = await handle.fetch_history()
        for event in history.events:
            match event.event_type:
                case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                    counts.workflow_tasks += 1
                case EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                    counts.timed_out += 1
                case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    counts.failed += 1
                case EventType.EVENT_TYPE_MARKER_RECORDED:
                    counts.markers += 1
                case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                    fields = event.upsert_workflow_search_attributes_event_attributes
                    if set(fields.search_attributes.indexed_fields) == {CHANGE_VERSION}:
                        counts.version_upserts += 1
                    else:
                        counts.upserts += 1
                case _:
                    pass
        counts.events += len(history.events)
        counts.bytes += sum(event.ByteSize() for event in history.events)
    return counts


async def one_phase(
    env: Env, label: str, tag: str, *, cases_n: int, concurrency: int, idle: float
) -> dict[str, Any]:
    """``label``'s idle window and throughput phase, in a worker process of its own."""
    kind = "bare" if label == "bare" else "pathway"
    metrics = f"127.0.0.1:{free_port()}"
    async with worker(env, kind, tag, metrics=metrics) as pid:
        if env.bare is None:  # the bare plan comes from a warm Pathway case's history
            await warm(env.pathway, f"{tag}p", 2)
            await plan_bare(env, f"{tag}p0")
        assert env.bare is not None
        side: Side = (
            env.bare
            if label == "bare"
            else env.pathway
            if label == "pathway"
            else PathwaySide(
                env.pathway.client,
                env.pathway.tokens,
                config=CaseConfig(upsert_search_attributes=False),
            )
        )
        await warm(side, f"{tag}w", 2)
        before, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(idle)
        idle_rate = (cpu_seconds(pid) - before) / (time.perf_counter() - started)
        names = [f"{tag}t{i}" for i in range(cases_n)]
        per_case = (
            env.notifications_per_case if kind == "pathway" else sum(env.bare.plan.activities)
        )
        expected = await asyncio.to_thread(outbox_lines, env, kind) + len(names) * per_case
        sdk_before = await scrape(metrics)
        worker_before, server_before = cpu_seconds(pid), cpu_seconds(env.server.pid)
        started = time.perf_counter()
        latencies: list[float] = []
        repeats_before = side.repeats
        await drive(side.send, names, concurrency, latencies)
        await delivered(env, kind, expected)
        repeats = side.repeats - repeats_before
        queries = await settle(side, names)
        seconds = time.perf_counter() - started
        worker_cpu = cpu_seconds(pid) - worker_before
        server_cpu = cpu_seconds(env.server.pid) - server_before
        counts = await _history_counts(env, side, names)
        # The SDK counts a task when its completion's answer is back, which can be just after
        # the history recorded it: read until the counters hold every recorded task and query
        # (at most SDK_CATCH_UP_SECONDS), so an unrecorded task is not hidden by one not yet
        # counted.
        recorded = counts.workflow_tasks + counts.timed_out + counts.failed + queries
        deadline = time.perf_counter() + SDK_CATCH_UP_SECONDS
        while True:
            sdk_change = delta(sdk_before, await scrape(metrics))
            sdk = workflow_task_counts(sdk_change)
            if sdk.executed >= recorded or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.2)
    busy = worker_cpu - idle_rate * seconds
    n = len(names)
    return {
        "side": label,
        "mode": env.server.mode,
        "seconds": seconds,
        "cases_per_s": n / seconds,
        "ack_ms_p50": statistics.median(latencies),
        "idle_worker_cpu_ms_per_s": idle_rate * 1000,
        "worker_cpu_ms_per_case": worker_cpu * 1000 / n,
        "worker_busy_cpu_ms_per_case": busy * 1000 / n,
        "workflow_tasks_per_case": counts.workflow_tasks / n,
        "worker_cpu_ms_per_workflow_task": busy * 1000 / counts.workflow_tasks,
        "workflow_tasks_timed_out": counts.timed_out,
        "workflow_tasks_failed": counts.failed,
        "settle_queries_per_case": queries / n,
        "events_sent_again": repeats,
        "sdk_polled_tasks_per_case": sdk.polled / n,
        "sdk_executed_tasks_per_case": sdk.executed / n,
        "sdk_unrecorded_tasks_per_case": (
            sdk.executed - counts.workflow_tasks - counts.timed_out - counts.failed - queries
        )
        / n,
        "sdk_failed_tasks_per_case": sdk.failed / n,
        "sdk_cache_misses_per_case": sdk.cache_misses / n,
        "worker_cpu_ms_per_executed_task": busy * 1000 / sdk.executed if sdk.executed else 0.0,
        "sdk_counts": {name: value for name, value in sorted(sdk_change.items()) if value},
        "server_cpu_ms_per_case": server_cpu * 1000 / n,
        "upserts_per_case": counts.upserts / n,
        "version_upserts_per_case": counts.version_upserts / n,
        "markers_per_case": counts.markers / n,
        "events_per_case": counts.events / n,
        "history_bytes_per_case": counts.bytes / n,
    }


@dataclass(frozen=True)
class Plan:
    """What :func:`measure` runs in each mode: ``rounds`` rounds of every side in ``sides``,
    each phase ``cases`` cases at ``concurrency`` senders after ``idle`` seconds' idle
    window."""

    rounds: int
    cases: int
    concurrency: int
    idle: float
    sides: tuple[str, ...] = SIDES


async def measure(modes: list[str], base: Path, plan: Plan) -> list[dict[str, Any]]:
    """Every mode's rounds; each round runs the plan's sides, in reversed order every other."""
    out = []
    tokens = {role: new_token() for role in ROLES}
    for mode in modes:
        directory = base / mode
        directory.mkdir(parents=True)
        async with dev_server(mode, directory / "temporal") as server:  # type: ignore[arg-type]
            client = await connect(
                server.target, "default", default_keystore(directory), use_config=False
            )
            env = Env(server, directory, PathwaySide(client, tokens))
            for number in range(plan.rounds):
                order = plan.sides if number % 2 == 0 else tuple(reversed(plan.sides))
                for index, label in enumerate(order):
                    figures = await one_phase(
                        env,
                        label,
                        f"{mode}r{number}s{index}",
                        cases_n=plan.cases,
                        concurrency=plan.concurrency,
                        idle=plan.idle,
                    )
                    out.append({"round": number, **figures})
                    print(f"{mode} round {number} {label}: done", file=sys.stderr, flush=True)
    return out


def _sides_arg(text: str) -> tuple[str, ...]:
    sides = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    unknown = [side for side in sides if side not in SIDES]
    if unknown or not {"pathway", "bare"} <= set(sides):
        raise argparse.ArgumentTypeError(
            f"{text!r}: sides are {', '.join(SIDES)}, pathway and bare among them"
        )
    return sides


def table(phases: list[dict[str, Any]]) -> str:
    """Mean per mode and side of each figure, and Pathway's ratio to bare."""
    lines = []
    sides = tuple(dict.fromkeys(phase["side"] for phase in phases))
    for mode in dict.fromkeys(phase["mode"] for phase in phases):
        lines.append(f"== {mode} (mean over rounds)")
        lines.append(
            f"{'figure':34}" + "".join(f"{side:>20}" for side in sides) + f"{'pathway/bare':>14}"
        )
        for name in FIGURES:
            means = {
                side: statistics.fmean(
                    p[name] for p in phases if p["mode"] == mode and p["side"] == side
                )
                for side in sides
            }
            ratio = (
                f"{means['pathway'] / means['bare']:14.2f}" if means["bare"] > 0 else f"{'n/a':>14}"
            )
            lines.append(f"{name:34}" + "".join(f"{means[side]:20.2f}" for side in sides) + ratio)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.causes", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--modes", type=modes_arg, default=MODES, help="memory,sqlite (default both)"
    )
    parser.add_argument("--cases", type=count, default=20, help="cases per phase (default 20)")
    parser.add_argument("--concurrency", type=count, default=20, help="senders (default 20)")
    parser.add_argument("--rounds", type=count, default=2, help="rounds per mode (default 2)")
    parser.add_argument(
        "--idle", type=float, default=20.0, help="seconds of the idle window (default 20)"
    )
    parser.add_argument(
        "--sides",
        type=_sides_arg,
        default=SIDES,
        help=f"comma-separated, of {','.join(SIDES)} (default all; pathway and bare needed)",
    )
    parser.add_argument("--out", type=Path, help="also write every phase's figures as JSON here")
    args = parser.parse_args(argv)
    configure_logging(json=True, level="WARNING")
    measured = checkout()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-causes-") as base:
        phases = asyncio.run(
            measure(
                list(args.modes),
                Path(base),
                Plan(args.rounds, args.cases, args.concurrency, args.idle, args.sides),
            )
        )
    print(table(phases))
    if args.out is not None:
        args.out.write_text(
            json.dumps(
                {**measured, "started": started, "argv": sys.argv[1:], "phases": phases}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
