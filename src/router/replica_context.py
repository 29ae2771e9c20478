"""Per-process state the `replicate` views share: views are built per request, so the latency
book, the repair queue handle and the writes still finishing after a quorum answered live here
(one instance, owned by the `Router`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from router.repair_queue import RepairQueue
from router.replica_math import LatencyBook

__all__ = ["ReplicaContext", "ReplicaSettings"]

log = logging.getLogger("pcache.replicate")


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    #: targets whose `region` label equals this are read first (None: latency only)
    region_affinity: str | None = None
    #: chunks buffered per target while one upload body streams to all targets
    tee_depth: int = 8
    #: a target that takes no body bytes for this long is dropped from the upload
    stall_timeout: float = 30.0
    #: how long per-part ETags of an open multipart upload are kept in Redis
    upload_ttl: int = 7 * 86400
    #: at shutdown, seconds writes still in flight get to finish before they are cancelled
    close_wait: float = 5.0


class ReplicaContext:
    def __init__(
        self,
        redis: Redis,
        settings: ReplicaSettings | None = None,
        *,
        latency: LatencyBook | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings or ReplicaSettings()
        self.latency = latency or LatencyBook()
        self.queue = RepairQueue(redis)
        self._pending: set[asyncio.Future[Any]] = set()
        # (pbucket, key, target) -> that target's latest write of the key, while it runs: a
        # newer write of the key waits for it there, so a lagging target applies a key's
        # writes in order (a PUT answered by the quorum, then a DELETE, must not land as
        # DELETE then PUT on the target still working on the PUT).
        self.inflight: dict[tuple[str, str, int], asyncio.Future[Any]] = {}
        #: pbucket -> "queued" (stream length at the repair worker's last scan) and counters
        #: "done", "failed" (attempts), "superseded", "dropped"; read by /metrics
        self.repair_stats: dict[str, dict[str, int]] = {}

    def running_write(self, slot: tuple[str, str, int]) -> asyncio.Future[Any] | None:
        """The write of (pbucket, key, target) still running there, if any."""
        previous = self.inflight.get(slot)
        return previous if previous is not None and not previous.done() else None

    def running(self, slot: tuple[str, str, int], task: asyncio.Future[Any]) -> None:
        self.inflight[slot] = task

        def forget(done: asyncio.Future[Any]) -> None:
            if self.inflight.get(slot) is done:
                del self.inflight[slot]

        task.add_done_callback(forget)

    def background(self, work: Awaitable[Any]) -> None:
        """Run `work` past the response (writes still in flight after the quorum answered,
        read repairs); a reference is kept so the task is not collected mid-way."""
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("replicate background work failed: %r", task.exception())

    async def close(self) -> None:
        """Let stragglers finish (each enqueues its own repair when it fails), then cancel."""
        if not self._pending:
            return
        _, pending = await asyncio.wait(set(self._pending), timeout=self.settings.close_wait)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
