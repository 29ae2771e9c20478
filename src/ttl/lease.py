"""A per-PBucket lease in Redis, so one node at a time runs a PBucket's lifecycle job.

Keys (one hash tag, one cluster slot): `pc:ttl:lease:{<pb>}` holds the holder's random token
with a TTL; `pc:ttl:fence:{<pb>}` counts acquisitions, and each holder gets the count as its
fencing token. A holder proves it still holds the lease before every change it makes: `confirm()`
runs a Lua script that checks token *and* fence and extends the TTL in one step; `hold()` does
the same unless a confirmation was sent less than half a TTL ago (by this process's monotonic
clock), because until then nobody else can have acquired it: the key cannot expire before
sent-time + TTL, and only an expired key can be taken. So a busy job costs one Redis round trip
per half TTL, not one per object, and a leader that was paused (GC, a stalled VM, a slow vendor)
past its TTL sees the pause on that same clock, asks Redis, finds someone else's token or a
higher fence, and stops; it never acts on stale authority. There is no background renewer on
purpose: a renewer would keep renewing for a paused job, which is exactly what a lease must not
do.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis.asyncio

__all__ = ["Lease", "LeaseLost", "acquire", "fence_key", "holder", "lease_key"]

# KEYS[1] lease, KEYS[2] fence; ARGV[1] token, ARGV[2] ttl ms → the new fencing token, or 0
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""
# ARGV[1] token, ARGV[2] fence, ARGV[3] ttl ms → 1 held (and extended), 0 lost
_HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
# ARGV[1] token → 1 released, 0 not ours
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_key(pbucket: str) -> str:
    return f"pc:ttl:lease:{{{pbucket}}}"


def fence_key(pbucket: str) -> str:
    return f"pc:ttl:fence:{{{pbucket}}}"


class LeaseLost(Exception):
    """The lease expired or passed to another holder: stop, change nothing more."""


@dataclass(slots=True)
class Lease:
    client: redis.asyncio.Redis
    pbucket: str
    token: str
    fence: int
    ttl_ms: int
    lost: bool = False
    #: monotonic time the last successful confirmation was sent
    confirmed_at: float = 0.0

    def _keys(self) -> list[str]:
        return [lease_key(self.pbucket), fence_key(self.pbucket)]

    async def confirm(self) -> None:
        """Still ours with our fencing token? Asks Redis and extends the TTL; raises LeaseLost
        otherwise (and for good: a lost lease is never taken back by the same holder)."""
        if not self.lost:
            sent = time.monotonic()
            script = self.client.register_script(_HOLD)  # EVALSHA; the SHA is computed here
            held = await script(keys=self._keys(), args=[self.token, self.fence, self.ttl_ms])
            self.lost = int(held) != 1
            if not self.lost:
                self.confirmed_at = sent
        if self.lost:
            raise LeaseLost(f"lifecycle lease on {self.pbucket} lost (fence {self.fence})")

    async def hold(self) -> None:
        """`confirm()`, unless one was sent less than half a TTL ago (see the module doc)."""
        if self.lost or time.monotonic() - self.confirmed_at >= self.ttl_ms / 2000:
            await self.confirm()

    async def release(self) -> None:
        """Give it up if still ours (a lost lease belongs to someone else now)."""
        if not self.lost:
            script = self.client.register_script(_RELEASE)
            await script(keys=[lease_key(self.pbucket)], args=[self.token])
            self.lost = True


async def acquire(client: redis.asyncio.Redis, pbucket: str, ttl_ms: int) -> Lease | None:
    """The lease if nobody holds it, else None."""
    token = secrets.token_hex(16)
    sent = time.monotonic()
    script = client.register_script(_ACQUIRE)
    fence = await script(keys=[lease_key(pbucket), fence_key(pbucket)], args=[token, ttl_ms])
    if not int(fence):
        return None
    return Lease(client, pbucket, token, int(fence), ttl_ms, confirmed_at=sent)


async def holder(client: redis.asyncio.Redis, pbucket: str) -> bool:
    """Does anyone hold the lease right now?"""
    return bool(await client.exists(lease_key(pbucket)))
