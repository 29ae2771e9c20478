"""The PBucket registry in Redis (`pc:rt:`) and the Router that turns a name into a BucketView.

PBucket records are small JSON documents. Each process keeps a short-lived copy so the hot path is
a dict lookup; a write through this process drops its own copy at once (cluster-wide
invalidation arrives with the multi-node work).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from redis.asyncio import Redis

from router.errors import NoSuchPBucket, UpstreamError
from router.pbucket import BucketView, PBucket, TargetSpec
from router.upstream import Upstream
from router.views import build_view

__all__ = ["Router", "RouterSettings"]

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


class Router:
    def __init__(
        self, redis: Redis, vendors: Mapping[str, Upstream], settings: RouterSettings
    ) -> None:
        self.redis = redis
        self.vendors = dict(vendors)
        self.settings = settings
        self._cache: dict[str, tuple[float, PBucket | None]] = {}

    async def close(self) -> None:
        for upstream in self.vendors.values():
            await upstream.close()

    async def get(self, name: str) -> PBucket | None:
        hit = self._cache.get(name)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.settings.cache_seconds:
            return hit[1]
        raw = await self.redis.get(_key(name))
        pb = PBucket.from_json(raw) if raw is not None else None
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
        return build_view(pb, [u for u in upstreams if u is not None])

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
        self._cache.pop(pb.name, None)

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
        self._cache.pop(name, None)
        return pb

    async def delete(self, name: str) -> None:
        """DeleteBucket: the vendor bucket must be empty (the vendor says BucketNotEmpty)."""
        view = await self.view(name)
        if view.pbucket.managed_by == "config":
            # A config-declared PBucket maps onto a vendor bucket we did not create: keep it.
            page = await view.list_objects(max_keys=1)
            if page.entries or page.common_prefixes:
                raise UpstreamError("BucketNotEmpty", 409)
        else:
            await view.delete_vendor_buckets()
        await self.redis.delete(_key(name))
        await self.redis.srem(_SET, name)
        self._cache.pop(name, None)

    async def apply_declared(self, declared: Sequence[PBucket]) -> None:
        for pb in declared:
            await self.put(replace(pb, managed_by="config"))
