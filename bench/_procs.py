"""The processes of a bench run: the dev server (SQLite or in memory), worker and gateway
subprocesses, and what /proc says of their CPU time and memory.

Every process started here is stopped by the context manager that started it, also when the
run fails or is cancelled (SIGTERM or SIGINT of ``python -m bench`` cancels the run), and a
further cancellation does not cut that short (:func:`stop`). Each is killed by the kernel when
the bench dies before it could stop them, SIGKILL included (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError

from pathway.temporal_binaries import (
    DevServer,
    dev_server_args,
    dies_with_parent,
    free_port,
    stop_process,
    temporal_cli_path,
)

Mode = Literal["sqlite", "memory"]
MODES: Final[tuple[Mode, ...]] = ("sqlite", "memory")
REPO: Final = Path(__file__).resolve().parent.parent
_TICKS: Final = os.sysconf("SC_CLK_TCK")
_PAGE: Final = os.sysconf("SC_PAGE_SIZE")


#: How long the dev server and a worker or gateway process may take to become ready.
SERVER_START_SECONDS: Final = 90.0
CHILD_START_SECONDS: Final = 60.0
#: How long a process may take to stop after SIGTERM before it is killed (SIGKILL).
STOP_SECONDS = 10.0


def _log(path: Path) -> BinaryIO:
    """A process's log file, opened for appending (its directory made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


class BenchError(RuntimeError):
    """A process of the bench did not start or failed; the message says which and its log."""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` now."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


async def spawn(
    program: str | Path, args: Sequence[str], *, log: BinaryIO, cwd: Path | None = None
) -> asyncio.subprocess.Process:
    """``program args`` with its output appended to ``log``, in a session of its own (a
    terminal's Ctrl-C reaches only the bench, which stops it), and killed (SIGKILL) by the
    kernel if the bench dies first, however it dies (``dies_with_parent``: Linux
    ``PR_SET_PDEATHSIG``, armed in the child before it runs ``program``). Call it from the
    event loop's thread: the signal follows the thread that started the child."""
    return await asyncio.create_subprocess_exec(
        program,
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=dies_with_parent(),  # one prctl call in the child, nothing else
    )


async def stop(proc: asyncio.subprocess.Process) -> None:
    """Stop ``proc`` (SIGTERM, SIGKILL after ``STOP_SECONDS``) and wait until it is gone, even
    if the calling task is cancelled meanwhile (a second SIGTERM or Ctrl-C): the stop goes on
    shielded, and the cancellation is raised again once the process is gone."""
    stopping = asyncio.ensure_future(stop_process(proc, STOP_SECONDS))
    cancelled = False
    while not stopping.done():
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            if stopping.cancelled():  # the loop itself is shutting down: nothing left to wait
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def _without_db_file(args: list[str]) -> list[str]:
    at = args.index("--db-filename")
    return args[:at] + args[at + 2 :]


async def _ready(target: str) -> bool:
    client = await Client.connect(target)
    await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return True


@dataclass(frozen=True)
class Server:
    mode: Mode
    target: str
    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def dev_server(mode: Mode, var_dir: Path) -> AsyncIterator[Server]:
    """``temporal server start-dev`` on free loopback ports, headless: with a SQLite file in
    ``var_dir`` (``sqlite``) or keeping everything in memory (``memory``)."""
    settings = DevServer(var_dir=var_dir, port=free_port(), ui_port=free_port(), headless=True)
    args = dev_server_args(settings)
    if mode == "memory":
        args = _without_db_file(args)
    with _log(settings.log_file) as log:
        proc = await spawn(temporal_cli_path(), args, log=log)
    try:
        await _poll(
            lambda: _ready(settings.target),
            proc,
            SERVER_START_SECONDS,
            f"the dev server ({mode}, log {settings.log_file})",
        )
        yield Server(mode, settings.target, proc)
    finally:
        await stop(proc)


async def _poll(
    check: Callable[[], Awaitable[bool]],
    proc: asyncio.subprocess.Process,
    timeout: float,  # noqa: ASYNC109 - how long a process may take to become ready
    what: str,
) -> None:
    """Call ``check()`` until it returns True; fail if ``proc`` exits or time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: BaseException | None = None
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise BenchError(f"{what} exited with code {proc.returncode} before it was ready")
        try:
            async with asyncio.timeout(5):
                if await check():
                    return
        except (OSError, RuntimeError, RPCError, TimeoutError) as error:
            last = error
        await asyncio.sleep(0.1)
    raise BenchError(f"{what} was not ready within {timeout:g} s (last error: {last!r})")


@dataclass(frozen=True)
class Child:
    """A Python subprocess of the bench (a worker or a gateway)."""

    name: str
    process: asyncio.subprocess.Process
    log_file: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def python_child(
    name: str,
    module: str,
    args: list[str],
    *,
    log_file: Path,
    ready_file: Path,
) -> AsyncIterator[Child]:
    """``python -m module args`` from the repository; ready once it wrote ``ready_file``.
    Stopped by SIGTERM (SIGKILL after ``STOP_SECONDS``) on the way out (:func:`stop`)."""
    ready_file.unlink(missing_ok=True)  # noqa: ASYNC240 - one unlink of a local file
    with _log(log_file) as log:
        proc = await spawn(sys.executable, ["-m", module, *args], log=log, cwd=REPO)
    try:

        async def written() -> bool:
            return await asyncio.to_thread(ready_file.exists)

        await _poll(written, proc, CHILD_START_SECONDS, f"{name} (log {log_file})")
        yield Child(name, proc, log_file)
        if proc.returncode is not None:
            raise BenchError(f"{name} exited with code {proc.returncode} (log {log_file})")
    finally:
        await stop(proc)


def _git(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed git arguments
        ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def checkout() -> dict[str, Any]:
    """The commit the run measures and whether the tree differs from it, read when the run
    starts (a checkout switched during a long run does not change what it measured)."""
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
