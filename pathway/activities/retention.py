"""The retention sweep: erase the episodes of cases whose retention period is over (issue 12:
each episode by its own closure; never a key a running run uses, never a termination)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client

from pathway.privacy.erasure import erase_expired
from pathway.privacy.keys import KeyStore


class SweepRequest(BaseModel):
    retention: timedelta
    #: Only find what is due; destroy nothing (``pathway retention sweep --dry-run``).
    dry_run: bool = False


class SweptEpisode(BaseModel):
    """One episode the sweep erased (or would): pseudonymous IDs only, no personal data."""

    case_id: str
    episode: int
    run_id: str | None
    closed_at: datetime


class SweepReport(BaseModel):
    #: How many episodes were erased (or, with ``dry_run``, are due).
    erased: int
    episodes: list[SweptEpisode] = []
    dry_run: bool = False


class RetentionSweeper:
    """Holds the Temporal client (to list closed cases) and the key store (to destroy keys)."""

    def __init__(self, client: Client, store: KeyStore) -> None:
        self.client = client
        self.store = store

    def activities(self) -> list[Callable[..., Any]]:
        return [self.sweep_retention]

    @activity.defn(name="sweep_retention")
    async def sweep_retention(self, request: SweepRequest) -> SweepReport:
        return await sweep(self.client, self.store, request)


async def sweep(client: Client, store: KeyStore, request: SweepRequest) -> SweepReport:
    """Run the sweep once, now (the activity, and ``pathway retention sweep``)."""
    found = await erase_expired(
        client,
        store,
        retention=request.retention,
        now=datetime.now(UTC),
        dry_run=request.dry_run,
    )
    activity_log = activity.logger if activity.in_activity() else None
    if activity_log is not None:
        activity_log.info(
            "retention sweep done", extra={"erased": len(found), "dry_run": request.dry_run}
        )
    return SweepReport(
        erased=len(found),
        episodes=[
            SweptEpisode(
                case_id=e.case_id, episode=e.episode, run_id=e.run_id, closed_at=e.closed_at
            )
            for e in found
        ],
        dry_run=request.dry_run,
    )
