"""Request headers -> router values, and object info -> response headers (named constants)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from gateway.errors import S3Error
from router.models import Conditions, ObjectInfo, PutOptions

__all__ = [
    "conditions_from",
    "http_date",
    "object_headers",
    "parse_http_date",
    "put_options_from",
]

X_AMZ_META = "x-amz-meta-"
X_AMZ_TAGGING = "x-amz-tagging"
X_AMZ_STORAGE_CLASS = "x-amz-storage-class"
X_AMZ_CHECKSUM = "x-amz-checksum-"
X_AMZ_CHECKSUM_MODE = "x-amz-checksum-mode"
MAX_USER_METADATA = 2048  # AWS: user-defined metadata is limited to 2 KB (names + values, UTF-8)

_CONTENT_HEADERS = (
    ("content_type", "Content-Type"),
    ("content_encoding", "Content-Encoding"),
    ("content_disposition", "Content-Disposition"),
    ("content_language", "Content-Language"),
    ("cache_control", "Cache-Control"),
    ("expires", "Expires"),
)
STORAGE_CLASSES = frozenset(
    [
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    ]
)


@functools.lru_cache(maxsize=4096)
def http_date(ts: datetime) -> str:
    # Memoised: every hit of an object formats the same Last-Modified (email.utils is slow).
    return format_datetime(ts.astimezone(UTC), usegmt=True)


def parse_http_date(value: str | None) -> datetime | None:
    """RFC 9110 §5.6.7; an invalid date is ignored, as the RFC says for If-Modified-Since."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def conditions_from(headers: Mapping[str, str], prefix: str = "") -> Conditions:
    """If-* headers, or `x-amz-copy-source-if-*` with prefix="x-amz-copy-source-"."""
    return Conditions(
        if_match=headers.get(prefix + "if-match"),
        if_none_match=headers.get(prefix + "if-none-match"),
        if_modified_since=parse_http_date(headers.get(prefix + "if-modified-since")),
        if_unmodified_since=parse_http_date(headers.get(prefix + "if-unmodified-since")),
    )


def user_metadata_from(headers: Mapping[str, str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    size = 0
    for name, value in headers.items():
        lname = name.lower()
        if lname.startswith(X_AMZ_META):
            short = lname[len(X_AMZ_META) :]
            meta[short] = value
            size += len(short.encode()) + len(value.encode())
    if size > MAX_USER_METADATA:
        raise S3Error("MetadataTooLarge", fields={"MaxSizeAllowed": str(MAX_USER_METADATA)})
    return meta


def _stored_encoding(value: str | None) -> str | None:
    """Strip the `aws-chunked` transfer coding: it describes the upload, not the object."""
    if value is None:
        return None
    codings = [c.strip() for c in value.split(",") if c.strip() and c.strip() != "aws-chunked"]
    return ", ".join(codings) or None


def put_options_from(headers: Mapping[str, str], *, with_conditions: bool = True) -> PutOptions:
    storage_class = headers.get(X_AMZ_STORAGE_CLASS)
    if storage_class is not None and storage_class not in STORAGE_CLASSES:
        raise S3Error("InvalidStorageClass")
    return PutOptions(
        content_type=headers.get("Content-Type"),
        content_encoding=_stored_encoding(headers.get("Content-Encoding")),
        content_disposition=headers.get("Content-Disposition"),
        content_language=headers.get("Content-Language"),
        cache_control=headers.get("Cache-Control"),
        expires=headers.get("Expires"),
        user_metadata=user_metadata_from(headers),
        tagging=headers.get(X_AMZ_TAGGING),
        storage_class=storage_class,
        if_none_match=headers.get("If-None-Match") if with_conditions else None,
        if_match=headers.get("If-Match") if with_conditions else None,
    )


def object_headers(info: ObjectInfo, *, with_checksums: bool) -> dict[str, str]:
    """Response headers describing an object (GET, HEAD)."""
    out: dict[str, str] = {
        "ETag": info.etag,
        "Last-Modified": http_date(info.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": info.content_type or "binary/octet-stream",
    }
    for attr, header in _CONTENT_HEADERS[1:]:
        value = getattr(info, attr)
        if value:
            out[header] = value
    for name, value in info.user_metadata.items():
        out[X_AMZ_META + name] = _header_safe(value)
    if info.storage_class and info.storage_class != "STANDARD":
        out[X_AMZ_STORAGE_CLASS] = info.storage_class
    if info.version_id:
        out["x-amz-version-id"] = info.version_id
    if info.tag_count:
        out["x-amz-tagging-count"] = str(info.tag_count)
    if info.parts_count:
        out["x-amz-mp-parts-count"] = str(info.parts_count)
    if with_checksums:
        for alg, value in info.checksums.items():
            out[X_AMZ_CHECKSUM + alg.lower()] = value
        if info.checksums and info.checksum_type:
            out["x-amz-checksum-type"] = info.checksum_type
    return out


def _header_safe(value: str) -> str:
    """Header values must be latin-1 on the wire; S3 sends non-ASCII metadata RFC 2047-free,
    percent-encoded is the least surprising lossless choice for our clients."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return quote(value, safe=" !#$&'()*+,/:;=?@[]~")


RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
