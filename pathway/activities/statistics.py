"""The ``record_statistics`` activity: the case workflow's facts, anonymised, into the statistics
ledger (issue 15 item 1; docs/statistics.md).

The workflow computes the facts (:func:`pathway.domain.ledger.statistics_facts`, pure); this
activity only anonymises them under the ledger secret (:func:`pathway.domain.ledger.anonymise`)
and stores them. Storing is idempotent (one record per ``record_id``), so a retry after a lost
answer, a replayed case or the next run of a case that continued as new stores nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity

from pathway.domain.ledger import StatisticsBatch, anonymise
from pathway.statistics_ledger import StatisticsLedger

log = structlog.stdlib.get_logger("pathway.statistics")


class StatisticsRecorder:
    """Holds the ledger and its secret (32 bytes; never in a workflow or its history).

    Register with ``Worker(..., activities=StatisticsRecorder(ledger, secret).activities())``
    on the case task queue (the case schedules the activity on its own queue)."""

    def __init__(self, ledger: StatisticsLedger, secret: bytes) -> None:
        self.ledger = ledger
        self.secret = secret

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.record_statistics]

    def store(self, batch: StatisticsBatch) -> int:
        """Anonymise and store ``batch``; returns how many records were new (the store's error
        if it cannot be written)."""
        return self.ledger.write([anonymise(fact, self.secret) for fact in batch.facts])

    @activity.defn(name="record_statistics")
    async def record_statistics(self, batch: StatisticsBatch) -> int:
        """Store the batch's facts as anonymised records; returns how many were new (0 on a
        retry after success). A store that cannot be written raises: Temporal retries."""
        new = await asyncio.to_thread(self.store, batch)
        # Counts only: never a case ID, a category of the person or a date.
        log.info("statistics recorded", facts=len(batch.facts), new=new)
        return new
