"""One lane per case: a burst of events to one case waits its turn in the gateway instead of
overrunning Temporal's limit of in-flight updates per workflow (10 on the dev server).

At most ``in_flight`` events of a case are with Temporal at once from this process; up to
``queue`` more wait their turn, in order, for at most the wait given. Anything beyond, or a wait
that runs out, is :class:`~pathway.clients.cases.CaseBusy`: nothing was sent, so nothing was
recorded. Lanes live in memory, per process, and only while a request uses them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pathway.clients.cases import CaseBusy

__all__ = ["CaseLanes"]


@dataclass
class _Lane:
    slots: asyncio.Semaphore
    #: Requests holding or waiting for a slot; the lane is dropped when none is left.
    users: int = 0
    waiting: int = 0


class CaseLanes:
    """Per-case admission: ``in_flight`` at once, ``queue`` more waiting."""

    def __init__(self, in_flight: int, queue: int) -> None:
        if in_flight < 1 or queue < 0:
            raise ValueError("in_flight must be at least 1 and queue at least 0")
        self.in_flight = in_flight
        self.queue = queue
        self._lanes: dict[str, _Lane] = {}

    def waiting(self, case_id: str) -> int:
        """Requests waiting for a turn in ``case_id``'s lane now."""
        lane = self._lanes.get(case_id)
        return lane.waiting if lane else 0

    @contextlib.asynccontextmanager
    async def turn(self, case_id: str, wait: float) -> AsyncIterator[None]:
        """Inside, this request is one of the at most ``in_flight`` of the case with Temporal.

        Raises :class:`CaseBusy` at once if ``queue`` requests wait already, or once ``wait``
        seconds have passed without a turn."""
        lane = self._lanes.setdefault(case_id, _Lane(asyncio.Semaphore(self.in_flight)))
        if lane.slots.locked() and lane.waiting >= self.queue:
            self._drop_if_unused(case_id, lane)
            raise CaseBusy(case_id)
        lane.users += 1
        try:
            await self._acquire(case_id, lane, wait)
            try:
                yield
            finally:
                lane.slots.release()
        finally:
            lane.users -= 1
            self._drop_if_unused(case_id, lane)

    @staticmethod
    async def _acquire(case_id: str, lane: _Lane, wait: float) -> None:
        lane.waiting += 1
        try:
            async with asyncio.timeout(wait):
                await lane.slots.acquire()
        except TimeoutError:
            raise CaseBusy(case_id) from None
        finally:
            lane.waiting -= 1

    def _drop_if_unused(self, case_id: str, lane: _Lane) -> None:
        if lane.users == 0 and self._lanes.get(case_id) is lane:
            del self._lanes[case_id]
