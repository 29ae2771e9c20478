"""Vendors managed through the admin API, in Redis: hash `pc:rt:vendors`, one JSON document per
vendor (field = vendor name).

The vendor's secret key is sealed before it reaches Redis: the store is given a `Sealer`
(gateway passes the node's AES-GCM master-key box, so this package never imports `auth`) and
keeps only its output, bound to the vendor's name so a sealed value copied onto another record
does not open. Every write gets a new `revision` and is announced on the router's change
channel; nodes rebuild a vendor's client only when its revision changed.

Config-declared vendors never live here: they belong to each node's config file.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from router.changes import CHANGES_CHANNEL, change_message

__all__ = [
    "VENDORS_KEY",
    "ConcurrentChange",
    "Sealer",
    "VendorExists",
    "VendorRecord",
    "VendorStore",
]

VENDORS_KEY = "pc:rt:vendors"
log = logging.getLogger("pcache.router")


class VendorExists(Exception):
    """A vendor with this name is already stored."""


class ConcurrentChange(Exception):
    """The record changed (or vanished) between read and write: the caller may retry."""


@dataclass(frozen=True, slots=True)
class Sealer:
    """`seal(plaintext, context)` / `unseal(token, context)`: authenticated encryption."""

    seal: Callable[[str, str], str]
    unseal: Callable[[str, str], str]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class VendorRecord:
    """An S3 vendor as the admin API stores it; field meanings as `[vendors.NAME]` in config.
    `storage_classes` holds only the names given explicitly (the profile supplies the rest)."""

    name: str
    endpoint: str
    access_key: str
    secret_sealed: str = field(default="", repr=False)
    type: str = "s3"
    region: str = "us-east-1"
    addressing_style: str = "path"
    profile: str = "generic"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    verify_tls: bool = True
    request_checksum_calculation: str = "when_required"
    response_checksum_validation: str = "when_required"
    storage_classes: Mapping[str, str] = field(default_factory=dict)
    retries: int = 2
    breaker_failures: int = 5
    breaker_cooldown: float = 5.0
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    revision: str = ""
    managed_by: str = "api"

    def to_json(self) -> str:
        doc = asdict(self)
        doc["storage_classes"] = dict(self.storage_classes)
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> VendorRecord:
        doc = json.loads(text)
        # Fields a newer node added are ignored rather than failing every read.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


def _context(name: str) -> str:
    return f"pc:rt:vendor:{name}"


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


class VendorStore:
    def __init__(self, redis: Redis, sealer: Sealer) -> None:
        self.redis = redis
        self._sealer = sealer

    # -- reading -----------------------------------------------------------------------------
    async def all(self) -> list[VendorRecord]:
        raw: dict[Any, Any] = await self.redis.hgetall(VENDORS_KEY)
        records = []
        for name, text in raw.items():
            try:
                records.append(VendorRecord.from_json(text))
            except (ValueError, TypeError) as err:  # one bad record must not hide the others
                log.error("vendor record %r unreadable, skipped: %s", _text(name), err)
        return sorted(records, key=lambda r: r.name)

    async def get(self, name: str) -> VendorRecord | None:
        raw = await self.redis.hget(VENDORS_KEY, name)
        return None if raw is None else VendorRecord.from_json(raw)

    def secret(self, record: VendorRecord) -> str:
        """The record's secret key in plaintext (for building its client, never for replies)."""
        return self._sealer.unseal(record.secret_sealed, _context(record.name))

    # -- writing -----------------------------------------------------------------------------
    def _sealed(self, record: VendorRecord, secret: str | None) -> VendorRecord:
        stamped = replace(record, updated=_now(), revision=uuid.uuid4().hex)
        if secret is None:
            return stamped
        return replace(stamped, secret_sealed=self._sealer.seal(secret, _context(record.name)))

    async def create(self, record: VendorRecord, secret: str) -> VendorRecord:
        stored = self._sealed(replace(record, created=_now()), secret)
        added = await self.redis.hsetnx(VENDORS_KEY, record.name, stored.to_json())
        if not added:
            raise VendorExists(record.name)
        await self._announce(record.name)
        return stored

    async def replace(
        self, record: VendorRecord, secret: str | None, *, expected_revision: str
    ) -> VendorRecord:
        """Store `record` over the one at `expected_revision`; `secret` None keeps the stored
        sealed secret. ConcurrentChange if the record moved on or was deleted meanwhile."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(VENDORS_KEY)
                raw = await pipe.hget(VENDORS_KEY, record.name)
                if raw is None:
                    raise ConcurrentChange(record.name)
                current = VendorRecord.from_json(_text(raw))
                if current.revision != expected_revision:
                    raise ConcurrentChange(record.name)
                base = replace(record, secret_sealed=current.secret_sealed, created=current.created)
                stored = self._sealed(base, secret)
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(VENDORS_KEY, record.name, stored.to_json())
                await pipe.execute()
            except WatchError:
                raise ConcurrentChange(record.name) from None
        await self._announce(record.name)
        return stored

    async def delete(self, name: str) -> bool:
        removed = bool(await self.redis.hdel(VENDORS_KEY, name))
        if removed:
            await self._announce(name)
        return removed

    async def _announce(self, name: str) -> None:
        await self.redis.publish(CHANGES_CHANNEL, change_message("vendor", name))
