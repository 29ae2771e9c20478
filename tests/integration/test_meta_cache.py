"""The metadata cache's local copies against a real Redis: how long they are trusted, and what
an invalidation during a Redis read may leave behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from cache.meta import RACE_TTL, MetaCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(redis_server: str) -> AsyncIterator[redis.asyncio.Redis]:
    conn = redis.asyncio.Redis.from_url(redis_server)
    try:
        yield conn
    finally:
        await conn.aclose()


async def test_meta__a_local_copy_serves_for_a_minute_without_redis(
    client: redis.asyncio.Redis,
) -> None:
    """A scan that comes back within a minute reads no Redis (the Redis entry is deleted behind
    the cache's back to prove it), and after local_ttl it asks Redis again."""
    clock = Clock()
    meta = MetaCache(client, clock=clock)
    scope = f"pb-{uuid.uuid4().hex[:8]}"
    await meta.put(scope, "k", {"etag": '"1"'})
    await MetaCache(client).invalidate(scope, "k")  # a "node" whose message this one never gets
    clock.now += 59
    hit = await meta.get(scope, "k")
    assert hit is not None and hit.document == {"etag": '"1"'}
    clock.now += 2
    assert await meta.get(scope, "k") is None  # Redis has nothing now


async def test_meta__a_negative_entry_is_trusted_locally_only_negative_ttl(
    client: redis.asyncio.Redis,
) -> None:
    clock = Clock()
    meta = MetaCache(client, clock=clock, negative_ttl=5.0)
    scope = f"pb-{uuid.uuid4().hex[:8]}"
    await meta.put(scope, "gone", None)
    assert (await meta.get(scope, "gone")) is not None
    await client.delete(f"pc:c:meta:{scope}\0gone")
    clock.now += 6
    assert await meta.get(scope, "gone") is None


async def test_meta__a_read_overlapping_an_invalidation_is_kept_only_briefly(
    client: redis.asyncio.Redis,
) -> None:
    """The Redis read returns the old document while an invalidation is processed: that entry
    must not be trusted for the whole local_ttl."""
    clock = Clock()
    meta = MetaCache(client, clock=clock)
    scope = f"pb-{uuid.uuid4().hex[:8]}"
    await MetaCache(client).put(scope, "k", {"etag": '"old"'})
    original_get = client.get
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow_get(name: str) -> object:
        value = await original_get(name)
        entered.set()
        await release.wait()
        return value

    client.get = slow_get  # type: ignore[method-assign]
    try:
        reader = asyncio.create_task(meta.get(scope, "k"))
        await entered.wait()
        client.get = original_get  # type: ignore[method-assign]
        await meta.invalidate(scope, "k")  # a write through this node while the read waits
        release.set()
        stale = await reader
    finally:
        client.get = original_get  # type: ignore[method-assign]
    assert stale is not None and stale.document == {"etag": '"old"'}
    clock.now += RACE_TTL + 0.5
    assert await meta.get(scope, "k") is None
