"""The PBucket registry in Redis (`pc:rt:`) and the Router that turns a name into a BucketView.

PBucket records are small JSON documents. Each process keeps a short-lived copy so the hot path is
a dict lookup. A write through any node publishes the PBucket's name on `pc:rt:changed`
(`router.changes`) and every node's Router drops its copy when the message arrives, so a change
is served everywhere within milliseconds; the copy's TTL (`cache_seconds`, 1 s) is the backstop
for a message lost while a node was reconnecting. Vendor messages on the same channel are handed
to the callback the composition root gives `start` (it rebuilds that vendor's client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError, WatchError

from router.changes import CHANGES_CHANNEL, change_message, parse_change
from router.errors import NoSuchPBucket, UpstreamError
from router.pbucket import BucketView, PBucket, TargetSpec
from router.replica_context import ReplicaContext, ReplicaSettings
from router.upstream import Upstream
from router.views import build_view

__all__ = ["ConcurrentUpdate", "Router", "RouterSettings", "VendorChanged"]

log = logging.getLogger("pcache.router")
#: called with a vendor's name when it changed, or None: "re-read them all" (after a reconnect,
#: and every `resync_seconds` in case a message was lost)
VendorChanged = Callable[[str | None], Awaitable[None]]


class ConcurrentUpdate(Exception):
    """The PBucket record changed between read and write (another admin): retry."""


_SET = "pc:rt:pbuckets"


def _key(name: str) -> str:
    return f"pc:rt:pbucket:{{{name}}}"


@dataclass(frozen=True, slots=True)
class RouterSettings:
    #: Vendor that CreateBucket places new PBuckets on; None = CreateBucket is refused.
    default_vendor: str | None = None
    #: Vendor bucket name for a new PBucket: "{pbucket}" is replaced by the PBucket name.
    bucket_template: str = "{pbucket}"
    region: str = "us-east-1"
    cache_seconds: float = 1.0
    #: `replicate` reads prefer targets whose region label is this one
    region_affinity: str | None = None
    #: how often vendors are re-read even without a message (lost-message backstop)
    resync_seconds: float = 5.0


class Router:
    def __init__(
        self, redis: Redis, vendors: Mapping[str, Upstream], settings: RouterSettings
    ) -> None:
        self.redis = redis
        self.vendors = dict(vendors)
        self.settings = settings
        self._cache: dict[str, tuple[float, PBucket | None]] = {}
        self._loading: dict[str, asyncio.Future[PBucket | None]] = {}
        # Shared by every `replicate` view (views are built per request).
        self.replicas = ReplicaContext(
            redis, ReplicaSettings(region_affinity=settings.region_affinity)
        )
        # Bumped by every invalidation: a read that started before one must not cache its
        # (possibly older) answer after it.
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        #: called with the name of every PBucket whose record changed here or on another node
        #: (None: any may have), after the cached record was forgotten
        self.listeners: list[Callable[[str | None], None]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, on_vendor: VendorChanged | None = None) -> None:
        """Follow `pc:rt:changed` until `stop`."""
        self._task = asyncio.create_task(self._follow(on_vendor), name="pcache-router-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop()
        await self.replicas.close()  # writes still finishing after their quorum answered
        for upstream in self.vendors.values():
            await upstream.close()

    async def _follow(self, on_vendor: VendorChanged | None) -> None:
        failing = False
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(CHANGES_CHANNEL)
                try:
                    if failing:  # messages may have been missed while away
                        log.warning("router: change channel back; re-reading everything")
                        self.invalidate(None)
                        await _call(on_vendor, None)
                        failing = False
                    await self._listen(pubsub, on_vendor)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as err:
                if not failing:
                    log.warning("router: change channel lost (%s); retrying", err)
                    failing = True
                self.invalidate(None)
                await asyncio.sleep(0.5)  # reconnect back-off

    async def _listen(self, pubsub: PubSub, on_vendor: VendorChanged | None) -> None:
        resync_at = time.monotonic() + self.settings.resync_seconds
        while True:
            timeout = max(0.0, resync_at - time.monotonic())
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
            if message is not None and message.get("type") == "message":
                change = parse_change(message["data"])
                if change is not None and change[0] == "pbucket":
                    self.invalidate(change[1])
                elif change is not None:
                    await _call(on_vendor, change[1])
            if time.monotonic() >= resync_at:
                await _call(on_vendor, None)
                resync_at = time.monotonic() + self.settings.resync_seconds

    def invalidate(self, name: str | None) -> None:
        """Forget the cached record of `name` (None: of every PBucket)."""
        self._generation += 1
        # A read already in flight may predate the change: later callers start a fresh one.
        if name is None:
            self._cache.clear()
            self._loading.clear()
        else:
            self._cache.pop(name, None)
            self._loading.pop(name, None)
        for listener in self.listeners:
            try:
                listener(name)
            except Exception:  # one listener's bug must not stop the router's own bookkeeping
                log.exception("router: change listener failed")

    async def _announce(self, name: str) -> None:
        self.invalidate(name)
        try:
            await self.redis.publish(CHANGES_CHANNEL, change_message("pbucket", name))
        except RedisError as err:  # stored already; other nodes catch up within cache_seconds
            log.warning("router: change of %s not announced (%s)", name, err)

    def set_vendor(self, name: str, upstream: Upstream | None) -> Upstream | None:
        """Install (or with None remove) a vendor's client; returns the one it replaced, which
        the caller closes once requests in flight on it are done."""
        old = self.vendors.pop(name, None)
        if upstream is not None:
            self.vendors[name] = upstream
        return old

    # -- records -----------------------------------------------------------------------------
    async def get(self, name: str) -> PBucket | None:
        hit = self._cache.get(name)
        if hit is not None and time.monotonic() - hit[0] < self.settings.cache_seconds:
            return hit[1]
        # When the copy ages out under load, every request in flight would read Redis at once:
        # one read per name, the rest wait for it.
        loading = self._loading.get(name)
        if loading is None:
            loading = asyncio.ensure_future(self._load(name))
            self._loading[name] = loading
            loading.add_done_callback(lambda done: self._forget_load(name, done))
        return await asyncio.shield(loading)

    def _forget_load(self, name: str, done: asyncio.Future[PBucket | None]) -> None:
        if self._loading.get(name) is done:
            del self._loading[name]

    async def _load(self, name: str) -> PBucket | None:
        now = time.monotonic()
        generation = self._generation
        raw = await self.redis.get(_key(name))
        pb = PBucket.from_json(raw) if raw is not None else None
        if generation == self._generation:
            self._cache[name] = (now, pb)
        return pb

    async def view(self, name: str) -> BucketView:
        pb = await self.get(name)
        if pb is None:
            raise NoSuchPBucket(name)
        upstreams = [self.vendors.get(t.vendor) for t in pb.targets]
        if not upstreams or any(u is None for u in upstreams):
            # Config lost a vendor that a PBucket still names: a server-side fault, not a 404.
            raise UpstreamError("InternalError", 500)
        return build_view(pb, [u for u in upstreams if u is not None], self.replicas)

    async def all(self) -> list[PBucket]:
        names = sorted(
            n.decode() if isinstance(n, bytes) else n for n in await self.redis.smembers(_SET)
        )
        out = []
        for name in names:
            pb = await self.get(name)
            if pb is not None:
                out.append(pb)
        return out

    async def put(self, pb: PBucket) -> None:
        """Create or replace a PBucket record (config-managed PBuckets are applied at start)."""
        await self.redis.set(_key(pb.name), pb.to_json())
        await self.redis.sadd(_SET, pb.name)
        await self._announce(pb.name)

    async def insert(self, pb: PBucket) -> bool:
        """Store a new record (the admin API's create); False if the name is taken."""
        if not await self.redis.set(_key(pb.name), pb.to_json(), nx=True):
            return False
        await self.redis.sadd(_SET, pb.name)
        await self._announce(pb.name)
        return True

    async def update(self, name: str, change: Callable[[PBucket], PBucket]) -> PBucket:
        """Read-modify-write of one record with optimistic locking: `change` gets the stored
        record (it may raise to refuse); NoSuchPBucket if there is none, ConcurrentUpdate if
        another writer got there first."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(_key(name))
                raw = await pipe.get(_key(name))
                if raw is None:
                    raise NoSuchPBucket(name)
                new = change(PBucket.from_json(raw))
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(_key(name), new.to_json())
                await pipe.execute()
            except WatchError:
                raise ConcurrentUpdate(name) from None
        await self._announce(name)
        return new

    async def remove(self, name: str) -> None:
        """Drop the record only (the admin API's delete): vendor buckets are left alone."""
        await self.redis.delete(_key(name))
        await self.redis.srem(_SET, name)
        await self._announce(name)

    async def create(self, name: str, *, owner: str) -> PBucket:
        """CreateBucket: a new PBucket on the default vendor, and its vendor bucket."""
        existing = await self.get(name)
        if existing is not None:
            raise UpstreamError("BucketAlreadyOwnedByYou", 409)
        vendor = self.settings.default_vendor
        if vendor is None or vendor not in self.vendors:
            raise UpstreamError("NotImplemented", 501)
        target = TargetSpec(
            vendor=vendor, bucket=self.settings.bucket_template.format(pbucket=name)
        )
        try:
            await self.vendors[vendor].create_bucket(target.bucket, region=self.settings.region)
        except UpstreamError as err:
            if err.code != "BucketAlreadyOwnedByYou":
                raise
        pb = PBucket(name=name, targets=(target,), owner=owner, region=self.settings.region)
        # SET NX: two nodes racing on one name create one record; the loser sees "already yours".
        if not await self.redis.set(_key(name), pb.to_json(), nx=True):
            raise UpstreamError("BucketAlreadyOwnedByYou", 409)
        await self.redis.sadd(_SET, name)
        await self._announce(name)
        return pb

    async def delete(self, name: str) -> None:
        """DeleteBucket: the vendor bucket must be empty (the vendor says BucketNotEmpty)."""
        view = await self.view(name)
        if not self._made_by_create_bucket(view.pbucket):
            # Declared in the config or through the admin API: it maps onto vendor buckets we may
            # not have created (or share through a prefix), so they stay.
            page = await view.list_objects(max_keys=1)
            if page.entries or page.common_prefixes:
                raise UpstreamError("BucketNotEmpty", 409)
        else:
            await view.delete_vendor_buckets()
        await self.redis.delete(_key(name))
        await self.redis.srem(_SET, name)
        await self._announce(name)

    def _made_by_create_bucket(self, pb: PBucket) -> bool:
        """Whether the record has exactly the shape CreateBucket gives a new PBucket (then its
        vendor bucket is ours to drop)."""
        if pb.managed_by != "api" or pb.policy != "single" or len(pb.targets) != 1:
            return False
        target = pb.targets[0]
        return (
            target.vendor == self.settings.default_vendor
            and target.bucket == self.settings.bucket_template.format(pbucket=pb.name)
            and not target.prefix
        )

    async def apply_declared(self, declared: Sequence[PBucket]) -> None:
        for pb in declared:
            await self.put(replace(pb, managed_by="config"))


async def _call(on_vendor: VendorChanged | None, name: str | None) -> None:
    if on_vendor is None:
        return
    try:
        await on_vendor(name)
    except asyncio.CancelledError:
        raise
    except Exception:  # one bad vendor record must not stop the change channel
        log.exception("router: applying a vendor change failed")
