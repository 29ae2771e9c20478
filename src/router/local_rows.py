"""Rows of the local vendor's index as values: objects, their metadata and tags, write guards.

Pure conversions between SQLite tuples, the PutOptions a client sent and the router models.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from router.errors import UpstreamError
from router.models import ObjectInfo, PutOptions
from router.preconditions import etag_matches

__all__ = [
    "OBJECT_COLUMNS",
    "ObjectMeta",
    "ObjectRow",
    "PutGuard",
    "Tags",
    "from_ms",
    "now_ms",
    "object_from_sql",
    "object_to_sql",
    "options_from_json",
    "options_to_json",
    "parse_tagging",
    "tags_to_json",
    "validate_tags",
]

Tags = tuple[tuple[str, str], ...]

OBJECT_COLUMNS = (
    "key", "blob", "size", "etag", "last_modified",
    "content_type", "content_encoding", "content_disposition", "content_language",
    "cache_control", "expires", "user_metadata", "checksums", "checksum_type", "tags",
    "storage_class", "parts_count", "part_sizes",
)  # fmt: skip
STANDARD = "STANDARD"
# S3 object tagging limits (AWS "Categorizing your storage using tags").
_MAX_TAGS = 10
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def from_ms(ms: int, *, whole_seconds: bool = False) -> datetime:
    # S3 reports Last-Modified at whole seconds (headers, listings and conditionals all agree).
    return datetime.fromtimestamp((ms // 1000) if whole_seconds else ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """What a writer sets and a copy takes from its source (COPY) or its request (REPLACE)."""

    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    storage_class: str = STANDARD

    @classmethod
    def from_options(cls, options: PutOptions) -> ObjectMeta:
        return cls(
            content_type=options.content_type,
            content_encoding=options.content_encoding,
            content_disposition=options.content_disposition,
            content_language=options.content_language,
            cache_control=options.cache_control,
            expires=options.expires,
            user_metadata=dict(options.user_metadata),
            storage_class=options.storage_class or STANDARD,
        )


@dataclass(frozen=True, slots=True)
class ObjectRow:
    key: str
    blob: str
    size: int
    etag: str
    last_modified_ms: int
    meta: ObjectMeta
    checksums: Mapping[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    tags: Tags = ()
    part_sizes: tuple[int, ...] | None = None

    @property
    def parts_count(self) -> int | None:
        return None if self.part_sizes is None else len(self.part_sizes)

    def with_last_modified(self, ms: int) -> ObjectRow:
        return replace(self, last_modified_ms=ms)

    def to_info(self) -> ObjectInfo:
        meta = self.meta
        return ObjectInfo(
            key=self.key,
            size=self.size,
            etag=self.etag,
            last_modified=from_ms(self.last_modified_ms, whole_seconds=True),
            content_type=meta.content_type,
            content_encoding=meta.content_encoding,
            content_disposition=meta.content_disposition,
            content_language=meta.content_language,
            cache_control=meta.cache_control,
            expires=meta.expires,
            user_metadata=dict(meta.user_metadata),
            checksums=dict(self.checksums),
            checksum_type=self.checksum_type,
            storage_class=meta.storage_class,
            parts_count=self.parts_count,
            tag_count=len(self.tags) or None,
        )


def object_to_sql(row: ObjectRow) -> tuple[Any, ...]:
    m = row.meta
    return (
        row.key, row.blob, row.size, row.etag, row.last_modified_ms,
        m.content_type, m.content_encoding, m.content_disposition, m.content_language,
        m.cache_control, m.expires, _json(dict(m.user_metadata)), _json(dict(row.checksums)),
        row.checksum_type, tags_to_json(row.tags), m.storage_class, row.parts_count,
        None if row.part_sizes is None else _json(list(row.part_sizes)),
    )  # fmt: skip


def object_from_sql(values: Sequence[Any]) -> ObjectRow:
    (key, blob, size, etag, last_modified, ctype, cenc, cdisp, clang, cache, expires,
     user_metadata, checksums, checksum_type, tags, storage_class, _, part_sizes,
     ) = values  # fmt: skip
    meta = ObjectMeta(
        ctype, cenc, cdisp, clang, cache, expires, json.loads(user_metadata), storage_class
    )
    return ObjectRow(
        key=key,
        blob=blob,
        size=size,
        etag=etag,
        last_modified_ms=last_modified,
        meta=meta,
        checksums=json.loads(checksums),
        checksum_type=checksum_type,
        tags=tuple((k, v) for k, v in json.loads(tags)),
        part_sizes=None if part_sizes is None else tuple(json.loads(part_sizes)),
    )


@dataclass(frozen=True, slots=True)
class PutGuard:
    """A conditional write (AWS "Conditional writes"): checked under the index's write lock."""

    if_match: str | None = None
    if_none_match: str | None = None

    @classmethod
    def from_options(cls, options: PutOptions) -> PutGuard | None:
        if options.if_match is None and options.if_none_match is None:
            return None
        return cls(options.if_match, options.if_none_match)

    def check(self, current: ObjectRow | None) -> None:
        if current is None:
            if self.if_match is not None:
                raise UpstreamError("NoSuchKey", 404)
            return
        # `If-None-Match: *` matches any existing object, so it is 412 whenever the key exists.
        if self.if_none_match is not None and etag_matches(
            self.if_none_match, current.etag, weak=True
        ):
            raise UpstreamError("PreconditionFailed", 412)
        if self.if_match is not None and not etag_matches(self.if_match, current.etag):
            raise UpstreamError("PreconditionFailed", 412)


def parse_tagging(header: str | None) -> Tags:
    """The URL-encoded `x-amz-tagging` value ("a=1&b=2") as validated (key, value) pairs."""
    if not header:
        return ()
    tags = tuple(parse_qsl(header, keep_blank_values=True))
    validate_tags(tags)
    return tags


def validate_tags(tags: Sequence[tuple[str, str]]) -> None:
    if len(tags) > _MAX_TAGS:
        raise UpstreamError("BadRequest", 400)  # "Object tags cannot be greater than 10"
    seen: set[str] = set()
    for key, value in tags:
        if not key or len(key) > _MAX_TAG_KEY or len(value) > _MAX_TAG_VALUE or key in seen:
            raise UpstreamError("InvalidTag", 400)
        seen.add(key)


def tags_to_json(tags: Tags) -> str:
    return _json([list(pair) for pair in tags])


def options_to_json(options: PutOptions) -> str:
    values: dict[str, Any] = {f.name: getattr(options, f.name) for f in fields(options)}
    values["user_metadata"] = dict(options.user_metadata)
    return _json(values)


def options_from_json(text: str) -> PutOptions:
    values = json.loads(text)
    known = {f.name for f in fields(PutOptions)}
    return PutOptions(**{k: v for k, v in values.items() if k in known})


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
