"""One read of a case's state at a time per case: requests that ask while a read is in flight
share its answer, or its error (a burst of 50 events to one case makes one query, not 50, before
any of them takes its place in the case's lane).

Sharing a read is safe for what it decides: who may read, and who gets a place in the lane. What
an event is recorded under is checked again by the case itself, atomically with recording it
(:func:`pathway.access.policy.send_refusal` in the case workflow's update validator), so an
answer that is a query's flight time old never lets a removed member record anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedReads"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SharedReads(Generic[K, T]):
    """``get(key)``: ``read(key)``, shared by every caller that asks while it is in flight.

    A caller that gives up (its own timeout, a closed connection) leaves the read running for
    the others; a read nobody waits for any more ends on its own and is forgotten."""

    def __init__(self, read: Callable[[K], Awaitable[T]]) -> None:
        self._read = read
        self._in_flight: dict[K, asyncio.Future[T]] = {}

    def in_flight(self) -> int:
        """Reads running now."""
        return len(self._in_flight)

    async def get(self, key: K) -> T:
        """The value ``read(key)`` returns (or raises), from the read in flight for ``key`` if
        there is one, else from a new one."""
        future = self._in_flight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._read(key))
            self._in_flight[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(future)

    def _forget(self, key: K, done: asyncio.Future[T]) -> None:
        if self._in_flight.get(key) is done:
            del self._in_flight[key]
        if not done.cancelled():
            done.exception()  # retrieved: an error nobody waited for is not reported as lost
