"""Shared fixtures: Temporal environments started from the installed binaries (no downloads)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio
import structlog
from temporalio.testing import WorkflowEnvironment

from pathway.client import data_converter
from pathway.servers import test_server_path
from tests.faults import FaultReport
from tests.keys import TEST_KEYS


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
_FAULT_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture
def fault_report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[FaultReport], None]:
    """Record a fault test's report: shown in the terminal summary (also without ``-s``) and
    appended to ``fault-reports.txt`` in pytest's base temporary directory."""

    def record(report: FaultReport) -> None:
        line = f"{request.node.nodeid}: {report.line()}"
        request.config.stash.setdefault(_FAULT_REPORTS, []).append(line)
        with (tmp_path_factory.getbasetemp() / "fault-reports.txt").open("a") as out:
            out.write(line + "\n")

    return record


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The fault reports of this run, one line per fault test."""
    lines = config.stash.get(_FAULT_REPORTS, [])
    if lines:
        terminalreporter.section("fault injection")
        for line in lines:
            terminalreporter.write_line(line)
