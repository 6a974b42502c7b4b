"""The bench's processes stop with it (issue 14): a child of the bench's process helper dies
when the bench is killed (SIGKILL included); a second cancellation does not cut its stop short;
SIGTERM and SIGINT end ``python -m bench`` with one line and 143 / 130.

No dev server: the children are small Python processes started by ``bench._procs.spawn``, the
helper that starts the bench's dev server, workers and gateways; ``bench.__main__.main`` runs
with a stand-in for the run. Every process a test starts is killed on the way out, also when
it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench import _procs

ROOT = Path(__file__).resolve().parent.parent
#: Generous bounds for a busy 2-core machine.
BOUND = 60.0

#: A child that ignores SIGTERM (so only SIGKILL ends it), says so in its log, then waits.
STUBBORN = (
    "import signal, sys\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "while True: signal.pause()\n"
)


def gone(pid: int) -> bool:
    """Process ``pid`` has ended: no such process, or a zombie no one reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def wait_for(check: Callable[[], bool], what: str, bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {bound:g} s")
        time.sleep(0.05)


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def parent(script: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """``python -c script`` from the repository (``script`` writes its child's PID to the file
    ``sys.argv[1]``); yields it and that file. Kills it and its child on the way out."""
    pid_file = tmp_path / "child.pid"
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, the test's own script
        [sys.executable, "-c", script, str(pid_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, pid_file
    finally:
        proc.kill()
        proc.communicate(timeout=BOUND)
        if pid_file.exists() and pid_file.read_text().strip():
            kill(int(pid_file.read_text()))


def child_pid(pid_file: Path, proc: subprocess.Popen[str]) -> int:
    def written() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the parent exited with {proc.returncode}: {proc.communicate()}")
        return pid_file.exists() and pid_file.read_text().endswith("\n")

    wait_for(written, "the parent started its child")
    return int(pid_file.read_text())


SPAWNS = f"""
import asyncio, os, sys
from pathlib import Path
from bench._procs import spawn

async def main() -> None:
    out = Path(sys.argv[1])
    with (out.parent / "child.log").open("ab") as log:
        proc = await spawn(sys.executable, ["-c", {STUBBORN!r}], log=log)
    out.with_suffix(".tmp").write_text(f"{{proc.pid}}\\n")
    os.replace(out.with_suffix(".tmp"), out)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_child_dies_with_the_bench_killed_by_sigkill(tmp_path: Path) -> None:
    """SIGKILL of the bench (no cleanup runs) still ends its children: they run in sessions of
    their own, so only the kernel's parent-death signal reaches them."""
    with parent(SPAWNS, tmp_path) as (proc, pid_file):
        pid = child_pid(pid_file, proc)
        wait_for(lambda: (tmp_path / "child.log").read_text() == "ready\n", "the child ready")
        assert not gone(pid)
        proc.kill()
        proc.wait(timeout=BOUND)
        wait_for(lambda: gone(pid), f"child {pid} gone after the parent's SIGKILL")


async def test_a_second_cancel_does_not_cut_the_stop_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled twice while it waits for a child that ignores SIGTERM, ``stop`` still kills
    it after the grace period and waits for it (the SIGKILL fallback was lost before)."""
    monkeypatch.setattr(_procs, "STOP_SECONDS", 2.0)
    started: list[asyncio.subprocess.Process] = []

    async def holds_a_child() -> None:
        with (tmp_path / "child.log").open("ab") as log:
            proc = await _procs.spawn(sys.executable, ["-c", STUBBORN], log=log)
        started.append(proc)
        try:
            await asyncio.Event().wait()
        finally:
            await _procs.stop(proc)

    task = asyncio.create_task(holds_a_child())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BOUND
        log = tmp_path / "child.log"
        while not (started and log.exists() and log.read_text() == "ready\n"):
            assert loop.time() < deadline, "the child did not get ready"
            await asyncio.sleep(0.05)
        task.cancel()
        for _ in range(5):  # let the task enter stop(): yields to the loop, no waiting
            await asyncio.sleep(0)
        assert started[0].returncode is None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert started[0].returncode == -signal.SIGKILL
    finally:
        for proc in started:
            kill(proc.pid)
        if not task.done():
            task.cancel()


INTERRUPTED = f"""
import asyncio, os, sys
from pathlib import Path
import bench.__main__ as bench_main
from bench import _procs

_procs.STOP_SECONDS = 2.0
out = Path(sys.argv[1])

async def run(sizes, base):
    with (out.parent / "child.log").open("ab") as log:
        proc = await _procs.spawn(sys.executable, ["-c", {STUBBORN!r}], log=log)
    out.with_suffix(".tmp").write_text(f"{{proc.pid}}\\n")
    os.replace(out.with_suffix(".tmp"), out)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        (out.parent / "stopping").write_text("")
        await _procs.stop(proc)
        # The SDK's cancelled calls leave futures whose exception no one retrieves (an
        # update-with-start's): asyncio would print a traceback for each when they are freed.
        for _ in range(3):
            lost = asyncio.get_running_loop().create_future()
            lost.set_exception(RuntimeError("workflow update failed"))
            del lost
        # A cancelled update surfaces as an unknown outcome, not as CancelledError.
        raise RuntimeError("update outcome unknown") from None

bench_main.run = run
bench_main.exit_now(bench_main.main(["--out", str(out.parent / "out.json")]))
"""


@pytest.mark.parametrize(
    ("signum", "times", "code"),
    [(signal.SIGTERM, 1, 143), (signal.SIGTERM, 2, 143), (signal.SIGINT, 1, 130)],
)
def test_a_signal_ends_the_bench_with_one_line_and_its_code(
    tmp_path: Path, signum: signal.Signals, times: int, code: int
) -> None:
    """SIGTERM (or Ctrl-C's SIGINT) stops what the bench started and ends it with one line on
    stderr and 128 + the signal's number, whatever exception the cancelled run ended with and
    however many futures it left with an exception no one retrieved; a second SIGTERM during
    that stop changes nothing."""
    with parent(INTERRUPTED, tmp_path) as (proc, pid_file):
        pid = child_pid(pid_file, proc)
        wait_for(lambda: (tmp_path / "child.log").read_text() == "ready\n", "the child ready")
        proc.send_signal(signum)
        if times == 2:
            wait_for((tmp_path / "stopping").exists, "the bench stopping")
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=BOUND)
        assert proc.returncode == code, (out, err)
        assert err.splitlines() == [
            f"python -m bench: stopped by {signum.name}; every process it started is stopped, "
            "no results written"
        ], err
        assert gone(pid)
        assert not (tmp_path / "out.json").exists()
