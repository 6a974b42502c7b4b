"""Shared fixtures: Temporal environments started from the installed binaries (no downloads)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import structlog
from temporalio.testing import WorkflowEnvironment

from pathway.temporal_binaries import test_server_path
from pathway.temporal_connection import data_converter
from tests.faults import FaultReport
from tests.keys import TEST_KEYS
from tests.profiles import load_profile

load_profile()

# -- no process outlives the suite ------------------------------------------------------------
#: Every process the suite starts inherits this variable (servers, workers, `pathway dev`, and
#: the binaries the SDK launches), so the session can find any survivor, orphans included.
#: Under pytest-xdist each worker sets its own (this module runs again in each).
SESSION_MARK = "PATHWAY_TEST_SESSION"
os.environ[SESSION_MARK] = uuid.uuid4().hex
#: The whole run's mark, ``<uuid>:<pid of the process that set it>``: set by the xdist
#: controller (or the one process of a plain run) and inherited by its workers and everything
#: they start. It finds what a worker that died left behind (pytest-timeout's thread method ends
#: a hung worker with ``os._exit``, so the worker's own end-of-session check never runs).
RUN_MARK = "PATHWAY_TEST_RUN"


def _run_mark() -> str:
    """The inherited run mark in an xdist worker of the run its parent controls; a fresh one
    anywhere else (a pytest that a test starts is a run of its own, and must never take the
    outer run's processes for its orphans)."""
    inherited = os.environ.get(RUN_MARK, "")
    if "PYTEST_XDIST_WORKER" in os.environ and inherited.endswith(f":{os.getppid()}"):
        return inherited
    return f"{uuid.uuid4().hex}:{os.getpid()}"


os.environ[RUN_MARK] = _run_mark()


def processes_marked(variable: str = SESSION_MARK) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every live process but this one whose environment
    carries this process's value of ``variable``."""
    mark = f"{variable}={os.environ[variable]}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (
                (entry / "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile, or not ours to read
        if fields[0] != "Z":  # a zombie is dead already; its parent reaps it
            found.append((int(entry.name), int(fields[1]), cmdline))
    return found


def processes_of_this_session() -> list[tuple[int, str]]:
    """(pid, command line) of every live process started by this test session but itself."""
    return [(pid, cmd) for pid, _, cmd in processes_marked(SESSION_MARK)]


class _Survivors:
    """Fails the run if a process the suite started is still alive at its end (a fixture that
    did not stop it), after killing it so that nothing outlives the run.

    Under pytest-xdist each worker checks the processes its own tests started (they carry the
    worker's own mark) and hands what it found to the controller, which runs no test itself and
    fails the run there (a worker's own exit status does not decide the run's). The controller
    then looks for what a worker that died (a test past its timeout) left behind: any process
    with the run's mark that is not one of its own workers.
    """

    WORKER_OUTPUT = "pathway_survivors"

    def __init__(self) -> None:
        self.found: list[str] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        self.found += getattr(node, "workeroutput", {}).get(self.WORKER_OUTPUT, [])

    @staticmethod
    def _killed(survivors: list[tuple[int, str]]) -> list[str]:
        for pid, _ in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return [f"pid {pid}: {cmd[:200]}" for pid, cmd in survivors]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not session.config.pluginmanager.hasplugin("dsession"):  # this process ran tests
            self.found += self._killed(processes_of_this_session())
            workeroutput = getattr(session.config, "workeroutput", None)
            if workeroutput is not None:
                workeroutput[self.WORKER_OUTPUT] = self.found
                return
        else:  # the xdist controller: orphans of workers that died
            self.found += self._killed(
                [(pid, cmd) for pid, ppid, cmd in processes_marked(RUN_MARK) if ppid != os.getpid()]
            )
        if self.found:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.found:
            terminalreporter.section("processes left running", red=True)
            terminalreporter.write_line(
                "started by the suite and still running at its end (now killed):"
            )
            for line in self.found:
                terminalreporter.write_line(f"  {line}")


@pytest.fixture(autouse=True, scope="session")
def _no_state_in_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Anything that falls back to the embedded default's state directory writes to a
    temporary one, never to ./var of the checkout."""
    previous = os.environ.get("PATHWAY_VAR")
    os.environ["PATHWAY_VAR"] = str(tmp_path_factory.mktemp("var"))
    yield
    if previous is None:
        del os.environ["PATHWAY_VAR"]
    else:
        os.environ["PATHWAY_VAR"] = previous


@pytest.fixture
def cli_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The state directory `pathway dev` would have made (pepper and a master key), as
    ``PATHWAY_VAR``: CLI commands refuse to run without one and never make one themselves."""
    from pathway.privacy.keys import create_master_key

    var = tmp_path / "state"
    var.mkdir(mode=0o700)
    create_master_key(var / "master-keys")
    (var / "id-pepper").write_text("ab" * 32)
    monkeypatch.setenv("PATHWAY_VAR", str(var))
    for name in ("PATHWAY_ID_PEPPER", "PATHWAY_MASTER_KEYS", "PATHWAY_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    return var


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Leave logging as it was: other tests must not write through a handler a test set up."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest_asyncio.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping test server per test, so skipped time never leaks between tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path()),
        data_converter=data_converter(TEST_KEYS),
    )
    async with env:
        yield env


# -- fault-injection reports --------------------------------------------------------------------
_FAULT_PROPERTY = "fault_report"


@pytest.fixture
def fault_report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[FaultReport], None]:
    """Record a fault test's report: shown in the terminal summary (also without ``-s``, also
    from an xdist worker: it travels in the test's report) and appended to
    ``fault-reports.txt`` in pytest's base temporary directory."""

    def record(report: FaultReport) -> None:
        line = f"{request.node.nodeid}: {report.line()}"
        request.node.user_properties.append((_FAULT_PROPERTY, line))
        with (tmp_path_factory.getbasetemp() / "fault-reports.txt").open("a") as out:
            out.write(line + "\n")

    return record


class _FaultReports:
    """Collects fault reports where the terminal summary is written (the xdist controller, or
    the one process of a plain run) and prints them there, one line per fault test."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.lines += [
                str(value) for name, value in report.user_properties if name == _FAULT_PROPERTY
            ]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.lines:
            terminalreporter.section("fault injection")
            for line in self.lines:
                terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_FaultReports(), "pathway-fault-reports")
    config.pluginmanager.register(_Survivors(), "pathway-survivors")
