"""The lifecycle lease on real Redis: one holder, fencing, renewal only by the holder."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.integration.ttl.conftest import lease_gone
from ttl.lease import LeaseLost, acquire, fence_key, holder, lease_key


async def test_lease__one_holder_at_a_time(redis_client: Redis, pb_name: str) -> None:
    first = await acquire(redis_client, pb_name, 10_000)
    assert first is not None
    assert await acquire(redis_client, pb_name, 10_000) is None
    await first.hold()  # still ours
    await first.release()
    second = await acquire(redis_client, pb_name, 10_000)
    assert second is not None and second.fence == first.fence + 1
    await second.release()
    assert not await holder(redis_client, pb_name)


async def test_lease__expired_holder_is_fenced_off(
    redis_client: Redis, redis_server: str, pb_name: str
) -> None:
    old = await acquire(redis_client, pb_name, 50)
    assert old is not None
    lease_gone(redis_server, pb_name)
    new = await acquire(redis_client, pb_name, 10_000)
    assert new is not None and new.fence > old.fence
    with pytest.raises(LeaseLost):
        await old.hold()  # past half its TTL: it asks Redis
    await old.release()  # not ours any more: must not drop the new holder's lease
    await new.hold()
    assert await holder(redis_client, pb_name)
    await new.release()


async def test_lease__hold_checks_the_fence_too(redis_client: Redis, pb_name: str) -> None:
    """A token that somehow survives (same value written back) is still refused once the
    fence moved on."""
    lease = await acquire(redis_client, pb_name, 10_000)
    assert lease is not None
    await redis_client.incr(fence_key(pb_name))
    with pytest.raises(LeaseLost):
        await lease.confirm()
    assert await redis_client.get(lease_key(pb_name)) == lease.token.encode()
    await redis_client.delete(lease_key(pb_name))


async def test_lease__hold_extends_the_ttl(redis_client: Redis, pb_name: str) -> None:
    lease = await acquire(redis_client, pb_name, 1_000)
    assert lease is not None
    lease.ttl_ms = 60_000
    await lease.confirm()
    assert await redis_client.pttl(lease_key(pb_name)) > 10_000
    await lease.release()


async def test_lease__hold_asks_redis_once_per_half_ttl(redis_client: Redis, pb_name: str) -> None:
    """Within half a TTL of a confirmation nobody can have taken the lease: no round trip.
    After that (a pause, or just time), `hold` asks Redis again and sees the loss."""
    lease = await acquire(redis_client, pb_name, 60_000)
    assert lease is not None
    await redis_client.delete(lease_key(pb_name))  # as if it had expired meanwhile
    await lease.hold()  # fresh confirmation: trusted without asking
    lease.confirmed_at -= 30.0  # half a TTL later
    with pytest.raises(LeaseLost):
        await lease.hold()
