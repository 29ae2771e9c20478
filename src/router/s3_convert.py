"""Pure conversions between botocore's S3 request/response dicts and the router's models.

No I/O and no SDK imports: the dicts are shaped by botocore's S3 model (ListObjectsV2, HeadObject,
...). ETags stay exactly as the vendor quoted them. Listings are requested with EncodingType=url
and decoded here, because XML 1.0 cannot carry keys with control characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote_plus

from router.errors import UpstreamError
from router.models import (
    CompletedPart,
    Conditions,
    ListEntry,
    ListPage,
    ObjectInfo,
    PartInfo,
    PartsPage,
    PutOptions,
    UploadInfo,
    UploadsPage,
)

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "checksums",
    "completed_parts",
    "condition_params",
    "content_range",
    "integrity_params",
    "list_page",
    "list_start_after",
    "not_modified_info",
    "object_headers",
    "object_info",
    "parts_page",
    "quoted_etag",
    "uploads_page",
    "write_conditions",
]

# S3's x-amz-checksum-* algorithms as botocore's model names them (ChecksumCRC32, ...).
CHECKSUM_ALGORITHMS = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
# Above every UTF-8 key byte sequence but those continuing with U+10FFFF itself (a noncharacter).
_AFTER_ALL = "\U0010ffff"


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def quoted_etag(value: str | None) -> str:
    """The vendor's ETag as sent when quoted; quoted when it was not (SeaweedFS's CopyObject)."""
    if not value:
        return ""
    return value if value.startswith(('"', 'W/"')) else f'"{value}"'


def checksums(response: Mapping[str, Any]) -> dict[str, str]:
    """Full-object (or part) checksums by algorithm, as the vendor reported them."""
    return {a: v for a in CHECKSUM_ALGORITHMS if (v := response.get(f"Checksum{a}"))}


def content_range(value: str | None) -> tuple[int, int, int] | None:
    """`bytes first-last/total` (RFC 9110 §14.4) → (first, last, total); None if absent/unknown."""
    if not value or not value.startswith("bytes "):
        return None
    span, _, total = value[len("bytes ") :].partition("/")
    first, _, last = span.partition("-")
    if not (first.isdigit() and last.isdigit() and total.isdigit()):
        return None
    return int(first), int(last), int(total)


def object_info(key: str, response: Mapping[str, Any], *, size: int | None = None) -> ObjectInfo:
    """HeadObject / GetObject output → ObjectInfo; `size` overrides ContentLength (a 206)."""
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)) if size is None else size,
        etag=quoted_etag(response.get("ETag")),
        last_modified=utc(response["LastModified"]),
        content_type=response.get("ContentType"),
        content_encoding=response.get("ContentEncoding"),
        content_disposition=response.get("ContentDisposition"),
        content_language=response.get("ContentLanguage"),
        cache_control=response.get("CacheControl"),
        # botocore keeps the raw header here; `Expires` itself may fail to parse.
        expires=response.get("ExpiresString"),
        user_metadata=dict(response.get("Metadata", {})),
        checksums=checksums(response),
        checksum_type=response.get("ChecksumType"),
        storage_class=response.get("StorageClass"),
        parts_count=response.get("PartsCount"),
        version_id=response.get("VersionId"),
        tag_count=response.get("TagCount"),
    )


def not_modified_info(key: str | None, headers: Mapping[str, str]) -> ObjectInfo | None:
    """What a 304 tells (ETag, Last-Modified, caching headers); size is 0: a 304 has no length.

    None unless the vendor sent both ETag and Last-Modified (SeaweedFS omits the latter).
    """
    etag, modified = quoted_etag(headers.get("etag")), headers.get("last-modified")
    if key is None or not etag or not modified:
        return None
    try:
        last_modified = utc(parsedate_to_datetime(modified))
    except (TypeError, ValueError):
        return None
    return ObjectInfo(
        key=key,
        size=0,
        etag=etag,
        last_modified=last_modified,
        cache_control=headers.get("cache-control"),
        expires=headers.get("expires"),
    )


def object_headers(options: PutOptions) -> dict[str, Any]:
    """Stored object attributes: PutObject, CreateMultipartUpload, CopyObject (REPLACE)."""
    params: dict[str, Any] = {
        "ContentType": options.content_type,
        "ContentEncoding": options.content_encoding,
        "ContentDisposition": options.content_disposition,
        "ContentLanguage": options.content_language,
        "CacheControl": options.cache_control,
        "Expires": options.expires,
        "Tagging": options.tagging,
        "StorageClass": options.storage_class,
    }
    params = {k: v for k, v in params.items() if v is not None}
    if options.user_metadata:
        params["Metadata"] = dict(options.user_metadata)
    return params


def integrity_params(options: PutOptions) -> dict[str, Any]:
    """Content-MD5 / x-amz-checksum-* of a body upload, forwarded so the vendor verifies them.

    A checksum *value* goes in its x-amz-checksum-* member; the algorithm member is never set,
    because botocore would then compute the checksum itself, reading the whole body first.
    """
    params: dict[str, Any] = {}
    if options.content_md5:
        params["ContentMD5"] = options.content_md5
    if options.checksum_algorithm and options.checksum_value:
        algorithm = options.checksum_algorithm.upper()
        if algorithm not in CHECKSUM_ALGORITHMS:
            raise UpstreamError("InvalidArgument", 400)
        params[f"Checksum{algorithm}"] = options.checksum_value
    return params


def write_conditions(options: PutOptions) -> dict[str, Any]:
    """Conditional write: If-None-Match: * / If-Match: <etag> (PutObject, CompleteMultipart)."""
    params: dict[str, Any] = {}
    if options.if_none_match:
        params["IfNoneMatch"] = options.if_none_match
    if options.if_match:
        params["IfMatch"] = options.if_match
    return params


def condition_params(conditions: Conditions | None, *, prefix: str = "") -> dict[str, Any]:
    """RFC 7232 preconditions as botocore members; prefix "CopySource" for a copy's source."""
    if conditions is None:
        return {}
    params = {
        f"{prefix}IfMatch": conditions.if_match,
        f"{prefix}IfNoneMatch": conditions.if_none_match,
        f"{prefix}IfModifiedSince": conditions.if_modified_since,
        f"{prefix}IfUnmodifiedSince": conditions.if_unmodified_since,
    }
    return {k: v for k, v in params.items() if v is not None}


def list_start_after(start_after: str | None, prefix: str, delimiter: str | None) -> str | None:
    """The StartAfter to send: a common prefix as marker must skip every key it rolled up.

    With a delimiter, a key below `prefix` never contains it (it would have been rolled up), so a
    marker that does is a common prefix; sending it as-is would list its keys, and so the same
    prefix, again.
    """
    rolled_up = (
        start_after is not None
        and delimiter
        and start_after.startswith(prefix)
        and delimiter in start_after[len(prefix) :]
    )
    return start_after + _AFTER_ALL if rolled_up and start_after else start_after


def _same(value: str) -> str:
    return value


def _decoder(response: Mapping[str, Any], values: Sequence[str]) -> Callable[[str], str]:
    """S3's encoding-type=url is form encoding (space as '+'), hence unquote_plus.

    An encoded value is printable ASCII without spaces; a value that is not proves the vendor
    ignored the request yet echoed EncodingType=url (SeaweedFS's ListMultipartUploads does).
    """
    if response.get("EncodingType") != "url":
        return _same
    if any(not v.isascii() or any(c <= " " or c == "\x7f" for c in v) for v in values):
        return _same
    return unquote_plus


def list_page(response: Mapping[str, Any], *, start_after: str | None) -> ListPage:
    items, prefixes_raw = response.get("Contents", []), response.get("CommonPrefixes", [])
    decode = _decoder(response, [i["Key"] for i in items] + [p["Prefix"] for p in prefixes_raw])
    entries = [
        ListEntry(
            key=decode(item["Key"]),
            size=int(item.get("Size", 0)),
            etag=quoted_etag(item.get("ETag")),
            last_modified=utc(item["LastModified"]),
            storage_class=item.get("StorageClass") or "STANDARD",
        )
        for item in items
    ]
    prefixes = [decode(p["Prefix"]) for p in prefixes_raw]
    truncated = bool(response.get("IsTruncated", False))
    covered = [entries[-1].key] if entries else []
    covered += prefixes[-1:]
    # Keys and prefixes interleave in key order, so the page ends at the greater of the two
    # (code-point order is UTF-8 byte order, which is S3's).
    last = max(covered) if covered else start_after
    return ListPage(entries, prefixes, truncated, last if truncated else None)


def parts_page(response: Mapping[str, Any]) -> PartsPage:
    parts = [
        PartInfo(
            part_number=int(p["PartNumber"]),
            etag=quoted_etag(p.get("ETag")),
            size=int(p.get("Size", 0)),
            last_modified=utc(p["LastModified"]),
            checksums=checksums(p),
        )
        for p in response.get("Parts", [])
    ]
    truncated = bool(response.get("IsTruncated", False))
    marker = response.get("NextPartNumberMarker")
    return PartsPage(
        parts,
        truncated,
        int(marker) if truncated and marker is not None else None,
        response.get("StorageClass") or "STANDARD",
    )


def uploads_page(response: Mapping[str, Any]) -> UploadsPage:
    items, prefixes_raw = response.get("Uploads", []), response.get("CommonPrefixes", [])
    decode = _decoder(response, [u["Key"] for u in items] + [p["Prefix"] for p in prefixes_raw])
    uploads = [
        UploadInfo(
            key=decode(u["Key"]),
            upload_id=u["UploadId"],
            initiated=utc(u["Initiated"]),
            storage_class=u.get("StorageClass") or "STANDARD",
        )
        for u in items
    ]
    prefixes = [decode(p["Prefix"]) for p in prefixes_raw]
    truncated = bool(response.get("IsTruncated", False))
    next_key = response.get("NextKeyMarker")
    return UploadsPage(
        uploads,
        prefixes,
        truncated,
        decode(next_key) if truncated and next_key else None,
        response.get("NextUploadIdMarker") if truncated else None,
    )


def completed_parts(parts: Sequence[CompletedPart]) -> dict[str, Any]:
    """The MultipartUpload member of CompleteMultipartUpload."""
    items: list[dict[str, Any]] = []
    for part in parts:
        item: dict[str, Any] = {"PartNumber": part.part_number, "ETag": part.etag}
        for algorithm, value in part.checksums.items():
            item[f"Checksum{algorithm.upper()}"] = value
        items.append(item)
    return {"Parts": items}
