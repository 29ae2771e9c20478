"""Lifecycle configurations in Redis, one canonical JSON string per PBucket.

Keys: `pc:ttl:lifecycle:{<pbucket>}` (hash-tagged by PBucket, like every per-bucket key) and
the index set `pc:ttl:lifecycle-buckets`, which the scheduler reads to find buckets with rules.
The two live in different cluster slots, so they are written one after the other, never in one
transaction: the index is a hint (an entry whose key is gone is skipped and dropped by the
reader), the per-bucket key is the truth.
"""

from __future__ import annotations

import redis.asyncio

from ttl.lifecycle_json import dumps, loads
from ttl.rules import LifecycleConfiguration

__all__ = ["INDEX_KEY", "LifecycleStore", "lifecycle_key"]

INDEX_KEY = "pc:ttl:lifecycle-buckets"


def lifecycle_key(pbucket: str) -> str:
    return f"pc:ttl:lifecycle:{{{pbucket}}}"


class LifecycleStore:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._redis = client

    async def get(self, pbucket: str) -> LifecycleConfiguration | None:
        raw = await self._redis.get(lifecycle_key(pbucket))
        return None if raw is None else loads(raw)

    async def put(self, pbucket: str, config: LifecycleConfiguration) -> None:
        """Replace the bucket's configuration (S3: a PUT replaces, it never merges)."""
        await self._redis.set(lifecycle_key(pbucket), dumps(config))
        await self._redis.sadd(INDEX_KEY, pbucket)

    async def delete(self, pbucket: str) -> bool:
        """Drop it; True if there was one."""
        removed = int(await self._redis.delete(lifecycle_key(pbucket)))
        await self._redis.srem(INDEX_KEY, pbucket)
        return removed > 0

    async def buckets(self) -> list[str]:
        """PBuckets that (probably) have a configuration: the index, as a hint."""
        names = await self._redis.smembers(INDEX_KEY)
        return sorted(n.decode() if isinstance(n, bytes) else str(n) for n in names)
