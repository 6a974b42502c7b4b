"""What a case's stored history holds, the bare plan read off it, and replay speed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, WorkflowRunner


@dataclass(frozen=True)
class HistoryStats:
    """One history: its events, their bytes (protobuf, as stored), the payloads' bytes, the
    Temporal work in it, and its workflow tasks that timed out or failed (the worker did not
    answer in time, or answered with a failure: work the server schedules again)."""

    events: int
    bytes: int
    payload_bytes: int
    updates: int
    activities: int
    timers: int
    workflow_task_timeouts: int
    workflow_task_failures: int
    #: Workflow tasks the worker completed.
    workflow_tasks: int = 0
    #: Workflow tasks after the first one scheduled on the normal task queue, not the worker's
    #: sticky one: each hands a worker the whole history (a replay unless it still holds the
    #: run), which is what a sticky queue's schedule-to-start timeout or an eviction costs.
    normal_queue_tasks: int = 0


def payload_bytes(message: Message) -> int:
    """Bytes of every ``Payload`` inside ``message`` (data and metadata), at any depth."""
    total = 0
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        kind = field.message_type
        assert kind is not None  # a message field has a message type
        if kind.GetOptions().map_entry:
            value_field = kind.fields_by_name["value"]
            if value_field.type != value_field.TYPE_MESSAGE:
                continue
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            total += item.ByteSize() if isinstance(item, Payload) else payload_bytes(item)
    return total


def stats(history: WorkflowHistory) -> HistoryStats:
    """What ``history`` holds: counts of its events by kind, and its sizes."""
    kinds = [event.event_type for event in history.events]
    queues = [
        event.workflow_task_scheduled_event_attributes.task_queue.kind
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    ]
    return HistoryStats(
        events=len(history.events),
        bytes=sum(event.ByteSize() for event in history.events),
        payload_bytes=sum(payload_bytes(event) for event in history.events),
        updates=kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
        activities=kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        timers=kinds.count(EventType.EVENT_TYPE_TIMER_STARTED),
        workflow_task_timeouts=kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT),
        workflow_task_failures=kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
        workflow_tasks=kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        normal_queue_tasks=queues[1:].count(TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
    )


def plan_from_history(history: WorkflowHistory) -> tuple[list[int], list[bool]]:
    """Per accepted update: how many activities were scheduled after it (before the next one)
    and whether a timer was started after it."""
    activities: list[int] = []
    timed: list[bool] = []
    for event in history.events:
        match event.event_type:
            case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                activities.append(0)
                timed.append(False)
            case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED if activities:
                activities[-1] += 1
            case EventType.EVENT_TYPE_TIMER_STARTED if timed:
                timed[-1] = True
            case _:
                pass
    return activities, timed


def notifications_in(history: WorkflowHistory, activity_type: str = "notify") -> int:
    """How many ``notify`` activities the case scheduled: the lines it writes to the outbox
    (its other activities, such as ``record_statistics``, write none)."""
    return sum(
        event.activity_task_scheduled_event_attributes.activity_type.name == activity_type
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )


async def replay_seconds(
    histories: Sequence[WorkflowHistory],
    workflows: Sequence[type],
    converter: DataConverter,
    runner: WorkflowRunner,
) -> float:
    """Seconds one replayer takes to replay ``histories`` (each must replay cleanly), in the
    sandbox ``runner`` its side's worker runs (a worker replays a case it evicted from its
    cache the same way)."""
    replayer = Replayer(workflows=workflows, data_converter=converter, workflow_runner=runner)

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    started = time.perf_counter()
    results = await replayer.replay_workflows(each(), raise_on_replay_failure=True)
    elapsed = time.perf_counter() - started
    del results
    return elapsed
