"""The router's per-node copy of PBucket records (real Redis): an aged-out copy under load is
read from Redis once, and an invalidation is never answered by a read that predates it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from redis.asyncio import Redis

from router.pbucket import PBucket, TargetSpec
from router.registry import Router, RouterSettings


class CountingRedis(Redis):
    """The real client, counting GETs (the router's only read of a record)."""

    gets = 0

    async def get(self, name: Any) -> Any:
        self.gets += 1
        return await super().get(name)


def _router(client: Redis, cache_seconds: float) -> Router:
    return Router(client, {}, RouterSettings(cache_seconds=cache_seconds))


async def test_get__many_readers_of_an_aged_out_record_read_redis_once(
    redis_server: str,
) -> None:
    client = CountingRedis.from_url(redis_server)
    try:
        name = f"pb-{uuid.uuid4().hex[:8]}"
        router = _router(client, cache_seconds=0.0)  # every call finds the copy aged out
        await router.put(PBucket(name, (TargetSpec("v", "b"),)))
        client.gets = 0
        got = await asyncio.gather(*(router.get(name) for _ in range(50)))
        assert client.gets == 1
        assert {pb.name for pb in got if pb is not None} == {name}
        await router.get(name)  # the shared read is over: the next caller reads again
        assert client.gets == 2
    finally:
        await client.aclose()


async def test_get__after_invalidate_callers_do_not_join_an_older_read(
    redis_server: str,
) -> None:
    client = CountingRedis.from_url(redis_server)
    try:
        name = f"pb-{uuid.uuid4().hex[:8]}"
        router = _router(client, cache_seconds=60.0)
        await router.put(PBucket(name, (TargetSpec("v", "old"),)))
        first = asyncio.ensure_future(router.get(name))  # in flight, sees "old"
        await asyncio.sleep(0)
        await router.put(PBucket(name, (TargetSpec("v", "new"),)))  # invalidates
        second = await router.get(name)
        await first
        assert second is not None and second.targets[0].bucket == "new"
        # and the cached copy is the new one, not the older in-flight answer
        again = await router.get(name)
        assert again is not None and again.targets[0].bucket == "new"
    finally:
        await client.aclose()
