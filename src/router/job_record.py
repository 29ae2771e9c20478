"""Records of background jobs in Redis: one JSON document per job, a cancel flag any node may
set, recent-job indexes, and a lock that lets one job per subject run cluster-wide.

Keys, under a namespace `ns` (the owning package's prefix, e.g. `pc:rt`):

    <ns>:job:{<id>}        hash: `doc` (the record as JSON; only the runner writes it) and
                           `cancel` ("1": stop, asked by any node); TTL JOB_TTL, refreshed
    <ns>:jobs              sorted set of ids by start time (the most recent INDEX_KEEP)
    <ns>:jobs:<subject>    the same for one subject (a PBucket)
    <ns>:lock:{<subject>}  the id of the job running for `subject`; it lapses LOCK_TTL seconds
                           after the runner's last heartbeat, so a dead node frees it

The runner never writes `cancel`, so a stop asked by another node is not overwritten by the
runner's next heartbeat.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

__all__ = [
    "INDEX_KEEP",
    "JOB_TTL",
    "LOCK_TTL",
    "JobRecords",
    "iso",
    "new_job_id",
    "node_name",
    "valid_job_id",
]

JOB_TTL = 7 * 24 * 3600
INDEX_KEEP = 200
#: seconds a lock outlives its holder's last heartbeat
LOCK_TTL = 30.0

# Compare-and-set on the holder, so a runner whose lock lapsed (and was taken by a newer job)
# never extends or frees the newer job's lock.
_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def new_job_id() -> str:
    return uuid.uuid4().hex


def valid_job_id(value: object) -> bool:
    """uuid4 hex: 32 lower-case hex digits."""
    return (
        isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)
    )


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class JobRecords:
    """Job documents, indexes and per-subject locks under one key namespace."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.ns = namespace
        self._refresh = redis.register_script(_REFRESH)
        self._release = redis.register_script(_RELEASE)

    # -- keys (the id / subject in braces is the cluster hash tag) --------------------------------
    def job_key(self, job_id: str) -> str:
        return f"{self.ns}:job:{{{job_id}}}"

    def lock_key(self, subject: str) -> str:
        return f"{self.ns}:lock:{{{subject}}}"

    def _index(self, subject: str | None) -> str:
        return f"{self.ns}:jobs" if subject is None else f"{self.ns}:jobs:{subject}"

    # -- documents --------------------------------------------------------------------------------
    async def save(
        self, job_id: str, doc: Mapping[str, Any], *, cancel: bool | None = None
    ) -> None:
        """Write the document (and the cancel flag when `cancel` is given)."""
        key = self.job_key(job_id)
        mapping = {"doc": json.dumps(doc, separators=(",", ":"))}
        if cancel is not None:
            mapping["cancel"] = "1" if cancel else "0"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, JOB_TTL)
            await pipe.execute()

    async def load(self, job_id: str) -> tuple[dict[str, Any], bool] | None:
        """(document, cancel requested), or None for an unknown (or expired) job."""
        raw = await self.redis.hgetall(self.job_key(job_id))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "doc" not in fields:
            return None
        return dict(json.loads(fields["doc"])), fields.get("cancel") == "1"

    async def cancel_requested(self, job_id: str) -> bool:
        flag = await self.redis.hget(self.job_key(job_id), "cancel")
        return flag is not None and _text(flag) == "1"

    async def request_cancel(self, job_id: str) -> None:
        await self.redis.hset(self.job_key(job_id), "cancel", "1")

    async def index(self, job_id: str, subject: str, started: float) -> None:
        for name in (self._index(None), self._index(subject)):
            await self.redis.zadd(name, {job_id: started})
            await self.redis.zremrangebyrank(name, 0, -INDEX_KEEP - 1)

    async def recent(self, subject: str | None, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """(id, document) of the most recent jobs, newest first; expired ids leave the index."""
        name = self._index(subject)
        found = await self.redis.zrevrange(name, 0, limit - 1)
        ids = [_text(i) for i in found if isinstance(i, bytes | str)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(self.job_key(job_id), "doc")
            docs = await pipe.execute()
        out: list[tuple[str, dict[str, Any]]] = []
        gone: list[str] = []
        for job_id, raw in zip(ids, docs, strict=True):
            if raw is None:
                gone.append(job_id)
            else:
                out.append((job_id, dict(json.loads(_text(raw)))))
        if gone:
            await self.redis.zrem(name, *gone)
        return out

    # -- the per-subject lock ---------------------------------------------------------------------
    async def lock(self, subject: str, holder: str) -> bool:
        """Take `subject`'s lock for `holder`; False when another holder has it."""
        key = self.lock_key(subject)
        return bool(await self.redis.set(key, holder, nx=True, px=int(LOCK_TTL * 1000)))

    async def holder(self, subject: str) -> str | None:
        value = await self.redis.get(self.lock_key(subject))
        return None if value is None else _text(value)

    async def refresh_lock(self, subject: str, holder: str) -> bool:
        """Extend `holder`'s lock; False when it lapsed (and may be someone else's now)."""
        done = await self._refresh(
            keys=[self.lock_key(subject)], args=[holder, int(LOCK_TTL * 1000)]
        )
        return bool(done)

    async def unlock(self, subject: str, holder: str) -> None:
        await self._release(keys=[self.lock_key(subject)], args=[holder])
