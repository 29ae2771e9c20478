"""The durable repair queue of `replicate` PBuckets: one Redis Stream per PBucket.

    pc:rt:repair:{<pbucket>}          stream; one entry per (write, target that missed it)
    pc:rt:repair:{<pbucket>}:latest   hash key -> "<write id> <op>" of the newest write of that
                                      key that missed a target (expires 7 days after the last)

Both names carry the PBucket as hash tag, so the enqueue script (which touches both) runs on
Redis Cluster too. An entry says *which* target to bring in line with *which* source, not what
bytes to write: the worker reconciles against the source's state at repair time (last writer
wins), so replaying an old entry never writes old data over new.

The write id is the write's start time in microseconds (fits a Lua double exactly). An entry
is superseded when a newer write of the same key also missed a target: that newer write's
entries carry the truth, and an older entry copying from a source that missed the newer write
would undo it. Read repairs (a read found a target without the key) carry write id 0: they
never advance `latest`, and yield to a pending delete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

__all__ = ["RepairEntry", "RepairQueue", "latest_key", "stream_key", "write_id"]

GROUP = "repair"
_LATEST_TTL = 7 * 86400

# KEYS: stream, latest hash. ARGV: key, write id, op, ttl, then the entry's field/value pairs.
_ENQUEUE = """
if ARGV[2] ~= '0' then
  local cur = redis.call('HGET', KEYS[2], ARGV[1])
  local curw = 0
  if cur then curw = tonumber(string.match(cur, '^(%d+)')) or 0 end
  if tonumber(ARGV[2]) >= curw then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
  end
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
return redis.call('XADD', KEYS[1], '*', unpack(fields))
"""


def stream_key(pbucket: str) -> str:
    return f"pc:rt:repair:{{{pbucket}}}"


def latest_key(pbucket: str) -> str:
    return f"pc:rt:repair:{{{pbucket}}}:latest"


def write_id() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class RepairEntry:
    op: str  # "put" | "delete" | "tagging"
    key: str
    target: str  # target tag (router.replica_math.target_tag)
    source: str  # tag of a target that acknowledged the write
    wid: int  # write id; 0 for a read repair
    etag: str = ""  # what the source acknowledged (informational: the worker re-reads it)
    size: int = -1

    def fields(self) -> dict[str, str]:
        return {
            "op": self.op,
            "key": self.key,
            "target": self.target,
            "source": self.source,
            "wid": str(self.wid),
            "etag": self.etag,
            "size": str(self.size),
        }

    @classmethod
    def from_fields(cls, raw: dict[Any, Any]) -> RepairEntry | None:
        doc = {_text(k): _text(v) for k, v in raw.items()}
        try:
            return cls(
                op=doc["op"],
                key=doc["key"],
                target=doc["target"],
                source=doc["source"],
                wid=int(doc["wid"]),
                etag=doc.get("etag", ""),
                size=int(doc.get("size", "-1")),
            )
        except (KeyError, ValueError):
            return None  # a malformed entry: the worker drops it


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


class RepairQueue:
    """Enqueue side, used by the view on every missed write (the worker reads the streams)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_ENQUEUE)

    async def add(self, pbucket: str, entry: RepairEntry) -> str:
        args: list[str | int] = [entry.key, entry.wid, entry.op, _LATEST_TTL]
        for name, value in entry.fields().items():
            args += [name, value]
        result = await self._script(keys=[stream_key(pbucket), latest_key(pbucket)], args=args)
        return _text(result)

    async def latest(self, pbucket: str, key: str) -> tuple[int, str] | None:
        """(write id, op) of the newest write of `key` that missed a target, if any."""
        raw = await self.redis.hget(latest_key(pbucket), key)
        if raw is None:
            return None
        wid, _, op = _text(raw).partition(" ")
        try:
            return int(wid), op
        except ValueError:
            return None

    async def length(self, pbucket: str) -> int:
        return int(await self.redis.xlen(stream_key(pbucket)))
