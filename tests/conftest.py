"""Shared fixtures: Temporal environments started from the installed binaries (no downloads)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from pathway.client import data_converter
from pathway.servers import test_server_path
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


@pytest_asyncio.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping test server per test, so skipped time never leaks between tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path()),
        data_converter=data_converter(TEST_KEYS),
    )
    async with env:
        yield env
