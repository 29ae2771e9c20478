"""Object metadata cache: what a GET needs to know before touching blocks (ETag, size, headers),
in a per-process LRU in front of Redis, with cluster-wide invalidation over pub/sub.

Entries are opaque JSON documents to this module (the gateway decides what an object's metadata
is); each carries `fetched_at` (wall-clock seconds, shared by every node) so freshness rules can
be applied by the caller. A `None` document is a negative entry: the object was absent when
checked, kept only `negative_ttl` seconds.

Keys in Redis: `pc:c:meta:<scope>\\0<key>` with an expiry (`redis_ttl`), so a cold object's
metadata does not live in Redis forever. Invalidation deletes the Redis entry and publishes
`<scope>\\0<key>` on `pc:c:inval`; every node drops its local copy when the message arrives.
A node that misses a message still converges: local entries are only trusted for `local_ttl`
seconds before Redis is asked again. Pub/sub loses messages only with its connection, and a lost
connection clears every local entry, so `local_ttl` is a backstop, not the freshness rule (that
is the caller's max-age). At 60 s it keeps reads off Redis for hot objects and for scans that
come back within a minute (a Redis round trip costs more CPU than the rest of a warm hit).
Negative entries are trusted locally no longer than `negative_ttl`. A Redis read that overlaps
an invalidation may return what the invalidation replaced: such an entry is kept only
`RACE_TTL` seconds, so it cannot outlive the message by more than that.

Other per-process caches derived from objects (the listing-page cache, `cache.list_cache`)
follow the same invalidations through `listeners`: each is called with the scope of every
invalidation, local or received, and with None when the channel was lost (everything may be
stale: messages published while it was down are never delivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

__all__ = ["INVALIDATION_CHANNEL", "RACE_TTL", "MetaCache", "MetaEntry"]

log = logging.getLogger("pcache.cache.meta")

INVALIDATION_CHANNEL = "pc:c:inval"
#: seconds an entry read from Redis while an invalidation arrived is trusted locally
RACE_TTL = 5.0
_PREFIX = "pc:c:meta:"
_SEP = "\0"


@dataclass(frozen=True, slots=True)
class MetaEntry:
    #: the object's metadata as the gateway stored it; None = known absent
    document: dict[str, Any] | None
    #: wall-clock seconds when the vendor was last asked
    fetched_at: float
    #: what the caller derived from `document` (its parsed form, block ids), kept with the entry
    #: so a hot object is decoded once per entry, not once per request
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


class MetaCache:
    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        *,
        local_entries: int = 16_384,
        local_ttl: float = 60.0,
        redis_ttl: int = 86_400,
        negative_ttl: float = 5.0,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis_client
        self._max = local_entries
        self._local_ttl = local_ttl
        self._redis_ttl = redis_ttl
        self.negative_ttl = negative_ttl
        self._wall = wall
        self._clock = clock
        self._local: OrderedDict[str, tuple[float, MetaEntry]] = OrderedDict()
        #: bumped by every invalidation (see RACE_TTL)
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        #: called with the scope of every invalidation (None: all scopes), see the docstring
        self.listeners: list[Callable[[str | None], None]] = []

    @staticmethod
    def _name(scope: str, key: str) -> str:
        return scope + _SEP + key

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="pcache-meta-invalidation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        lost = False
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(INVALIDATION_CHANNEL)
                try:
                    if lost:  # messages published while away were never delivered
                        self._forget_all()
                        lost = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message["data"]
                            name = data.decode("utf-8") if isinstance(data, bytes) else str(data)
                            self._generation += 1
                            self._local.pop(name, None)
                            self._notify(name.partition(_SEP)[0])
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as err:
                # Missed messages are covered by local_ttl; drop everything local to be safe.
                log.warning("meta cache: invalidation channel lost (%s); retrying", err)
                self._forget_all()
                lost = True
                await asyncio.sleep(0.5)

    def _forget_all(self) -> None:
        self._generation += 1
        self._local.clear()
        self._notify(None)

    def _notify(self, scope: str | None) -> None:
        for listener in self.listeners:
            try:
                listener(scope)
            except Exception:  # one listener's bug must not stop invalidations
                log.exception("meta cache: invalidation listener failed")

    def wall(self) -> float:
        """The wall clock entries are stamped with (shared by every node, unlike monotonic)."""
        return self._wall()

    # -- reading and writing -------------------------------------------------------------------
    async def get(self, scope: str, key: str) -> MetaEntry | None:
        name = self._name(scope, key)
        now = self._clock()
        hit = self._local.get(name)
        if hit is not None and hit[0] > now:
            self._local.move_to_end(name)
            return hit[1]
        generation = self._generation
        try:
            raw = await self._redis.get(_PREFIX + name)
        except RedisError:
            return None  # Redis down: behave as a miss; the vendor is the source of truth
        if raw is None:
            self._local.pop(name, None)
            return None
        doc = json.loads(raw)
        entry = MetaEntry(document=doc["d"], fetched_at=float(doc["t"]))
        if entry.document is None and self._wall() - entry.fetched_at > self.negative_ttl:
            return None
        self._remember(name, entry, raced=generation != self._generation)
        return entry

    async def put(self, scope: str, key: str, document: dict[str, Any] | None) -> MetaEntry:
        entry = MetaEntry(document=document, fetched_at=self._wall())
        name = self._name(scope, key)
        ttl = self._redis_ttl if document is not None else max(1, int(self.negative_ttl + 1))
        payload = json.dumps({"d": document, "t": entry.fetched_at}, separators=(",", ":"))
        with contextlib.suppress(RedisError):
            await self._redis.set(_PREFIX + name, payload, ex=ttl)
        self._remember(name, entry)
        return entry

    async def invalidate(self, scope: str, key: str) -> None:
        """Forget `key` here, in Redis and on every node (a write, copy or delete happened)."""
        name = self._name(scope, key)
        self._generation += 1
        self._local.pop(name, None)
        self._notify(scope)
        try:
            await self._redis.delete(_PREFIX + name)
            await self._redis.publish(INVALIDATION_CHANNEL, name)
        except RedisError as err:
            log.warning("meta cache: invalidation of one key not shared (%s)", err)

    async def invalidate_scope(self, scope: str) -> None:
        """Tell every node's listeners that keys of `scope` changed (which ones is not known:
        each node's metadata entries are left to their own checks). Published as `<scope>\\0`,
        an empty key, which names no object."""
        self._notify(scope)
        try:
            await self._redis.publish(INVALIDATION_CHANNEL, self._name(scope, ""))
        except RedisError as err:
            log.warning("meta cache: invalidation of a scope not shared (%s)", err)

    def _remember(self, name: str, entry: MetaEntry, *, raced: bool = False) -> None:
        ttl = self._local_ttl if entry.document is not None else self.negative_ttl
        if raced:
            ttl = min(ttl, RACE_TTL)
        self._local[name] = (self._clock() + ttl, entry)
        self._local.move_to_end(name)
        while len(self._local) > self._max:
            self._local.popitem(last=False)
