"""The parts of ``python -m bench`` that need no server (issue 14): what it counts in a
history and what it prints of that.

Pure: histories are built from event types.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from bench._history import stats
from bench._report import task_lines
from bench._run import Results, Sizes

E = EventType


def history(*kinds: EventType.ValueType) -> WorkflowHistory:
    return WorkflowHistory(
        "wf-bench-test",
        [HistoryEvent(event_id=i + 1, event_type=kind) for i, kind in enumerate(kinds)],
    )


def test_stats_count_workflow_tasks_that_timed_out_or_failed() -> None:
    """A workflow task the worker answered too late, or with a failure, is counted per case
    (the issue's 4 timed-out tasks in 40 cases went unseen before)."""
    got = stats(
        history(
            E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
            E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            E.EVENT_TYPE_WORKFLOW_TASK_FAILED,
            E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
            E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            E.EVENT_TYPE_TIMER_STARTED,
        )
    )
    assert (got.workflow_task_timeouts, got.workflow_task_failures) == (2, 1)
    assert (got.events, got.timers, got.updates, got.activities) == (14, 1, 0, 0)
    clean = stats(history(E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED))
    assert (clean.workflow_task_timeouts, clean.workflow_task_failures) == (0, 0)


def test_task_lines_print_counts_per_mode_and_side() -> None:
    """Printed as counts under the table (a ratio would divide by bare's usual 0)."""
    results = Results(Sizes())
    results.workflow_tasks = {
        "sqlite": {
            "pathway": {"cases": 80, "timed_out": 4, "failed": 1},
            "bare": {"cases": 80, "timed_out": 0, "failed": 0},
        },
        "memory": {
            "pathway": {"cases": 80, "timed_out": 0, "failed": 0},
            "bare": {"cases": 80, "timed_out": 2, "failed": 0},
        },
    }
    head = "workflow tasks timed out / failed"
    assert task_lines(results) == [
        f"{head}, sqlite: Pathway 4 / 1 in 80 cases, bare 0 / 0 in 80 cases",
        f"{head}, memory: Pathway 0 / 0 in 80 cases, bare 2 / 0 in 80 cases",
    ]
