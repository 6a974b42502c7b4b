"""The bare side of the comparison: a workflow doing the same Temporal work as a Pathway case
with none of its domain, encryption or pydantic models.

It mirrors :class:`~pathway.workflows.case.VictimCaseWorkflow`'s shape: started by
update-with-start and waiting (with a timer) for its first update; updates with a validator;
a main loop that starts one activity task per pending notification (on several notification
queues, with the same timeout and retry policy) and sleeps until woken, with a timer after
the updates that Pathway's case had a deadline after. How many activities each update starts
and which updates are followed by a timed sleep is the :class:`BarePlan`, read off a Pathway
case's history by :func:`bench._history.plan_from_history`.

Module-level code only defines things: the workflow sandbox imports this module again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pathway.workflows.delivery import NOTIFY_RETRY, NOTIFY_TIMEOUT

#: How long a started case waits for its first update (Pathway: ``identification_wait``).
OPEN_WAIT = timedelta(hours=1)
#: The bare case's deadline: far enough never to fire during a run.
DEADLINE = timedelta(days=20)


@dataclass
class BarePlan:
    """What a bare case does: ``activities[i]`` activity tasks after update ``i``, a timed
    sleep after update ``i`` if ``timed[i]``, notifications spread over ``queues`` queues."""

    activities: list[int]
    timed: list[bool]
    queues: int
    queue_prefix: str
    deadline_seconds: float = DEADLINE.total_seconds()
    open_wait_seconds: float = OPEN_WAIT.total_seconds()


def notify_queue(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


@workflow.defn
class BareCaseWorkflow:
    """A case with no domain: updates, activity tasks and timers only."""

    @workflow.init
    def __init__(self, plan: BarePlan) -> None:
        self._plan = plan
        self._updates = 0
        self._issued = 0
        self._pending: list[int] = []
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._wake = False

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        try:
            await workflow.wait_condition(lambda: self._updates > 0, timeout=plan.open_wait_seconds)
        except TimeoutError:
            return 0
        while True:
            for number in self._pending:
                self._in_flight[number] = asyncio.create_task(self._notify(number))
            self._pending.clear()
            self._wake = False
            if plan.timed[min(self._updates, len(plan.timed)) - 1]:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self._wake, timeout=plan.deadline_seconds)
            else:
                await workflow.wait_condition(lambda: self._wake)

    async def _notify(self, number: int) -> None:
        await workflow.execute_activity(
            "bare_notify",
            f"n-{number}",
            task_queue=notify_queue(self._plan.queue_prefix, number % self._plan.queues),
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
            result_type=str,
        )
        del self._in_flight[number]
        self._wake = True

    @workflow.update
    def record(self, event: str) -> str:
        """Count the update and queue its activities; answer a short acknowledgement."""
        index = min(self._updates, len(self._plan.activities) - 1)
        self._updates += 1
        for _ in range(self._plan.activities[index]):
            self._issued += 1
            self._pending.append(self._issued)
        self._wake = True
        return f"ok {event} {self._updates}"

    @record.validator
    def _validate(self, event: str) -> None:
        if not event:
            raise ValueError("empty event")

    @workflow.query
    def unsettled(self) -> int:
        """Activities not yet completed."""
        return len(self._pending) + len(self._in_flight)


class BareActivities:
    """The bare notification: one line appended (and fsynced) to a file from a thread, as
    Pathway's outbox channel does."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def activities(self) -> list[Callable[..., Any]]:
        return [self.notify, self.idle]

    @activity.defn(name="bare_notify")
    async def notify(self, notification: str) -> str:
        line = json.dumps({"notification": notification, "attempt": activity.info().attempt})
        await asyncio.to_thread(self._append, line.encode() + b"\n")
        return "delivered"

    def _append(self, line: bytes) -> None:
        with self.outbox.open("ab") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    @activity.defn(name="bare_case_queue_activity")
    async def idle(self) -> None:
        """Never called: registered so that the case worker polls for activity tasks too, as
        Pathway's case worker does (retention and linked-case activities)."""
