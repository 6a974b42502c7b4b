"""``python -m bench``: Pathway against bare Temporal in one run (issue 14).

Starts its own dev server on free loopback ports (a SQLite file, then in memory), runs the
project's worker and a bare worker doing the same Temporal work in turn (A/B, B/A, A/B, ...),
prints one table of Pathway's figures, the bare ones and their ratio, and writes them with the
machine's load average as JSON under ``bench/results/``. ``--smoke`` is the tiny size CI runs
(size flags given with it override its sizes).
docs/performance.md says what limits each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import temporalio

from bench._args import count, modes_arg
from bench._procs import checkout
from bench._report import as_json, figures, table, task_lines
from bench._run import SMOKE, Sizes, run
from pathway.process import exit_now

RESULTS = Path(__file__).resolve().parent / "results"


#: The size flags: (flag, ``Sizes`` field, help). Each defaults to ``Sizes()`` (``SMOKE`` with
#: ``--smoke``); a flag given overrides either.
_SIZE_FLAGS: Final = (
    ("--cases", "cases", "throughput cases per side and round"),
    ("--concurrency", "concurrency", "throughput cases in flight"),
    ("--seq-cases", "seq_cases", "cases of the one sequential sender"),
    ("--senders", "senders", "concurrent senders"),
    ("--sender-cases", "sender_cases", "cases per concurrent sender"),
    ("--rounds", "rounds", "A/B pairs per mode"),
    ("--rss-cases", "rss_cases", "cached cases for RSS (e.g. 1000)"),
    ("--replay-cases", "replay_cases", "histories replayed per side"),
)


def _parser() -> argparse.ArgumentParser:
    d, s = Sizes(), SMOKE
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add(
        "--smoke",
        action="store_true",
        help="the tiny size CI runs; size flags given as well override its sizes",
    )
    for flag, name, text in _SIZE_FLAGS:
        add(
            flag,
            type=count,
            help=f"{text}, above 0 (default {getattr(d, name)}; --smoke: {getattr(s, name)})",
        )
    add(
        "--modes",
        type=modes_arg,
        help="dev server modes, in order: sqlite,memory (history/RSS/replay in the first; "
        f"default {','.join(d.modes)})",
    )
    add("--no-gateway", action="store_true", help="skip the HTTP acknowledgement figures")
    add("--out", type=Path, help=f"the JSON file (default: {RESULTS}/<UTC time>.json)")
    add("--keep", action="store_true", help="keep the working directory (logs, databases)")
    return parser


def _sizes(args: argparse.Namespace) -> Sizes:
    """The run's sizes: ``SMOKE`` with ``--smoke``, else ``Sizes()``, with every size flag
    given on the command line in place of its default."""
    given: dict[str, Any] = {
        name: getattr(args, name) for _, name, _ in _SIZE_FLAGS if getattr(args, name) is not None
    }
    if args.modes is not None:
        given["modes"] = args.modes
    if args.no_gateway:
        given["gateway"] = False
    return replace(SMOKE if args.smoke else Sizes(), **given)


def _meta(started: float, checkout: dict[str, Any]) -> dict[str, Any]:
    return {
        **checkout,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "cpus": os.cpu_count(),
        "load_average_start_end": None,
        "python": platform.python_version(),
        "temporalio": temporalio.__version__,
        "argv": sys.argv[1:],
    }


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (``mkdir(parents=True)`` makes the rest)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class _Stop:
    """The first SIGTERM or SIGINT: it cancels the run; later ones are ignored, so that the
    run's cleanup (each process stopped, SIGKILL after a grace period) is not cut short."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def arm(self, task: asyncio.Task[Any]) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum, task)

    def stop(self, signum: int, task: asyncio.Task[Any]) -> None:
        if self.signum is None:
            self.signum = signum
            asyncio.get_running_loop().set_exception_handler(_quiet_once_stopped)
            task.cancel()


def _quiet_once_stopped(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's exception handler once a signal stopped the run: the SDK's cancelled
    calls (an update-with-start's futures) leave exceptions no one retrieves, and asyncio would
    print a traceback for each as they are freed. The stop is the one line ``main`` prints;
    anything else still goes to asyncio's default handler."""
    if str(context.get("message", "")).endswith("exception was never retrieved"):
        return
    loop.default_exception_handler(context)


async def _main(sizes: Sizes, base: Path, stopping: _Stop) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM (a CI timeout, a kill) or SIGINT cancels the run: every process it started is
    # stopped on the way out.
    stopping.arm(task)
    measured = checkout()
    started = time.time()
    results = await run(sizes, base)
    rows = figures(results)
    print(table(rows))
    print("\n".join(task_lines(results)))
    meta = _meta(started, measured)
    meta["load_average_start_end"] = [
        results.load_samples[0]["load_average"],
        results.load_samples[-1]["load_average"],
    ]
    return as_json(results, rows, meta)


def main(argv: list[str] | None = None) -> int:
    """Run the bench as ``argv`` says; 0 once the table is printed and the JSON written. On
    SIGTERM or SIGINT: one line on stderr and 128 + the signal's number (143, 130), with every
    process it started stopped and no results written."""
    parser = _parser()
    args = parser.parse_args(argv)
    sizes = _sizes(args)
    # Both sides' workers keep every case of the RSS phase in their workflow cache (issue 14
    # item 3): its first batch (a tenth) and the batch measured, with room to spare.
    cache = max(1000, sizes.rss_cases + max(20, sizes.rss_cases // 10) + 100)
    os.environ["PATHWAY_WORKFLOW_CACHE"] = str(cache)
    out = args.out or RESULTS / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime())
    # Checked before the run, not after it: a long run is not to be lost to a bad path.
    nearest = _nearest_existing(out.parent)
    if (
        out.is_dir()
        or not nearest.is_dir()
        or not os.access(nearest, os.W_OK)
        or (out.exists() and not os.access(out, os.W_OK))
    ):
        parser.error(f"--out {out}: not a file this user can write")
    work = tempfile.mkdtemp(prefix="pathway-bench-")
    stopping = _Stop()
    report: dict[str, Any] | None = None
    try:
        report = asyncio.run(_main(sizes, Path(work), stopping))
    except BaseException:
        # Cancelled mid-call, the SDK may raise something else than CancelledError (an update
        # whose outcome is unknown): after a signal, whatever ends the run is the signal.
        if stopping.signum is None:
            raise
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", work], check=False)  # noqa: S603, S607
        else:
            print(f"working directory kept: {work}", file=sys.stderr)
    if stopping.signum is not None:
        name = signal.Signals(stopping.signum).name
        print(
            f"python -m bench: stopped by {name}; every process it started is stopped, "
            "no results written",
            file=sys.stderr,
        )
        return 128 + stopping.signum
    assert report is not None  # asyncio.run returned
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    exit_now(main())
