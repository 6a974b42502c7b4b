"""Open and overdue obligations per organisation: a gauge is a stock, which no case can count
for the others, so the case worker counts them every ``PATHWAY_METRICS_CENSUS_SECONDS``
(default 60 s) and reports through its runtime's meter (:func:`run_census`).

- ``pathway_obligations_open{organisation}``: open obligations the organisation owns, across
  running cases.
- ``pathway_obligations_overdue{organisation}``: those of them past their due time.
- ``pathway_obligation_census_cases``: running cases the last count read.
- ``pathway_obligation_census_failures_total``: cases the count could not read (busy, erased
  while it ran) and counts that failed as a whole.

Every organisation gets a value (0 too), so an alert on ``overdue > 0`` clears when the last
overdue obligation closes. Cost: one visibility listing and one state query per running case
per count, with at most :data:`CONCURRENT_QUERIES` at once (docs/metrics.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import Runtime

from pathway.clients.cases import case_state
from pathway.domain.organisations import Organisation
from pathway.domain.state import CaseState, Obligation
from pathway.metrics import census_interval

__all__ = [
    "CONCURRENT_QUERIES",
    "Census",
    "count_obligations",
    "obligation_census",
    "run_census",
    "take_census",
]

log = structlog.stdlib.get_logger(__name__)

#: State queries a count has in flight at once: the workers' own work comes first.
CONCURRENT_QUERIES: Final = 4
#: How long one case's state query may take before the count leaves the case out.
QUERY_TIMEOUT: Final = timedelta(seconds=30)
_RUNNING_CASES: Final = "WorkflowType = 'VictimCaseWorkflow' AND ExecutionStatus = 'Running'"


@dataclass(frozen=True)
class Census:
    """One count: open and overdue obligations per organisation, the cases read, failures."""

    open: dict[Organisation, int]
    overdue: dict[Organisation, int]
    cases: int
    failures: int


def count_obligations(obligations: Iterable[Obligation], now: datetime) -> Census:
    """Open and overdue (due before ``now``) ``obligations`` per owner; every organisation is
    present; ``cases`` and ``failures`` are 0. Pure."""
    open_: Counter[Organisation] = Counter()
    overdue: Counter[Organisation] = Counter()
    for obligation in obligations:
        if not obligation.is_open:
            continue
        open_[obligation.owner] += 1
        if obligation.due_at is not None and obligation.due_at < now:
            overdue[obligation.owner] += 1
    return Census(
        open={org: open_[org] for org in Organisation},
        overdue={org: overdue[org] for org in Organisation},
        cases=0,
        failures=0,
    )


async def take_census(client: Client) -> Census:
    """Count the obligations of every running case (:data:`_RUNNING_CASES`); a case whose
    state cannot be read is counted as a failure and left out."""
    gate = asyncio.Semaphore(CONCURRENT_QUERIES)
    failures = 0

    async def read(workflow_id: str) -> CaseState | None:
        nonlocal failures
        async with gate:
            try:
                async with asyncio.timeout(QUERY_TIMEOUT.total_seconds()):
                    return await case_state(client, workflow_id)
            except Exception as error:  # erased, closing, busy: the next count reads it
                failures += 1
                log.debug("census skipped a case", error=type(error).__name__)
                return None

    ids = [execution.id async for execution in client.list_workflows(_RUNNING_CASES)]
    # One workflow ID may be listed once per run; count each case once.
    read_states = await asyncio.gather(*(read(i) for i in dict.fromkeys(ids)))
    states = [state for state in read_states if state is not None]
    census = count_obligations(
        (o for state in states for o in state.open_obligations), datetime.now(UTC)
    )
    return Census(census.open, census.overdue, len(states), failures)


async def run_census(
    client: Client, meter: MetricMeter, interval: timedelta, stop: asyncio.Event
) -> None:
    """Count every ``interval`` (the first at once) and set the gauges on ``meter``, until
    ``stop`` is set. A failed count is logged and counted; the next one tries again."""
    open_gauge = meter.create_gauge(
        "pathway_obligations_open", "Open obligations an organisation owns", "obligations"
    )
    overdue_gauge = meter.create_gauge(
        "pathway_obligations_overdue",
        "Open obligations an organisation owns that are past their due time",
        "obligations",
    )
    cases_gauge = meter.create_gauge(
        "pathway_obligation_census_cases", "Running cases the last obligation count read", "cases"
    )
    failures = meter.create_counter(
        "pathway_obligation_census_failures",
        "Cases the obligation count could not read, and counts that failed",
    )
    while not stop.is_set():
        try:
            census = await take_census(client)
        except Exception as error:  # Temporal unreachable: keep the last values
            log.warning("obligation census failed", error=type(error).__name__)
            failures.add(1)
        else:
            for organisation in Organisation:
                labels = {"organisation": organisation.value}
                open_gauge.set(census.open[organisation], labels)
                overdue_gauge.set(census.overdue[organisation], labels)
            cases_gauge.set(census.cases)
            if census.failures:
                failures.add(census.failures)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval.total_seconds())


@contextlib.asynccontextmanager
async def obligation_census(client: Client, *, serve_cases: bool) -> AsyncIterator[None]:
    """Run :func:`run_census` while the block runs, in a case worker (``serve_cases``) whose
    client reports metrics (:func:`pathway.metrics.install_worker_runtime`); otherwise
    nothing. The interval is ``PATHWAY_METRICS_CENSUS_SECONDS``."""
    runtime = client.service_client.config.runtime or Runtime.default()
    meter = runtime.metric_meter
    if not serve_cases or meter is MetricMeter.noop:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run_census(client, meter, census_interval(), stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
