"""The parts of ``python -m bench`` that need no server (issue 14): what it counts in a
history, what it prints of that, how it reads its flags, and which side goes first.

Pure: histories are built from event types, the flags parsed by the bench's own parser.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.history.v1 import HistoryEvent, WorkflowTaskScheduledEventAttributes
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.client import WorkflowHistory

import bench.__main__ as bench_main
from bench import _sdk_metrics
from bench.__main__ import _parser, _sizes
from bench._history import stats
from bench._report import Figure, percentile, task_lines
from bench._run import SMOKE, Results, Round, Sizes, pair_order
from bench._workload import SEND_ATTEMPTS, PathwaySide
from pathway.clients import cases

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


def scheduled(kind: TaskQueueKind.ValueType) -> HistoryEvent:
    return HistoryEvent(
        event_type=E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        workflow_task_scheduled_event_attributes=WorkflowTaskScheduledEventAttributes(
            task_queue=TaskQueue(name="q", kind=kind)
        ),
    )


def test_stats_count_completed_tasks_and_those_from_the_normal_queue() -> None:
    """A case's first workflow task always comes from the normal queue; a later one does only
    when the sticky queue was given up (the worker then gets the whole history)."""
    normal, sticky = TaskQueueKind.TASK_QUEUE_KIND_NORMAL, TaskQueueKind.TASK_QUEUE_KIND_STICKY
    done = HistoryEvent(event_type=E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    events = [scheduled(normal), done, scheduled(sticky), done, scheduled(normal), done]
    got = stats(WorkflowHistory("wf-bench-test", events))
    assert (got.workflow_tasks, got.normal_queue_tasks) == (3, 1)
    first_only = stats(WorkflowHistory("wf-bench-test", [scheduled(normal), done]))
    assert (first_only.workflow_tasks, first_only.normal_queue_tasks) == (1, 0)


def test_task_lines_print_counts_per_mode_and_side() -> None:
    """Printed as counts under the table (a ratio would divide by bare's usual 0), with the
    tasks per case and the worker's CPU per task (more tasks, or dearer ones)."""
    results = Results(Sizes())

    def counts(timed_out: int, failed: int, completed: int, normal: int) -> dict[str, int]:
        return {
            "cases": 80,
            "timed_out": timed_out,
            "failed": failed,
            "completed": completed,
            "normal_queue": normal,
            "events": 7000,
        }

    results.workflow_tasks = {
        "sqlite": {"pathway": counts(4, 1, 960, 3), "bare": counts(0, 0, 880, 0)},
        "memory": {"pathway": counts(0, 0, 920, 0), "bare": counts(2, 0, 900, 1)},
    }
    for mode, side, worker in [
        ("sqlite", "pathway", 9.6),
        ("sqlite", "pathway", 9.6),
        ("sqlite", "bare", 8.8),
        ("memory", "pathway", 13.8),
        ("memory", "bare", 9.0),
    ]:
        results.rounds.append(Round(side, mode, 0, [0.0] * 3, cpu_seconds={"worker": worker}))
    head = "workflow tasks timed out / failed"
    per = "workflow tasks per case"
    assert task_lines(results) == [
        f"{head}, sqlite: Pathway 4 / 1 in 80 cases, bare 0 / 0 in 80 cases",
        f"{per}, sqlite: Pathway 12.0 (3 from the normal queue), 20.0 ms worker CPU each, "
        "bare 11.0 (0 from the normal queue), 10.0 ms worker CPU each",
        f"{head}, memory: Pathway 0 / 0 in 80 cases, bare 2 / 0 in 80 cases",
        f"{per}, memory: Pathway 11.5 (0 from the normal queue), 15.0 ms worker CPU each, "
        "bare 11.2 (1 from the normal queue), 10.0 ms worker CPU each",
    ]


def sizes_of(*argv: str) -> Sizes:
    return _sizes(_parser().parse_args(list(argv)))


def test_smoke_takes_explicit_flags_over_its_sizes() -> None:
    """``--smoke --modes memory`` runs memory only (it ran both modes, silently); the sizes
    not given stay the smoke ones."""
    assert sizes_of("--smoke") == SMOKE
    got = sizes_of("--smoke", "--modes", "memory", "--rounds", "2", "--no-gateway")
    assert got == replace(SMOKE, modes=("memory",), rounds=2, gateway=False)
    assert sizes_of() == Sizes()
    assert sizes_of("--cases", "7", "--modes", "memory,sqlite") == replace(
        Sizes(), cases=7, modes=("memory", "sqlite")
    )


@pytest.mark.parametrize(
    "flag",
    [
        "--cases",
        "--concurrency",
        "--seq-cases",
        "--senders",
        "--sender-cases",
        "--rounds",
        "--rss-cases",
        "--replay-cases",
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_counts_not_above_zero_are_refused_by_argparse(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--rounds 0`` (or any count <= 0, or not a number) is a usage error naming the flag
    (exit 2), not an assert failing later in the run."""
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args([flag, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: " in err
    assert "is not above 0" in err or "is not a whole number" in err


@pytest.mark.parametrize("modes", ["disk", "memory,memory", ""])
def test_unknown_or_repeated_modes_are_refused_by_argparse(
    modes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(["--modes", modes])
    assert stopped.value.code == 2
    assert "argument --modes: " in capsys.readouterr().err


def test_rounds_alternate_which_side_goes_first() -> None:
    """A/B, B/A, A/B, ...: drifting load does not always land on the same side; round 0 starts
    with Pathway, whose first warm-up case gives bare its plan."""
    assert [pair_order(n) for n in range(4)] == [
        ("pathway", "bare"),
        ("bare", "pathway"),
        ("pathway", "bare"),
        ("bare", "pathway"),
    ]


def test_repeats_are_printed_per_mode_and_side() -> None:
    results = Results(Sizes())
    results.repeats = {"memory": {"pathway": 2, "bare": 0}}
    assert task_lines(results) == [
        "events sent again after no answer in time, memory: Pathway 2, bare 0"
    ]


class TestSendAgain:
    """An event with no answer in time is sent again, the same event, at most SEND_ATTEMPTS
    times in all (the client's OutcomeUnknown says a repeat answers the first result)."""

    @staticmethod
    def side(monkeypatch: pytest.MonkeyPatch, silent: int) -> tuple[PathwaySide, list[str]]:
        sent: list[str] = []

        async def record_event(client: Any, case_id: str, event: Any) -> None:
            sent.append(event.event_id)
            if len(sent) <= silent:
                raise cases.OutcomeUnknown(case_id)

        monkeypatch.setattr(cases, "record_event", record_event)
        side = PathwaySide(client=None, tokens={})  # type: ignore[arg-type]
        side._ids["c"] = "case-x"
        return side, sent

    async def test_a_silent_answer_is_sent_again_and_counted(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        side, sent = self.side(monkeypatch, silent=2)
        await side.send("c", 3)
        assert len(sent) == 3 and len(set(sent)) == 1  # the same event_id each time
        assert side.repeats == 2

    async def test_after_the_last_attempt_the_error_stands(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        side, sent = self.side(monkeypatch, silent=SEND_ATTEMPTS)
        with pytest.raises(cases.OutcomeUnknown):
            await side.send("c", 3)
        assert len(sent) == SEND_ATTEMPTS
        assert side.repeats == SEND_ATTEMPTS - 1


@pytest.mark.parametrize("where", ["a directory", "under a file"])
def test_an_out_path_it_cannot_write_is_refused_before_the_run(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out`` is checked when the bench starts (a usage error, exit 2), not after a run of
    an hour whose results it then could not write: the run never starts."""
    started: list[object] = []
    monkeypatch.setattr(bench_main, "run", lambda *args: started.append(args))
    if where == "a directory":
        out = tmp_path
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "sub" / "out.json"
    with pytest.raises(SystemExit) as stopped:
        bench_main.main(["--smoke", "--out", str(out)])
    assert stopped.value.code == 2
    assert f"--out {out}: not a file this user can write" in capsys.readouterr().err
    assert started == []


# -- the SDK's counters (bench._sdk_metrics) ---------------------------------------------------
SDK_TEXT = """\
# HELP temporal_workflow_task_execution_latency Histogram of workflow task execution latencies
# TYPE temporal_workflow_task_execution_latency histogram
temporal_workflow_task_execution_latency_bucket{task_queue="a",le="0.1"} 3
temporal_workflow_task_execution_latency_bucket{task_queue="a",le="+Inf"} 4
temporal_workflow_task_execution_latency_sum{task_queue="a"} 0.5
temporal_workflow_task_execution_latency_count{task_queue="a"} 4
temporal_workflow_task_execution_latency_bucket{task_queue="b",le="+Inf"} 2
temporal_workflow_task_execution_latency_sum{task_queue="b"} 0.1
temporal_workflow_task_execution_latency_count{task_queue="b"} 2
# HELP temporal_sticky_cache_miss_total Count of sticky cache misses
# TYPE temporal_sticky_cache_miss_total counter
temporal_sticky_cache_miss_total{task_queue="a"} 1
# HELP temporal_sticky_cache_size Current cache size
# TYPE temporal_sticky_cache_size gauge
temporal_sticky_cache_size{task_queue="a"} 7
"""


def test_sdk_counts_sum_counters_and_histogram_counts_over_labels() -> None:
    """Histogram counts and counters are summed over their label sets; buckets, sums and
    gauges are not counts of tasks and are left out."""
    assert _sdk_metrics.parse(SDK_TEXT) == {
        "temporal_workflow_task_execution_latency_count": 6.0,
        "temporal_sticky_cache_miss_total": 1.0,
    }


def test_sdk_counts_of_a_phase_are_the_change_and_absent_counters_are_zero() -> None:
    before = {_sdk_metrics.EXECUTED: 10.0, _sdk_metrics.POLLED: 4.0}
    after = {_sdk_metrics.EXECUTED: 25.0, _sdk_metrics.POLLED: 4.0, _sdk_metrics.FAILED: 1.0}
    change = _sdk_metrics.delta(before, after)
    assert change == {
        _sdk_metrics.EXECUTED: 15.0,
        _sdk_metrics.POLLED: 0.0,
        _sdk_metrics.FAILED: 1.0,
    }
    assert _sdk_metrics.workflow_task_counts(change) == _sdk_metrics.WorkflowTaskCounts(
        polled=0.0, executed=15.0, failed=1.0, cache_misses=0.0
    )


# -- percentiles and ratios (bench._report) ----------------------------------------------------
@pytest.mark.parametrize(
    ("n", "p", "rank"),
    [
        (16, 95, 16),
        (160, 99, 159),
        (100, 50, 50),
        (101, 50, 51),
        (1, 99, 1),
        (20, 95, 19),
        (3, 50, 2),
    ],
)
def test_percentile_is_the_nearest_rank(n: int, p: float, rank: int) -> None:
    """Nearest rank: the smallest value with at least p % of the values at or below it, rank
    ceil(p/100 * n) (not rounded: p99 of 160 is the 159th, p95 of 16 the 16th)."""
    values = [float(v) for v in range(n, 0, -1)]  # n..1, unsorted on purpose
    assert percentile(values, p) == rank


def test_a_ratio_over_a_figure_not_above_zero_is_none_and_printed_na() -> None:
    assert Figure("rss_kib_per_cached_case", "memory", 10.0, 4.0).ratio == 2.5
    assert Figure("rss_kib_per_cached_case", "memory", -22.5, -12.1).ratio is None
    assert Figure("rss_kib_per_cached_case", "memory", 3.0, 0.0).ratio is None
