"""What a bench worker's Temporal SDK counted: its Prometheus endpoint, read before and after a
phase (issue 14, docs/performance.md "What remains").

A worker started with ``--metrics HOST:PORT`` (:mod:`bench._worker`) reports through the SDK's
own exporter (:func:`pathway.metrics.worker_runtime`: counters with ``_total``, durations in
seconds). The history of a case holds the workflow tasks that completed; the SDK's counters
also hold the tasks the worker was handed and whose completion left no event (a speculative
workflow task for an update that the server dropped, a task that timed out while it ran) and
the query tasks. :func:`workflow_task_counts` reads the counters that tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: sdk-core's metric names (``temporal_`` prefix, ``_total`` on counters, ``_count`` on
#: histograms: as read from its exporter at temporalio 1.x), each a count of tasks of one kind.
POLLED = "temporal_workflow_task_queue_poll_succeed_total"
EXECUTED = "temporal_workflow_task_execution_latency_count"
FAILED = "temporal_workflow_task_execution_failed_total"
CACHE_MISSES = "temporal_sticky_cache_miss_total"


def parse(text: str) -> dict[str, float]:
    """Prometheus text → the sum over all label sets of each counter sample and histogram
    ``_count`` sample, by sample name (``{"temporal_..._total": 12.0, ...}``). Gauges, buckets
    and sums are left out. Raises ``ValueError`` (the parser's) for text that is not in the
    exposition format."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.type not in ("counter", "histogram"):
            continue
        for sample in family.samples:
            if family.type == "histogram" and not sample.name.endswith("_count"):
                continue
            if family.type == "counter" and not sample.name.endswith("_total"):
                continue  # the ``_created`` sample of a counter
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


async def scrape(address: str) -> dict[str, float]:
    """:func:`parse` of ``http://<address>/metrics``. Raises ``httpx.HTTPError``."""
    async with httpx.AsyncClient(timeout=30.0) as client:
        response = await client.get(f"http://{address}/metrics")
        response.raise_for_status()
        return parse(response.text)


def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """``after - before`` for each sample in ``after`` (a sample first seen after counts from
    zero)."""
    return {name: value - before.get(name, 0.0) for name, value in after.items()}


@dataclass(frozen=True)
class WorkflowTaskCounts:
    """A phase's workflow tasks as the worker's SDK counted them."""

    #: sdk-core's ``workflow_task_queue_poll_succeed`` (polls that returned a task; in the
    #: bench about one per update, fewer than the tasks run: not every task is counted here).
    polled: float
    #: Run to an answer sent to the server: the workflow tasks and the query tasks the worker
    #: ran (in the bench, a phase's history tasks plus its status queries, when none is lost).
    executed: float
    #: Failed in the worker (a workflow task failure, retried by the server).
    failed: float
    #: Tasks for a run that was not in the worker's cache.
    cache_misses: float


def workflow_task_counts(change: Mapping[str, float]) -> WorkflowTaskCounts:
    """The counts of :class:`WorkflowTaskCounts` in a :func:`delta`; 0 for a counter the
    SDK never reported (it creates each on first use)."""
    return WorkflowTaskCounts(
        polled=change.get(POLLED, 0.0),
        executed=change.get(EXECUTED, 0.0),
        failed=change.get(FAILED, 0.0),
        cache_misses=change.get(CACHE_MISSES, 0.0),
    )
