"""Cache TTL, a PCache extension beside the S3 lifecycle: per PBucket and key prefix, how long
an object's cached blocks may be served after they were cached (separate from how long the
object itself lives at the vendor). Past it, the blocks are dropped and the next read fetches
the object again.

One document per PBucket, managed through the admin API only (S3's lifecycle API never shows it,
so aws-cli and boto3 round trips stay byte-identical to AWS):

    {"rules": [{"prefix": "tmp/", "seconds": 3600}, {"prefix": "", "seconds": 86400}]}

The longest matching prefix wins (`""` matches every key). At most MAX_RULES rules, prefixes
unique and at most 1024 bytes, seconds 1 .. MAX_SECONDS.

Keys: `pc:ttl:cache:{<pbucket>}` and the index set `pc:ttl:cache-buckets` (a hint, as for the
lifecycle documents in `ttl.store`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis.asyncio

from ttl.errors import LifecycleError

__all__ = [
    "CACHE_TTL_INDEX",
    "MAX_RULES",
    "MAX_SECONDS",
    "CacheTtl",
    "CacheTtlRule",
    "CacheTtlStore",
    "cache_ttl_key",
    "parse_cache_ttl",
]

MAX_RULES = 100
MAX_SECONDS = 10 * 366 * 24 * 3600
MAX_PREFIX_BYTES = 1024
CACHE_TTL_INDEX = "pc:ttl:cache-buckets"


def cache_ttl_key(pbucket: str) -> str:
    return f"pc:ttl:cache:{{{pbucket}}}"


@dataclass(frozen=True, slots=True)
class CacheTtlRule:
    prefix: str
    seconds: int


@dataclass(frozen=True, slots=True)
class CacheTtl:
    rules: tuple[CacheTtlRule, ...] = ()

    def seconds_for(self, key: str) -> int | None:
        """The TTL of the longest prefix `key` starts with, or None (no rule: no limit)."""
        best: CacheTtlRule | None = None
        for rule in self.rules:
            if key.startswith(rule.prefix) and (
                best is None or len(rule.prefix) > len(best.prefix)
            ):
                best = rule
        return None if best is None else best.seconds

    def to_json(self) -> dict[str, object]:
        return {"rules": [{"prefix": r.prefix, "seconds": r.seconds} for r in self.rules]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))


def _invalid(detail: str) -> LifecycleError:
    return LifecycleError("InvalidArgument", detail, detail=detail)


def _rule(value: object, index: int) -> CacheTtlRule:
    where = f"rules[{index}]"
    if not isinstance(value, Mapping):
        raise _invalid(f"{where} must be an object")
    unknown = set(value) - {"prefix", "seconds"}
    if unknown:
        raise _invalid(f"{where} has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    prefix, seconds = value.get("prefix", ""), value.get("seconds")
    if (
        not isinstance(prefix, str)
        or len(prefix.encode("utf-8", "surrogatepass")) > MAX_PREFIX_BYTES
    ):
        raise _invalid(f"{where}.prefix must be a string of at most {MAX_PREFIX_BYTES} bytes")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_SECONDS:
        raise _invalid(f"{where}.seconds must be a whole number 1..{MAX_SECONDS}")
    return CacheTtlRule(prefix, seconds)


def parse_cache_ttl(doc: object) -> CacheTtl:
    """The admin API's JSON (already decoded) as a checked `CacheTtl`; LifecycleError
    (InvalidArgument, naming the field) otherwise."""
    if not isinstance(doc, Mapping) or set(doc) - {"rules"}:
        raise _invalid('the body must be an object with one field, "rules"')
    rules = doc.get("rules")
    if not isinstance(rules, Sequence) or isinstance(rules, str):
        raise _invalid("rules must be a list")
    if len(rules) > MAX_RULES:
        raise _invalid(f"at most {MAX_RULES} rules")
    parsed = tuple(_rule(r, i) for i, r in enumerate(rules))
    prefixes = [r.prefix for r in parsed]
    if len(set(prefixes)) != len(prefixes):
        raise _invalid("two rules have the same prefix")
    return CacheTtl(parsed)


def _loads(raw: bytes | str) -> CacheTtl:
    return parse_cache_ttl(json.loads(raw))


class CacheTtlStore:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._redis = client

    async def get(self, pbucket: str) -> CacheTtl | None:
        raw = await self._redis.get(cache_ttl_key(pbucket))
        return None if raw is None else _loads(raw)

    async def put(self, pbucket: str, ttl: CacheTtl) -> None:
        await self._redis.set(cache_ttl_key(pbucket), ttl.dumps())
        await self._redis.sadd(CACHE_TTL_INDEX, pbucket)

    async def delete(self, pbucket: str) -> bool:
        removed = int(await self._redis.delete(cache_ttl_key(pbucket)))
        await self._redis.srem(CACHE_TTL_INDEX, pbucket)
        return removed > 0

    async def all(self) -> dict[str, CacheTtl]:
        """Every PBucket's document (one SMEMBERS, then one GET each: few PBuckets have one)."""
        names = sorted(
            n.decode() if isinstance(n, bytes) else str(n)
            for n in await self._redis.smembers(CACHE_TTL_INDEX)
        )
        found: dict[str, CacheTtl] = {}
        for name in names:
            raw = await self._redis.get(cache_ttl_key(name))
            if raw is not None:
                found[name] = _loads(raw)
        return found
