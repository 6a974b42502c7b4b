"""The bench's teardown is bounded: a teardown that hangs fails its own test, naming what it
waited on, instead of stalling the run (busy CI at c08db18: a `service` fixture's teardown
waited more than 11 minutes and pytest-timeout's signal method did not end it)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests import harness


async def _never_finishes() -> None:
    await asyncio.Event().wait()


async def test_a_hung_teardown_fails_with_the_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack whose exit never finishes fails with TeardownHung within the bound, naming what
    was being torn down and the coroutine it waited in."""
    monkeypatch.setattr(harness, "TEARDOWN_BOUND", 0.5)
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(_never_finishes)
    with pytest.raises(harness.TeardownHung, match=r"the planted hang: teardown did not") as err:
        await asyncio.wait_for(harness.close_within(stack, "the planted hang"), timeout=60)
    assert "_never_finishes" in str(err.value)
    assert "--- thread MainThread" in str(err.value)


async def test_a_teardown_that_finishes_runs_every_exit() -> None:
    """Within the bound, every callback runs (last in, first out) and nothing is raised."""
    ran: list[str] = []
    stack = contextlib.AsyncExitStack()
    stack.callback(ran.append, "first")
    stack.callback(ran.append, "second")
    await harness.close_within(stack, "a quick teardown")
    assert ran == ["second", "first"]


async def test_an_exit_that_fails_fails_the_teardown() -> None:
    """An exception from an exit propagates as itself (not as a hang)."""

    def fail() -> None:
        raise RuntimeError("exit failed")

    stack = contextlib.AsyncExitStack()
    stack.callback(fail)
    with pytest.raises(RuntimeError, match="exit failed"):
        await harness.close_within(stack, "a failing teardown")
