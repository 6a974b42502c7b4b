"""Where the time of one event through the gateway goes: ``python -m bench.gateway_split``.

    .venv/bin/python -m bench.gateway_split [--cases 6] [--mode memory|sqlite]

Starts a dev server (``--mode``, in memory by default) and, in this one process, the case and
notification workers, the gateway (bearer tokens, no rate limit in the way) and an httpx
sender. Sends the bench's eight-event case ``--cases`` times through the gateway and as many
through the client path, one event at a time, and times inside the gateway the two calls it
makes to Temporal for an event after the opening: the ``standing`` query (the caller's
membership, :func:`pathway.clients.cases.case_standing`) and the update
(:func:`pathway.clients.cases.record_event`). Prints the p50 and mean in milliseconds of the
sender's acknowledgement, of each call, and of the same event through the client path
(docs/performance.md, "What remains"). All in one process and one event loop, so each figure
carries some of the others' CPU: read them side by side, not against the full bench's.
Not a test: figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

import pathway.gateway.context as gateway_context
import pathway.gateway.routes.cases as gateway_cases
from bench._args import count
from bench._gateway import pathway_gateway_app
from bench._procs import MODES, checkout, dev_server
from bench._workload import UPDATES, PathwaySide
from pathway.access.credentials import new_token
from pathway.access.policy import ROLES
from pathway.channels import Channels, OutboxChannel
from pathway.domain.organisations import NOTIFIED
from pathway.gateway.server import serve_gateway
from pathway.logs import configure_logging
from pathway.temporal_binaries import free_port
from pathway.temporal_connection import connect, default_keystore
from pathway.workers import run_workers

T = TypeVar("T")


def timed(into: list[float], call: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """``call``, appending the milliseconds of each call to ``into``."""

    async def wrapper(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - started) * 1000)

    return wrapper


def summary(samples: list[float]) -> str:
    """``p50 … mean … n …`` of ``samples`` (milliseconds)."""
    return (
        f"p50 {statistics.median(samples):7.1f}  mean {statistics.mean(samples):7.1f}  "
        f"n {len(samples)}"
    )


async def measure(cases: int, mode: str, base: Path, senders: int = 1) -> dict[str, list[float]]:
    """The samples (ms) of each figure, for events after each case's opening."""
    standing: list[float] = []
    update: list[float] = []
    # The gateway's own references to the two calls, wrapped while this runs.
    wrapped = [
        (gateway_context, "case_standing", standing),
        (gateway_cases, "record_event", update),
    ]
    originals = [getattr(module, name) for module, name, _ in wrapped]
    for (module, name, into), original in zip(wrapped, originals, strict=True):
        setattr(module, name, timed(into, original))
    try:
        return await _send(cases, mode, base, senders=senders, standing=standing, update=update)
    finally:
        for (module, name, _), original in zip(wrapped, originals, strict=True):
            setattr(module, name, original)


async def _send(
    cases: int, mode: str, base: Path, *, senders: int, standing: list[float], update: list[float]
) -> dict[str, list[float]]:
    http_ms: list[float] = []
    client_ms: list[float] = []
    async with dev_server(mode, base / "temporal") as server:  # type: ignore[arg-type]
        client = await connect(server.target, "default", default_keystore(base), use_config=False)
        stop = asyncio.Event()
        workers = asyncio.create_task(
            run_workers(
                client,
                organisations=NOTIFIED,
                serve_cases=True,
                channels=Channels(default=OutboxChannel(directory=base / "outbox")),
                stop=stop,
                versioned=False,
            )
        )
        tokens = {role: new_token() for role in ROLES}
        app = pathway_gateway_app(client, tokens)
        port = free_port()
        serving = asyncio.create_task(serve_gateway(app, "127.0.0.1", port, stop))
        side = PathwaySide(client, tokens)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                await _listening(http)

                async def via_http(case: str, k: int) -> None:
                    await side.send_http(http, case, k)

                # The gateway's cases first, then the client path's, each phase's notifications
                # settled before the next starts: neither path's figures carry the other's work.
                await _phase(via_http, side, [f"h{n}" for n in range(cases)], senders, http_ms)
                await _phase(side.send, side, [f"c{n}" for n in range(cases)], senders, client_ms)
        finally:
            stop.set()
            await serving
            await workers
    return {
        "the HTTP acknowledgement": http_ms,
        "the standing query in it": standing,
        "the update in it": update,
        "the client path's acknowledgement": client_ms,
    }


async def _phase(
    send: Callable[[str, int], Awaitable[None]],
    side: PathwaySide,
    cases: list[str],
    senders: int,
    into: list[float],
) -> None:
    """Send each case's eight events in order, ``senders`` cases at a time, appending the
    milliseconds of each acknowledgement after the opening to ``into``; then wait (bounded:
    120 s) until every case's notifications are delivered."""
    slots = asyncio.Semaphore(senders)

    async def one(case: str) -> None:
        async with slots:
            for k in range(UPDATES):
                started = time.perf_counter()
                await send(case, k)
                if k:
                    into.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(case) for case in cases))
    deadline = time.monotonic() + 120
    for case in cases:
        while await side.unsettled(case):
            if time.monotonic() > deadline:
                raise TimeoutError(f"notifications of {case} not delivered within 120 s")
            await asyncio.sleep(0.1)


async def _listening(http: httpx.AsyncClient) -> None:
    """Once the gateway answers ``/healthz`` (bounded: 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the gateway did not answer /healthz within 30 s")
        await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_split")
    parser.add_argument("--cases", type=count, default=6, help="cases each way (default 6)")
    parser.add_argument("--mode", choices=MODES, default="memory", help="the dev server's store")
    parser.add_argument(
        "--senders", type=count, default=1, help="cases sent at once, each one event at a time"
    )
    parser.add_argument("--out", type=Path, help="also write the figures and samples as JSON here")
    args = parser.parse_args(argv)
    configure_logging(json=False, level="WARNING")  # the figures, not a line per request
    with tempfile.TemporaryDirectory(prefix="pathway-gateway-split-") as base:
        samples = asyncio.run(measure(args.cases, args.mode, Path(base), args.senders))
    print(
        f"mode {args.mode}, {args.cases} cases, {args.senders} at once, "
        "events after the opening, ms:"
    )
    for name, values in samples.items():
        print(f"  {name:36s} {summary(values)}")
    if args.out is not None:
        report = {
            **checkout(),
            "mode": args.mode,
            "cases": args.cases,
            "senders": args.senders,
            "load_average_end": list(os.getloadavg()),
            "p50_ms": {name: statistics.median(values) for name, values in samples.items()},
            "samples_ms": samples,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
