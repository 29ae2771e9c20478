"""Single-flight: concurrent misses of one key share one execution of the fetch (FLT-01).

The shared fetch runs as its own task and every caller awaits it through `asyncio.shield`, so a
caller that goes away (client disconnect = cancellation) leaves the fetch running for the other
callers and for the cache. An exception reaches every caller waiting at that moment and is not
remembered: the key is forgotten as the fetch finishes, so the next call fetches again (FLT-03,
no negative caching of a transient error). Results are not remembered either; that is the
cache's job.

One instance belongs to one event loop and is not thread-safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """`await sf.run(key, fetch)`: at most one `fetch()` in flight per key."""

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Task[V]] = {}
        self.runs = 0  # fetches started
        self.joins = 0  # calls that shared a fetch already in flight

    def __len__(self) -> int:
        """Fetches in flight now."""
        return len(self._flights)

    def running(self, key: K) -> bool:
        """Whether a fetch of `key` is in flight now."""
        flight = self._flights.get(key)
        return flight is not None and not flight.done()

    async def run(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        flight = self._flights.get(key)
        if flight is None or flight.done():
            flight = asyncio.ensure_future(self._lead(key, fetch))
            self._flights[key] = flight
            flight.add_done_callback(self._finished)
            self.runs += 1
        else:
            self.joins += 1
        return await asyncio.shield(flight)

    async def _lead(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        try:
            return await fetch()
        finally:
            # Forget the key before the result is delivered, so a caller arriving after a
            # failure starts a new fetch instead of receiving the old exception.
            if self._flights.get(key) is asyncio.current_task():
                del self._flights[key]

    @staticmethod
    def _finished(flight: asyncio.Task[V]) -> None:
        """Mark the outcome as retrieved: when every caller was cancelled, nobody awaits a
        failed fetch, and asyncio would log "exception was never retrieved"."""
        if not flight.cancelled():
            flight.exception()
