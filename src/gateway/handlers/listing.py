"""ListObjects (v1) and ListObjectsV2, with S3's pagination and `encoding-type=url`.

Continuation tokens are ours (the last key a page covered, encoded), never a vendor's: the
same pagination works over any vendor and, later, over several vendors merged.

With a block cache on the node, pages come through the listing-page cache
(`gateway.cache_list`); the response says which in `x-pcache-cache` (hit, miss or bypass).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable
from urllib.parse import quote

from gateway.cache_list import cached_list
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.handlers.buckets import owner_id
from gateway.handlers.objects import X_PCACHE_CACHE
from gateway.results import Result, Xml
from gateway.s3xml import Doc, iso8601
from router.models import ListPage

__all__ = ["decode_token", "encode_token", "list_objects", "list_objects_v2"]

MAX_KEYS = 1000
_TOKEN_PREFIX = b"pc1:"


def encode_token(start_after: str) -> str:
    return base64.urlsafe_b64encode(_TOKEN_PREFIX + start_after.encode()).decode()


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if not raw.startswith(_TOKEN_PREFIX):
            raise ValueError
        return raw[len(_TOKEN_PREFIX) :].decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise S3Error(
            "InvalidArgument",
            "The continuation token provided is incorrect",
            fields={"ArgumentName": "continuation-token"},
        ) from None


def _max_keys(q: dict[str, str]) -> int:
    raw = q.get("max-keys")
    if raw is None:
        return MAX_KEYS
    if not raw.lstrip("-").isdigit() or int(raw) < 0:
        raise S3Error(
            "InvalidArgument",
            "Provided max-keys not an integer or within integer range",
            fields={"ArgumentName": "max-keys", "ArgumentValue": raw},
        )
    return min(int(raw), MAX_KEYS)


def _encoder(q: dict[str, str]):  # type: ignore[no-untyped-def]
    enc = q.get("encoding-type")
    if enc is None:
        return None, lambda s: s
    if enc.lower() != "url":
        raise S3Error(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            fields={"ArgumentName": "encoding-type"},
        )
    return "url", lambda s: quote(s, safe="/")


async def _page(
    ctx: RequestContext, start_after: str | None, max_keys: int
) -> tuple[ListPage, dict[str, str]]:
    """The page, and the response headers that say where it came from."""
    q = ctx.target.query
    delimiter = q.get("delimiter") or None
    prefix = q.get("prefix", "")
    # Resolved first, cache or not: a deleted PBucket answers NoSuchBucket, never a cached page.
    view = await ctx.services.router.view(ctx.bucket)
    if max_keys == 0:
        return ListPage(entries=[], common_prefixes=[], is_truncated=False), {}

    def fetch() -> Awaitable[ListPage]:
        return view.list_objects(
            prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=start_after
        )

    cache = ctx.services.cache
    if cache is None:
        return await fetch(), {}
    page, result = await cached_list(
        cache,
        view.pbucket,
        prefix=prefix,
        delimiter=delimiter,
        start_after=start_after,
        max_keys=max_keys,
        fetch=fetch,
    )
    return page, {X_PCACHE_CACHE: result}


def _contents(doc: Doc, page: ListPage, enc, *, owner: str | None) -> None:  # type: ignore[no-untyped-def]
    for e in page.entries:
        doc.open("Contents").leaf("Key", enc(e.key)).leaf("LastModified", iso8601(e.last_modified))
        doc.leaf("ETag", e.etag).leaf("Size", e.size)
        if owner is not None:
            doc.open("Owner").leaf("ID", owner_id(owner)).leaf("DisplayName", owner).close()
        doc.leaf("StorageClass", e.storage_class).close()
    for p in page.common_prefixes:
        doc.open("CommonPrefixes").leaf("Prefix", enc(p)).close()


async def list_objects_v2(ctx: RequestContext) -> Result:
    q = dict(ctx.target.query)
    enc_name, enc = _encoder(q)
    max_keys = _max_keys(q)
    token = q.get("continuation-token")
    start_after = decode_token(token) if token is not None else (q.get("start-after") or None)
    page, headers = await _page(ctx, start_after, max_keys)
    doc = Doc("ListBucketResult").leaf("Name", ctx.bucket).leaf("Prefix", enc(q.get("prefix", "")))
    if q.get("delimiter"):
        doc.leaf("Delimiter", enc(q["delimiter"]))
    doc.leaf("MaxKeys", max_keys).leaf("KeyCount", len(page.entries) + len(page.common_prefixes))
    doc.leaf("IsTruncated", page.is_truncated)
    if token is not None:
        doc.leaf("ContinuationToken", token)
    if page.is_truncated and page.next_start_after is not None:
        doc.leaf("NextContinuationToken", encode_token(page.next_start_after))
    if q.get("start-after"):
        doc.leaf("StartAfter", enc(q["start-after"]))
    doc.leaf("EncodingType", enc_name)
    fetch_owner = q.get("fetch-owner", "").lower() == "true"
    pb = await ctx.services.router.get(ctx.bucket)
    _contents(doc, page, enc, owner=(pb.owner if pb else "root") if fetch_owner else None)
    return Xml(doc.render(), headers=headers)


async def list_objects(ctx: RequestContext) -> Result:
    q = dict(ctx.target.query)
    enc_name, enc = _encoder(q)
    max_keys = _max_keys(q)
    marker = q.get("marker") or None
    page, headers = await _page(ctx, marker, max_keys)
    doc = Doc("ListBucketResult").leaf("Name", ctx.bucket).leaf("Prefix", enc(q.get("prefix", "")))
    doc.leaf("Marker", enc(marker or ""))
    if page.is_truncated and page.next_start_after is not None:
        doc.leaf("NextMarker", enc(page.next_start_after))
    doc.leaf("MaxKeys", max_keys)
    if q.get("delimiter"):
        doc.leaf("Delimiter", enc(q["delimiter"]))
    doc.leaf("IsTruncated", page.is_truncated).leaf("EncodingType", enc_name)
    pb = await ctx.services.router.get(ctx.bucket)
    _contents(doc, page, enc, owner=pb.owner if pb else "root")
    return Xml(doc.render(), headers=headers)
