"""Lifecycle job records in Redis, written only by the job's current holder.

    pc:ttl:job:{<id>}         hash (ttl.job.JobRecord), kept JOB_TTL after its last write
    pc:ttl:jobs:{<pbucket>}   sorted set: the PBucket's job ids by start time (the last KEEP),
                              kept JOB_TTL after its last job started
    pc:ttl:last-run:{<pbucket>}  when the last real (not dry) run that succeeded evaluated

Every write of a record is fenced: a Lua script refuses it when the record already carries a
higher fencing token, so a leader that lost its lease (and the job, resumed by the new leader)
cannot overwrite the new leader's progress, even with a stale final "failed".
"""

from __future__ import annotations

from datetime import datetime

import redis.asyncio

from ttl.job import JobRecord

__all__ = ["JOB_TTL", "KEEP", "JobStore", "history_key", "job_key"]

JOB_TTL = 30 * 24 * 3600
KEEP = 100

# KEYS[1] record; ARGV[1] fence, ARGV[2] ttl seconds, ARGV[3..] field, value, ... → 1 or 0
_FENCED_WRITE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if current > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def job_key(job_id: str) -> str:
    return f"pc:ttl:job:{{{job_id}}}"


def history_key(pbucket: str) -> str:
    return f"pc:ttl:jobs:{{{pbucket}}}"


def last_run_key(pbucket: str) -> str:
    return f"pc:ttl:last-run:{{{pbucket}}}"


class JobStore:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._redis = client
        self._write = client.register_script(_FENCED_WRITE)

    async def save(self, job: JobRecord) -> bool:
        """Write the whole record unless a newer holder owns it; False when fenced off."""
        return await self.save_fields(job, ())

    async def save_fields(self, job: JobRecord, names: tuple[str, ...]) -> bool:
        """Write these fields only (all when empty), fenced like `save`."""
        flat: list[str] = []
        for name, value in job.to_doc().items():
            if not names or name in names:
                flat += (name, value)
        done = await self._write(keys=[job_key(job.job_id)], args=[job.fence, JOB_TTL, *flat])
        return int(done) == 1

    async def add(self, job: JobRecord, started: datetime) -> None:
        """A new job: its record, then its place in the PBucket's history."""
        await self.save(job)
        key = history_key(job.pbucket)
        await self._redis.zadd(key, {job.job_id: started.timestamp()})
        await self._redis.zremrangebyrank(key, 0, -KEEP - 1)
        # A PBucket that stops running jobs (deleted, rules removed) leaves no index behind.
        await self._redis.expire(key, JOB_TTL)

    async def get(self, pbucket: str, job_id: str) -> JobRecord | None:
        raw = await self._redis.hgetall(job_key(job_id))
        if not raw:
            return None
        job = JobRecord.from_doc(raw)
        return job if job.pbucket == pbucket else None

    async def history(self, pbucket: str, limit: int = KEEP) -> list[JobRecord]:
        """The PBucket's jobs, newest first (ids whose record expired are dropped)."""
        key = history_key(pbucket)
        found = await self._redis.zrevrange(key, 0, limit - 1)
        ids = [_text(i) for i in found if isinstance(i, bytes | str)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(job_key(job_id))
            docs = await pipe.execute()
        jobs, gone = [], []
        for job_id, raw in zip(ids, docs, strict=True):
            if raw:
                jobs.append(JobRecord.from_doc(raw))
            else:
                gone.append(job_id)
        if gone:
            await self._redis.zrem(key, *gone)
        return jobs

    async def latest(self, pbucket: str) -> JobRecord | None:
        jobs = await self.history(pbucket, limit=1)
        return jobs[0] if jobs else None

    async def last_run(self, pbucket: str) -> datetime | None:
        raw = await self._redis.get(last_run_key(pbucket))
        return None if raw is None else datetime.fromisoformat(_text(raw))

    async def set_last_run(self, pbucket: str, when: datetime) -> None:
        await self._redis.set(last_run_key(pbucket), when.isoformat())


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
