"""The phases of a bench run, on one dev server per mode, alternating Pathway and bare.

Per mode and round, for each side in turn (Pathway then bare in even rounds, bare then Pathway
in odd ones: A/B, B/A, ...; ``pair_order``): start the side's worker process, warm it up, then

1. throughput: ``cases`` cases, ``concurrency`` at a time, each sent its eight events one
   after the other; done when every case's activities completed. CPU seconds of the server,
   the worker and this process (the client) over that window, per case;
2. acknowledgement latency on the client path: one sender, then ``senders`` at once;
3. the same through HTTP: the project's gateway / a bare HTTP front, each in its own process;

then stop the worker. After the rounds of the first mode: RSS per cached case (a fresh worker
per side, ``rss_cases`` cases opened) and history sizes and replay speed of stored histories.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.worker import WorkflowRunner

from bench._bare import BareCaseWorkflow
from bench._history import (
    HistoryStats,
    notifications_in,
    plan_from_history,
    replay_seconds,
    stats,
)
from bench._procs import (
    Mode,
    Server,
    cpu_seconds,
    dev_server,
    load_average,
    python_child,
    rss_bytes,
)
from bench._workload import UPDATES, BareSide, PathwaySide, Side, bare_plan
from pathway.access.credentials import new_token
from pathway.access.policy import ROLES
from pathway.temporal_binaries import free_port
from pathway.temporal_connection import connect, data_converter, default_keystore
from pathway.workers import RETENTION_SCHEDULE_ID, workflow_runner
from pathway.workflows.case import VictimCaseWorkflow

SIDES = ("pathway", "bare")


def pair_order(number: int) -> tuple[str, str]:
    """The order of the sides in round ``number`` of a mode: Pathway first in even rounds,
    bare first in odd ones (A/B, B/A, A/B, ...), so load that drifts during a run does not
    always land on the same side. Round 0 starts with Pathway: bare's plan is read off its
    first warm-up case."""
    return SIDES if number % 2 == 0 else (SIDES[1], SIDES[0])


@dataclass(frozen=True)
class Sizes:
    cases: int = 40
    concurrency: int = 20
    seq_cases: int = 3
    senders: int = 20
    sender_cases: int = 1
    rounds: int = 2
    warmup: int = 2
    rss_cases: int = 200
    replay_cases: int = 20
    modes: tuple[Mode, ...] = ("sqlite", "memory")
    gateway: bool = True


SMOKE = Sizes(
    cases=3,
    concurrency=3,
    seq_cases=1,
    senders=2,
    sender_cases=1,
    rounds=1,
    warmup=1,
    rss_cases=60,
    replay_cases=2,
)


@dataclass
class Round:
    """What one side measured in one round."""

    side: str
    mode: str
    round: int
    load_average: list[float]
    #: 1 if this side ran first in its round, 2 if second (``pair_order``).
    position: int = 1
    cases: int = 0
    seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    workflow_ids: list[str] = field(default_factory=list)
    #: The HTTP front's CPU seconds over its acknowledgement phases, and the events it answered.
    http_cpu_seconds: float = 0.0
    http_events: int = 0


@dataclass
class Results:
    sizes: Sizes
    rounds: list[Round] = field(default_factory=list)
    rss_bytes_per_case: dict[str, float] = field(default_factory=dict)
    rss_detail: dict[str, dict[str, float]] = field(default_factory=dict)
    histories: dict[str, list[HistoryStats]] = field(default_factory=dict)
    replay_events_per_s: dict[str, list[float]] = field(default_factory=dict)
    #: Per mode and side, over every throughput case's history: ``cases``, the workflow tasks
    #: that ``timed_out`` or ``failed`` in them (a worker too slow or failing under load), the
    #: workflow tasks ``completed``, those handed out from the ``normal_queue`` after the first
    #: (the whole history, not the sticky increment), and the history ``events``.
    workflow_tasks: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: Per mode and side: events sent again after no answer came in time (``Side.repeats``,
    #: ``SEND_ATTEMPTS``), over the whole mode (rounds and, in the first mode, the RSS phase).
    repeats: dict[str, dict[str, int]] = field(default_factory=dict)
    load_samples: list[dict[str, object]] = field(default_factory=list)

    def sample_load(self, when: str) -> list[float]:
        load = load_average()
        self.load_samples.append({"when": when, "at": time.time(), "load_average": load})
        return load


@dataclass
class Env:
    """One mode's server, clients and working directory."""

    server: Server
    base: Path
    pathway: PathwaySide
    bare: BareSide | None = None
    #: Outbox lines one Pathway case writes (its notify activities; the bare side writes one
    #: line per activity, as many as Pathway schedules in all).
    notifications_per_case: int = 0

    def side(self, name: str) -> Side:
        if name == "pathway":
            return self.pathway
        assert self.bare is not None, "the bare plan comes from Pathway's first round"
        return self.bare


# -- driving cases -----------------------------------------------------------------------------
async def drive(
    send: Callable[[str, int], Awaitable[None]],
    cases: Iterable[str],
    senders: int,
    latencies: list[float] | None = None,
) -> None:
    """``senders`` senders take the next case in turn and send its events one after the other."""
    queue = list(cases)
    queue.reverse()

    async def sender() -> None:
        while queue:
            case = queue.pop()
            for k in range(UPDATES):
                started = time.perf_counter()
                await send(case, k)
                if latencies is not None:
                    latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(sender() for _ in range(senders)))


async def settle(side: Side, cases: Iterable[str], timeout: float = 600.0) -> int:  # noqa: ASYNC109
    """Return once every case's activities completed (polled by query, 8 at a time), with the
    number of queries it sent."""
    queries = 0
    waiting = list(cases)
    limit = asyncio.Semaphore(8)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def unsettled(case: str) -> bool:
        nonlocal queries
        async with limit:
            queries += 1
            return await side.unsettled(case) > 0

    while waiting:
        if loop.time() > deadline:
            raise TimeoutError(f"{len(waiting)} {side.name} case(s) not settled in {timeout:g} s")
        flags = await asyncio.gather(*(unsettled(case) for case in waiting))
        waiting = [case for case, busy in zip(waiting, flags, strict=True) if busy]
        if waiting:
            await asyncio.sleep(0.05)
    return queries


# -- processes ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def worker(
    env: Env, side: str, tag: str, *, metrics: str | None = None
) -> AsyncIterator[int]:
    """The side's worker process; yields its pid. ``metrics``: ``HOST:PORT`` where its SDK
    serves Prometheus metrics (:mod:`bench._sdk_metrics`)."""
    async with python_child(
        f"{side} worker",
        "bench._worker",
        [side, env.server.target, str(env.base)]
        + ([] if metrics is None else ["--metrics", metrics]),
        log_file=env.base / f"worker-{side}-{tag}.log",
        ready_file=env.base / "ready",
    ) as child:
        if side == "pathway":
            await _pause_retention(env.pathway.client)
        yield child.pid


async def _pause_retention(client: Client) -> None:
    """The hourly retention sweep would run in some rounds and not in others."""
    with contextlib.suppress(RPCError):
        await client.get_schedule_handle(RETENTION_SCHEDULE_ID).pause(note="bench")


@contextlib.asynccontextmanager
async def http_front(env: Env, side: str, tag: str) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """``side``'s HTTP front in a process of its own: a client for it, and its process ID."""
    port = free_port()
    async with (
        python_child(
            f"{side} gateway",
            "bench._gateway",
            [side, env.server.target, str(env.base), str(port)],
            log_file=env.base / f"gateway-{side}-{tag}.log",
            ready_file=env.base / "gateway-ready",
        ) as front,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60.0,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        ) as http,
    ):
        yield http, front.pid


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


# -- one round of one side ---------------------------------------------------------------------
async def one_round(env: Env, results: Results, name: str, number: int, position: int) -> None:
    tag = f"{env.server.mode}-r{number}"
    load = results.sample_load(f"{tag} {name}")
    result = Round(name, env.server.mode, number, load, position=position)
    async with worker(env, name, tag) as worker_pid:
        if env.bare is None:  # Pathway's first round: the bare plan from a warm case's history
            await warm(env.pathway, f"{tag}w", results.sizes.warmup)
            await plan_bare(env, f"{tag}w0")
        side = env.side(name)
        if name == "bare" or number > 0:
            await warm(side, f"{tag}w", results.sizes.warmup)
        pids = {"server": env.server.pid, "worker": worker_pid}
        await _throughput(env, side, result, pids, results.sizes)
        await _acks(side, result, "client", side.send, tag, sizes=results.sizes)
        if results.sizes.gateway:
            async with http_front(env, name, tag) as (http, front_pid):

                async def via_http(case: str, k: int) -> None:
                    await side.send_http(http, case, k)

                await _warm_http(side, via_http, f"{tag}gw")
                # The HTTP front's CPU over its acknowledgement phases, per event it answered.
                cpu_before = cpu_seconds(front_pid)
                await _acks(side, result, "gateway", via_http, tag, sizes=results.sizes)
                result.http_cpu_seconds = cpu_seconds(front_pid) - cpu_before
                result.http_events = sum(
                    len(ms) for key, ms in result.latencies_ms.items() if key.startswith("gateway")
                )
    results.rounds.append(result)


async def warm(side: Side, prefix: str, count: int) -> None:
    cases = [f"{prefix}{i}" for i in range(count)]
    await drive(side.send, cases, 1)
    await settle(side, cases)


async def _warm_http(side: Side, send: Callable[[str, int], Awaitable[None]], prefix: str) -> None:
    cases = [f"{prefix}{i}" for i in range(2)]
    await drive(send, cases, 1)
    await settle(side, cases)


async def plan_bare(env: Env, case: str) -> None:
    history = await env.pathway.client.get_workflow_handle(
        env.pathway.workflow_id(case)
    ).fetch_history()
    activities, timed = plan_from_history(history)
    env.notifications_per_case = notifications_in(history)
    plan = bare_plan(activities, timed)
    (env.base / "plan.json").write_text(json.dumps(asdict(plan)))
    env.bare = BareSide(await Client.connect(env.server.target), plan)


def outbox_lines(env: Env, side: str) -> int:
    """Notifications delivered so far by ``side``'s worker: lines in its outbox files."""
    files = (
        list((env.base / "outbox").glob("*.jsonl"))
        if side == "pathway"
        else [env.base / "bare-outbox.jsonl"]
    )
    return sum(path.read_bytes().count(b"\n") for path in files if path.exists())


async def delivered(env: Env, side: str, expected: int, timeout: float = 600.0) -> None:  # noqa: ASYNC109
    """Return once ``side``'s outbox has ``expected`` lines: watched on disk, not by queries,
    which would add CPU of their own to the window measured."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await asyncio.to_thread(outbox_lines, env, side) < expected:
        if loop.time() > deadline:
            raise TimeoutError(f"{side}: fewer than {expected} notifications in {timeout:g} s")
        await asyncio.sleep(0.05)


async def _throughput(
    env: Env, side: Side, result: Round, pids: dict[str, int], sizes: Sizes
) -> None:
    sizes_cases = [f"{result.mode}-r{result.round}t{i}" for i in range(sizes.cases)]
    assert env.bare is not None
    expected = await asyncio.to_thread(outbox_lines, env, side.name)
    per_case = (
        env.notifications_per_case if side.name == "pathway" else sum(env.bare.plan.activities)
    )
    expected += len(sizes_cases) * per_case
    pids = {**pids, "client": os.getpid()}
    before = _cpu(pids)
    started = time.perf_counter()
    await drive(side.send, sizes_cases, sizes.concurrency)
    # Every activity completed, then one query per case for the workflow tasks after them.
    await delivered(env, side.name, expected)
    await settle(side, sizes_cases)
    result.seconds = time.perf_counter() - started
    after = _cpu(pids)
    result.cases = len(sizes_cases)
    result.cpu_seconds = {name: after[name] - before[name] for name in pids}
    result.workflow_ids = [side.workflow_id(case) for case in sizes_cases]


async def _acks(
    side: Side,
    result: Round,
    path: str,
    send: Callable[[str, int], Awaitable[None]],
    tag: str,
    *,
    sizes: Sizes,
) -> None:
    sequential: list[float] = []
    cases = [f"{tag}{path}s{i}" for i in range(sizes.seq_cases)]
    await drive(send, cases, 1, sequential)
    await settle(side, cases)
    concurrent: list[float] = []
    cases = [f"{tag}{path}c{i}" for i in range(sizes.senders * sizes.sender_cases)]
    await drive(send, cases, sizes.senders, concurrent)
    await settle(side, cases)
    result.latencies_ms[f"{path}_seq"] = sequential
    result.latencies_ms[f"{path}_concurrent"] = concurrent


# -- after the rounds --------------------------------------------------------------------------
async def task_faults(env: Env, results: Results) -> None:
    """Count the workflow tasks that timed out, failed, completed or came from the normal queue,
    and the events, in every throughput case of this mode's rounds, per side, into
    ``results.workflow_tasks[mode]``."""
    mode = env.server.mode
    client = env.pathway.client
    for name in SIDES:
        ids = [
            wid
            for r in results.rounds
            if r.side == name and r.mode == mode
            for wid in r.workflow_ids
        ]
        counted = [stats(await client.get_workflow_handle(wid).fetch_history()) for wid in ids]
        results.workflow_tasks.setdefault(mode, {})[name] = {
            "cases": len(counted),
            "timed_out": sum(h.workflow_task_timeouts for h in counted),
            "failed": sum(h.workflow_task_failures for h in counted),
            "completed": sum(h.workflow_tasks for h in counted),
            "normal_queue": sum(h.normal_queue_tasks for h in counted),
            "events": sum(h.events for h in counted),
        }


async def rss_phase(env: Env, results: Results) -> None:
    """RSS per cached case: a fresh worker per side opens a first batch of cases (a tenth,
    at least 20: the worker's one-time growth, thread pools, the first sandboxes), then
    ``rss_cases`` more; RSS after less RSS before that second batch, per case. A case opened
    here gets only its identification (and its notifications)."""
    for name in SIDES:
        side = env.side(name)

        async def open_only(case: str, k: int, side: Side = side) -> None:
            if k == 0:
                await side.send(case, 0)

        async def batch(prefix: str, count: int, side: Side = side) -> list[str]:
            cases = [f"{prefix}{i}" for i in range(count)]
            await drive(open_only, cases, 20)
            await settle(side, cases)
            return cases

        async with worker(env, name, f"rss-{name}") as pid:
            await batch(f"rss-{name}-w", max(20, results.sizes.rss_cases // 10))
            before, cpu_before = rss_bytes(pid), cpu_seconds(pid)
            started = time.monotonic()
            cases = await batch(f"rss-{name}-", results.sizes.rss_cases)
            seconds = time.monotonic() - started
            after, cpu_after = rss_bytes(pid), cpu_seconds(pid)
        results.rss_detail[name] = {
            "before": before,
            "after": after,
            "cases": len(cases),
            "open_seconds": seconds,
            "worker_cpu_seconds": cpu_after - cpu_before,
        }
        results.rss_bytes_per_case[name] = (after - before) / len(cases)


async def history_phase(env: Env, results: Results) -> None:
    """History sizes of the throughput cases, and replay speed (two passes: A/B, then B/A)."""
    histories: dict[str, list[WorkflowHistory]] = {}
    for name in SIDES:
        ids = [
            wid
            for r in results.rounds
            if r.side == name and r.mode == env.server.mode
            for wid in r.workflow_ids
        ][: results.sizes.replay_cases]
        client = env.pathway.client
        histories[name] = [await client.get_workflow_handle(wid).fetch_history() for wid in ids]
        results.histories[name] = [stats(history) for history in histories[name]]
    setups: dict[str, tuple[list[type], DataConverter, WorkflowRunner]] = {
        "pathway": (
            [VictimCaseWorkflow],
            data_converter(default_keystore(env.base)),
            workflow_runner(),
        ),
        "bare": ([BareCaseWorkflow], DataConverter.default, workflow_runner("bench")),
    }
    for number in range(2):
        for name in pair_order(number):
            events = sum(len(h.events) for h in histories[name])
            seconds = await replay_seconds(histories[name], *setups[name])
            results.replay_events_per_s.setdefault(name, []).append(events / seconds)


# -- the whole run -----------------------------------------------------------------------------
async def run(sizes: Sizes, base: Path) -> Results:
    results = Results(sizes)
    results.sample_load("start")
    tokens = {role: new_token() for role in ROLES}
    for index, mode in enumerate(sizes.modes):
        directory = base / mode
        directory.mkdir(parents=True)
        (directory / "tokens.json").write_text(json.dumps(tokens))
        async with dev_server(mode, directory / "temporal") as server:
            client = await connect(
                server.target, "default", default_keystore(directory), use_config=False
            )
            env = Env(server, directory, PathwaySide(client, tokens))
            for number in range(sizes.rounds):
                for position, name in enumerate(pair_order(number), start=1):
                    await one_round(env, results, name, number, position)
            await task_faults(env, results)
            if index == 0:
                results.sample_load(f"{mode} rss")
                await rss_phase(env, results)
                results.sample_load(f"{mode} histories")
                await history_phase(env, results)
            results.repeats[mode] = {name: env.side(name).repeats for name in SIDES}
    results.sample_load("end")
    return results
