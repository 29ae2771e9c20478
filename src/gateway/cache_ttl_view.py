"""This process's copy of every PBucket's cache TTL (`ttl.cache_ttl`), for the read path.

Reads must not pay a Redis round trip, so the documents are held in memory: loaded at start,
replaced at once by this node's admin writes, and re-read every REFRESH seconds (how soon a
change made through another node applies here). A Redis outage keeps the last copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from ttl.cache_ttl import CacheTtl, CacheTtlStore

__all__ = ["REFRESH", "CacheTtlView"]

log = logging.getLogger("pcache.cache")

REFRESH = 1.0


class CacheTtlView:
    def __init__(self, store: CacheTtlStore, wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self._wall = wall
        self._documents: dict[str, CacheTtl] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            self._documents = await self.store.all()
        self._task = asyncio.create_task(self._refresh())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def written_after(self, pbucket: str, key: str) -> float | None:
        """Blocks of `key` written before this wall-clock time are past their cache TTL (None:
        no TTL applies)."""
        document = self._documents.get(pbucket)
        if document is None:
            return None
        seconds = document.seconds_for(key)
        return None if seconds is None else self._wall() - seconds

    def replaced(self, pbucket: str, document: CacheTtl | None) -> None:
        """This node changed a document: use it now, before the next refresh."""
        if document is None:
            self._documents.pop(pbucket, None)
        else:
            self._documents[pbucket] = document

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH)
            try:
                self._documents = await self.store.all()
            except (RedisError, OSError, ValueError) as err:
                log.warning("cache TTL: refresh failed (%s); keeping the last copy", err)
