"""Values that cross the router boundary: object info, listings, write options, multipart parts.

Frozen, slotted and free of any SDK type, so the gateway (and later the cache) never sees botocore.
ETags are always carried quoted, exactly as S3 puts them on the wire (`"9b2c..."`, `"abc-3"`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "ByteRange",
    "CompletedPart",
    "Conditions",
    "CopyResult",
    "ListEntry",
    "ListPage",
    "ObjectInfo",
    "ObjectStream",
    "PartInfo",
    "PartsPage",
    "PutOptions",
    "PutResult",
    "UploadInfo",
    "UploadsPage",
    "VendorBucket",
]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One parsed `Range: bytes=` spec, not yet resolved against a size.

    `first`/`last` inclusive as in RFC 9110 §14.1.2; `suffix` set for `bytes=-N` (then
    first/last are None); `last` None for `bytes=N-`.
    """

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def header_value(self) -> str:
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"


@dataclass(frozen=True, slots=True)
class Conditions:
    """RFC 7232 preconditions as sent by the client (GET/HEAD, conditional PUT, copy source)."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None

    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                self.if_match,
                self.if_none_match,
                self.if_modified_since,
                self.if_unmodified_since,
            )
        )


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    # Full-object checksums by algorithm name ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"),
    # base64 as in x-amz-checksum-*. Only present when the vendor reported them.
    checksums: Mapping[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    storage_class: str | None = None
    parts_count: int | None = None
    version_id: str | None = None
    tag_count: int | None = None
    # (first, last) byte of the part a HEAD ?partNumber= asked for; None for a whole object.
    part_range: tuple[int, int] | None = None


@dataclass(slots=True)
class ObjectStream:
    """An open object body. `content_range` is (first, last, total) for a 206, else None.

    The body iterator yields chunks as the vendor sends them (never the whole object); `aclose`
    must be called if the body is not consumed to the end.
    """

    info: ObjectInfo
    body: AsyncIterator[bytes]
    content_length: int
    content_range: tuple[int, int, int] | None = None

    async def aclose(self) -> None:
        aclose = getattr(self.body, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass(frozen=True, slots=True)
class PutOptions:
    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    # URL-encoded tag set as in the x-amz-tagging header ("a=1&b=2").
    tagging: str | None = None
    storage_class: str | None = None
    # Checksums the gateway verified while streaming; forwarded so the vendor stores them.
    content_md5: str | None = None
    checksum_algorithm: str | None = None
    checksum_value: str | None = None
    # Conditional write: If-None-Match: * and If-Match: <etag>.
    if_none_match: str | None = None
    if_match: str | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    etag: str
    version_id: str | None = None
    checksum_algorithm: str | None = None
    checksum_value: str | None = None


@dataclass(frozen=True, slots=True)
class CopyResult:
    etag: str
    last_modified: datetime
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class ListEntry:
    key: str
    size: int
    etag: str
    last_modified: datetime
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a flat key-ordered listing; `common_prefixes` already rolled up by delimiter.

    `next_start_after` is the last key or common prefix this page covered: the gateway builds V1
    NextMarker and V2 continuation tokens from it, so pagination never depends on a vendor's tokens.
    """

    entries: list[ListEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_start_after: str | None = None


@dataclass(frozen=True, slots=True)
class CompletedPart:
    part_number: int
    etag: str
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    etag: str
    size: int
    last_modified: datetime
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartsPage:
    parts: list[PartInfo]
    is_truncated: bool
    next_part_number_marker: int | None = None
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class UploadInfo:
    key: str
    upload_id: str
    initiated: datetime
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class UploadsPage:
    uploads: list[UploadInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_upload_id_marker: str | None = None


@dataclass(frozen=True, slots=True)
class VendorBucket:
    name: str
    created: datetime
