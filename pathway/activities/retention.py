"""The retention sweep: erase closed cases whose retention period is over."""

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


class SweepReport(BaseModel):
    erased: int


class RetentionSweeper:
    """Holds the Temporal client (to list closed cases) and the key store (to destroy keys)."""

    def __init__(self, client: Client, store: KeyStore) -> None:
        self.client = client
        self.store = store

    def activities(self) -> list[Callable[..., Any]]:
        return [self.sweep_retention]

    @activity.defn(name="sweep_retention")
    async def sweep_retention(self, request: SweepRequest) -> SweepReport:
        erased = await erase_expired(
            self.client, self.store, retention=request.retention, now=datetime.now(UTC)
        )
        activity.logger.info("retention sweep done", extra={"erased": len(erased)})
        return SweepReport(erased=len(erased))
