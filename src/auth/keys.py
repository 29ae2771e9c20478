"""Access keys in Redis (`pc:iam:key:{<access key>}`), secrets sealed with a SecretBox.

A record is a hash {user, secret_enc, status, created}. `secret_for` is on every request's
path, so answers (found or not) are kept in a small in-process cache for about a second.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import redis.asyncio
from redis.typing import EncodableT, FieldT

from auth.secrets import SecretBox

__all__ = ["KEY_PREFIX", "STATUS_ACTIVE", "KeyStore", "key_name"]

KEY_PREFIX = "pc:iam:key:"
STATUS_ACTIVE = "active"
F_USER = "user"
F_SECRET = "secret_enc"  # noqa: S105 - a field name
F_STATUS = "status"
F_CREATED = "created"
DEFAULT_CACHE_TTL = 1.0  # seconds a revoked key may still be honoured by this process
DEFAULT_CACHE_ENTRIES = 10_000  # bounded: unknown keys from the internet are cached too


def key_name(access_key: str) -> str:
    # The hash tag keeps one key's data in one Redis Cluster slot.
    return f"{KEY_PREFIX}{{{access_key}}}"


class KeyStore:
    """Create, look up and delete access keys; lookups are cached for `cache_ttl` seconds."""

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        box: SecretBox,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis_client
        self._box = box
        self._ttl = cache_ttl
        self._max_entries = cache_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    async def put(self, access_key: str, secret: str, user: str) -> None:
        record: dict[FieldT, EncodableT] = {
            F_USER: user,
            F_SECRET: self._box.encrypt(secret, access_key),
            F_STATUS: STATUS_ACTIVE,
            F_CREATED: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        await self._redis.hset(key_name(access_key), mapping=record)
        self._cache.pop(access_key, None)

    async def secret_for(self, access_key: str) -> str | None:
        """The secret of an active key, or None if the key is unknown or disabled."""
        now = self._clock()
        hit = self._cache.get(access_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        secret = await self._load(access_key)
        self._cache[access_key] = (now + self._ttl, secret)
        self._cache.move_to_end(access_key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return secret

    async def _load(self, access_key: str) -> str | None:
        raw = await self._redis.hgetall(key_name(access_key))
        record = {_text(k): _text(v) for k, v in raw.items()}
        if record.get(F_STATUS) != STATUS_ACTIVE or F_SECRET not in record:
            return None
        return self._box.decrypt(record[F_SECRET], access_key)

    async def delete(self, access_key: str) -> None:
        await self._redis.delete(key_name(access_key))
        self._cache.pop(access_key, None)


def _text(value: bytes | str) -> str:
    # The client may or may not be created with decode_responses=True.
    return value.decode("utf-8") if isinstance(value, bytes) else value
