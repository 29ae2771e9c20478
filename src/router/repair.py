"""The repair worker: brings targets that missed a `replicate` write back in line.

Every node runs one. All nodes read the PBuckets' repair streams (`router.repair_queue`) in one
consumer group, so each entry goes to one node; an entry is acknowledged (and deleted, so the
stream length is the queue length) only after its repair succeeded. A node that dies leaves
its entries pending: after `claim_idle` seconds another node takes them over (XAUTOCLAIM). A
node keeps the entries it holds fresh (XCLAIM to itself) so a slow backlog is not stolen.

A repair reconciles rather than replays: it reads the source target's state *now* and makes
the missed target match it: copy the current version (server-side on one upstream, else
streamed through this node, with If-Match on the source's ETag so a copy never mixes two
versions), delete when the source no longer has the key, or copy tags. An entry a newer write
of the same key superseded is dropped (see `router.repair_queue`).

An entry is acknowledged only once a pass finds nothing to do at least `settle` seconds after
the target was first found (or put) in line, because a request the target had buffered while
it hung can still execute when it wakes (a "zombie" write) and undo the repair.

Backoff is per entry (exponential with jitter, capped). While a target's circuit breaker is
open its entries wait for the breaker's next probe time without touching the network, so a
vendor that stays down costs nothing but a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from redis.exceptions import RedisError, ResponseError

from router.errors import NoSuchPBucket, RouterError, UpstreamError, VendorUnavailable
from router.models import CompletedPart, Conditions, ObjectInfo, PutOptions
from router.pbucket import BucketView, options_from_info
from router.registry import Router
from router.repair_queue import GROUP, RepairEntry, stream_key
from router.replicate import ReplicateView

__all__ = ["RepairSettings", "RepairWorker"]

log = logging.getLogger("pcache.repair")


@dataclass(frozen=True, slots=True)
class RepairSettings:
    consumer: str  # unique per process (host-pid-random)
    batch: int = 64  # entries read per XREADGROUP
    concurrency: int = 8  # repairs in flight per node
    max_held: int = 512  # entries this node holds (waiting or running) before reading more
    base_backoff: float = 0.5
    max_backoff: float = 5.0
    claim_idle: float = 60.0  # seconds an entry may sit with a silent node before others take it
    scan_every: float = 5.0  # re-list PBuckets, claim stale entries, refresh our own
    block: float = 1.0  # longest XREADGROUP wait
    max_attempts: int = 100  # for definite errors only; "vendor down" is retried forever
    settle: float = 2.0  # a repair is checked again this much later before its entry is acked


@dataclass(order=True, slots=True)
class _Held:
    due: float
    seq: int
    pbucket: str = field(compare=False)
    msg_id: str = field(compare=False)
    entry: RepairEntry | None = field(compare=False)
    attempts: int = field(default=0, compare=False)
    #: when a pass last reached the target and found it in line (or put it in line)
    settled_from: float | None = field(default=None, compare=False)


class _Later(Exception):
    """Not now: retry after at least `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.delay = delay


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RepairWorker:
    def __init__(
        self,
        router: Router,
        settings: RepairSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.router = router
        self.redis = router.redis
        self.settings = settings
        self._clock = clock
        self._rng = rng
        self._heap: list[_Held] = []
        self._held: set[tuple[str, str]] = set()  # (pbucket, id) waiting or running
        self._running: set[asyncio.Task[None]] = set()
        self._seq = itertools.count()
        self._streams: list[str] = []  # replicate PBucket names
        self._next_scan = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: pbucket -> counter -> value (shared with /metrics through the router)
        self.counters = router.replicas.repair_stats

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pcache-repair")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    def _row(self, pbucket: str) -> dict[str, int]:
        return self.counters.setdefault(
            pbucket, {"queued": 0, "done": 0, "failed": 0, "superseded": 0, "dropped": 0}
        )

    def _count(self, pbucket: str, what: str) -> None:
        self._row(pbucket)[what] += 1

    async def queue_lengths(self) -> dict[str, int]:
        """PBucket -> entries in its repair stream (waiting, held or running)."""
        out: dict[str, int] = {}
        for name in self._streams:
            out[name] = int(await self.redis.xlen(stream_key(name)))
        return out

    # -- the loop ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await self._cycle()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("repair: redis unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)  # back-off while Redis is away
            except Exception:
                log.exception("repair: cycle failed")
                await asyncio.sleep(1.0)  # back-off so a bug does not spin the CPU

    async def _cycle(self) -> None:
        now = self._clock()
        if now >= self._next_scan:
            await self._scan()
            self._next_scan = now + self.settings.scan_every
        self._wake.clear()
        self._launch_due()
        wait = min(self.settings.block, max(0.0, self._next_scan - self._clock()))
        busy = len(self._running) >= self.settings.concurrency
        if self._heap and not busy:
            wait = min(wait, max(0.0, self._heap[0].due - self._clock()))
        can_read = self._streams and len(self._held) < self.settings.max_held
        if can_read and not (busy and self._heap) and wait > 0:
            await self._read(wait)
        elif wait > 0:
            # Due entries wait for a free slot: a finishing repair sets `_wake`.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
        else:
            await asyncio.sleep(0)  # always yield: this loop must never starve the node

    async def _scan(self) -> None:
        # Only PBuckets this node can reach every target of: a node without one of the vendors
        # (its config differs) would take entries it can never repair and hold them from the
        # nodes that can, until claim_idle.
        names = [
            pb.name
            for pb in await self.router.all()
            if pb.policy == "replicate" and all(t.vendor in self.router.vendors for t in pb.targets)
        ]
        for name in names:
            if name not in self._streams:
                with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
                    await self.redis.xgroup_create(stream_key(name), GROUP, id="0", mkstream=True)
        self._streams = names
        for name in names:
            self._row(name)["queued"] = int(await self.redis.xlen(stream_key(name)))
        idle_ms = int(self.settings.claim_idle * 1000)
        for name in names:
            mine: list[int | bytes | str | memoryview[int]] = [
                mid for pb, mid in self._held if pb == name
            ]
            if mine:  # still working on these: keep other nodes' hands off
                await self.redis.xclaim(
                    stream_key(name),
                    GROUP,
                    self.settings.consumer,
                    0,
                    mine,
                    justid=True,
                )
            claimed: Any = await self.redis.xautoclaim(
                stream_key(name), GROUP, self.settings.consumer, idle_ms, "0-0", count=100
            )
            for msg_id, fields in claimed[1] if len(claimed) > 1 else []:
                self._hold(name, _text(msg_id), fields)

    async def _read(self, wait: float) -> None:
        response: Any = await self.redis.xreadgroup(
            GROUP,
            self.settings.consumer,
            {stream_key(n): ">" for n in self._streams},
            count=self.settings.batch,
            block=max(1, int(wait * 1000)),
        )
        rows = response.items() if isinstance(response, dict) else response or []
        for stream, messages in rows:
            name = _text(stream)[len("pc:rt:repair:{") : -1]
            for msg_id, fields in messages:
                self._hold(name, _text(msg_id), fields)

    def _hold(self, pbucket: str, msg_id: str, fields: Any) -> None:
        if (pbucket, msg_id) in self._held:
            return
        entry = RepairEntry.from_fields(fields or {})
        self._held.add((pbucket, msg_id))
        heapq.heappush(self._heap, _Held(self._clock(), next(self._seq), pbucket, msg_id, entry))

    def _launch_due(self) -> None:
        while (
            self._heap
            and self._heap[0].due <= self._clock()
            and len(self._running) < self.settings.concurrency
        ):
            item = heapq.heappop(self._heap)
            task = asyncio.create_task(self._attempt(item))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    # -- one entry ---------------------------------------------------------------------------
    async def _attempt(self, item: _Held) -> None:
        try:
            outcome = await self._repair(item)
        except _Later as later:
            self._retry(item, later.delay)
            return
        except (VendorUnavailable, RedisError, OSError) as exc:
            self._count(item.pbucket, "failed")
            log.debug("repair %s %s: %r", item.pbucket, item.msg_id, exc)
            self._retry(item, 0.0)
            return
        except (RouterError, ValueError) as exc:
            self._count(item.pbucket, "failed")
            if item.attempts + 1 >= self.settings.max_attempts:
                log.error("repair %s: giving up on %s: %r", item.pbucket, item.entry, exc)
                outcome = "dropped"
            else:
                log.warning("repair %s: %s failed: %r", item.pbucket, item.entry, exc)
                self._retry(item, 0.0)
                return
        if outcome in ("done", "clean"):
            # Acknowledge only after the target has stayed in line for `settle` seconds: a
            # write it had buffered while it hung (SIGSTOP, a stalled connection) can still
            # execute when it wakes, after (or while) the repair looked, and undo it.
            now = self._clock()
            if outcome == "done":
                self._count(item.pbucket, outcome)
                item.settled_from = now
            elif item.settled_from is None:
                item.settled_from = now
            if now - item.settled_from < self.settings.settle:
                item.due = item.settled_from + self.settings.settle
                item.seq = next(self._seq)
                heapq.heappush(self._heap, item)
                return
        try:
            await self._ack(item)
        except (RedisError, OSError):
            self._retry(item, 0.0)
            return
        if outcome != "clean":
            self._count(item.pbucket, outcome)

    def _retry(self, item: _Held, at_least: float) -> None:
        s = self.settings
        delay = min(s.max_backoff, s.base_backoff * 2.0**item.attempts)
        delay = max(at_least, delay / 2 + self._rng() * delay / 2)
        item.attempts += 1
        item.due = self._clock() + delay
        item.seq = next(self._seq)
        heapq.heappush(self._heap, item)

    async def _ack(self, item: _Held) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream_key(item.pbucket), GROUP, item.msg_id)
            pipe.xdel(stream_key(item.pbucket), item.msg_id)
            await pipe.execute()
        self._held.discard((item.pbucket, item.msg_id))

    async def _repair(self, item: _Held) -> str:
        entry = item.entry
        if entry is None:
            return "dropped"
        try:
            view = await self.router.view(item.pbucket)
        except NoSuchPBucket:
            return "dropped"
        if not isinstance(view, ReplicateView):
            return "dropped"  # the PBucket changed policy
        target = view.index_of_tag(entry.target)
        if target is None:
            return "dropped"  # the target left the PBucket
        latest = await view.ctx.queue.latest(item.pbucket, entry.key)
        if entry.wid == 0 and latest is not None and latest[1] == "delete":
            return "superseded"  # a read repair racing a delete the holder missed
        if entry.wid and latest is not None and latest[0] > entry.wid:
            return "superseded"
        if view.down(target):
            raise _Later(_retry_after(view, target))
        src, info = await self._truth(view, entry, target)
        part, source = view.parts[target], view.parts[src]
        try:
            have: ObjectInfo | None = await part.head_object(entry.key)
        except UpstreamError as err:
            if err.code != "NoSuchKey":
                raise
            have = None
        if info is None:
            if have is None:
                return "clean"
            await part.delete_object(entry.key)
            return "done"
        if have is None or have.etag != info.etag or have.size != info.size:
            try:
                await copy_object(source, part, entry.key, info)
            except UpstreamError as err:
                if err.status in (404, 412):  # the source changed under the copy: look again
                    raise _Later(0.0) from None
                raise
        elif entry.op == "tagging":
            tags = await source.get_object_tagging(entry.key)
            if sorted(tags) == sorted(await part.get_object_tagging(entry.key)):
                return "clean"
            if tags:
                await part.put_object_tagging(entry.key, tags)
            else:
                await part.delete_object_tagging(entry.key)
        else:
            return "clean"
        return "done"

    async def _truth(
        self, view: ReplicateView, entry: RepairEntry, target: int
    ) -> tuple[int, ObjectInfo | None]:
        """(source index, its current object or None when it has none) from the entry's
        source, or the next healthy target when that one is away."""
        first = view.index_of_tag(entry.source)
        order = [i for i in view.order() if i != target and i != first]
        candidates = ([first] if first is not None and first != target else []) + order
        for i in candidates:
            if view.down(i):
                continue
            try:
                return i, await view.parts[i].head_object(entry.key)
            except UpstreamError as err:
                if err.code == "NoSuchKey":
                    return i, None
                raise
            except VendorUnavailable:
                continue
        raise _Later(0.0)  # no source reachable now


async def copy_object(
    source: BucketView,
    target: BucketView,
    key: str,
    info: ObjectInfo,
    *,
    unless: PutOptions | None = None,
) -> None:
    """Copy `key` (currently `info` on `source`) to `target`, pinned to that version.

    A multipart source is copied part by part with its own part boundaries, so vendors that
    derive multipart ETags the S3 way (MD5 of the part MD5s) end up with the same ETag, and a
    failover between targets keeps serving one ETag. Anything else (or a vendor that cannot
    say where its parts are) is one copy: server-side on one upstream, else streamed.

    `unless` carries destination preconditions (`if_none_match`, `if_match`) for the one-copy
    path; the part-by-part path cannot carry them (UploadPart takes none).
    """
    pinned = Conditions(if_match=info.etag)
    ranges = await _part_ranges(source, key, info)
    if ranges is None:
        await target.copy_from(
            source,
            key,
            key,
            options=unless or PutOptions(),
            replace_metadata=False,
            source_conditions=pinned,
        )
        return
    tags = await source.get_object_tagging(key)
    options = replace(
        options_from_info(info, PutOptions(storage_class=info.storage_class)),
        tagging=urlencode(tags) if tags else None,
    )
    upload = await target.create_multipart_upload(key, options)
    try:
        done = []
        for number, span in enumerate(ranges, 1):
            result = await target.upload_part_copy(
                source, key, key, upload, number, byte_range=span, source_conditions=pinned
            )
            done.append(CompletedPart(number, result.etag))
        await target.complete_multipart_upload(key, upload, done)
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the vendor's lifecycle rule backs up
            await target.abort_multipart_upload(key, upload)
        raise


async def _part_ranges(
    source: BucketView, key: str, info: ObjectInfo
) -> list[tuple[int, int]] | None:
    """The byte range of each part of a multipart object ("<md5>-<N>" ETag), or None."""
    _, dash, count = info.etag.strip('"').rpartition("-")
    if not dash or not count.isdigit() or not 1 <= int(count) <= 10_000:
        return None
    ranges: list[tuple[int, int]] = []
    for number in range(1, int(count) + 1):
        try:
            head = await source.head_object(
                key, conditions=Conditions(if_match=info.etag), part_number=number
            )
        except UpstreamError as err:
            if err.status == 412:
                raise
            return None  # the vendor does not answer part HEADs: copy whole
        if head.part_range is None:
            return None
        ranges.append(head.part_range)
    if ranges[0][0] != 0 or ranges[-1][1] != info.size - 1:
        return None
    return ranges


def _retry_after(view: ReplicateView, index: int) -> float:
    breaker = getattr(view.parts[index].upstream, "breaker", None)
    retry_after = getattr(breaker, "retry_after", None)
    return float(retry_after()) if callable(retry_after) else 0.0
