"""Multipart uploads: Create, UploadPart(Copy), Complete, Abort, ListParts, ListMultipartUploads."""

from __future__ import annotations

import re

from gateway.body import read_body, read_small_body, upload_through
from gateway.cache_read import forget
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.handlers.copy import COPY_PREFIX, COPY_SOURCE, parse_copy_source
from gateway.handlers.objects import MAX_PART_NUMBER
from gateway.handlers.tagging import parse_tag_header
from gateway.headers import conditions_from, put_options_from
from gateway.results import Empty, Result, Xml
from gateway.s3xml import Doc, iso8601, parse_complete_multipart
from router.models import CompletedPart

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_multipart_uploads",
    "list_parts",
    "upload_part",
    "upload_part_copy",
]

MAX_PART_SIZE = 5 * 1024**3
_COPY_RANGE = re.compile(r"^bytes=(\d{1,19})-(\d{1,19})$")


def _upload_id(ctx: RequestContext) -> str:
    upload_id = ctx.target.query.get("uploadId", "")
    if not upload_id:
        raise S3Error("NoSuchUpload")
    return upload_id


def _part_number(ctx: RequestContext) -> int:
    raw = ctx.target.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
        raise S3Error(
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            fields={"ArgumentName": "partNumber", "ArgumentValue": raw},
        )
    return int(raw)


def _int_param(ctx: RequestContext, name: str, default: int, cap: int) -> int:
    raw = ctx.target.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise S3Error(
            "InvalidArgument",
            f"Provided {name} not an integer or within integer range",
            fields={"ArgumentName": name, "ArgumentValue": raw},
        )
    return min(int(raw), cap)


async def create_multipart_upload(ctx: RequestContext) -> Result:
    options = put_options_from(ctx.request.headers, with_conditions=False)
    if options.tagging is not None:
        parse_tag_header(options.tagging)
    view = await ctx.services.router.view(ctx.bucket)
    upload_id = await view.create_multipart_upload(ctx.key, options)
    doc = Doc("InitiateMultipartUploadResult").leaf("Bucket", ctx.bucket).leaf("Key", ctx.key)
    doc.leaf("UploadId", upload_id)
    headers = {}
    algorithm = ctx.request.headers.get("x-amz-checksum-algorithm")
    if algorithm:
        headers["x-amz-checksum-algorithm"] = algorithm.upper()
    return Xml(doc.render(), headers=headers)


async def upload_part(ctx: RequestContext) -> Result:
    upload_id, number = _upload_id(ctx), _part_number(ctx)
    view = await ctx.services.router.view(ctx.bucket)
    body = await read_body(ctx, max_size=MAX_PART_SIZE)
    options = put_options_from(ctx.request.headers, with_conditions=False)
    result = await upload_through(
        body,
        lambda opts: view.upload_part(ctx.key, upload_id, number, body.chunks(), body.length, opts),
        options,
    )
    headers = {"ETag": result.etag}
    if body.checksum is not None:
        headers["x-amz-checksum-" + body.checksum[0].lower()] = body.checksum[1]
    return Empty(headers=headers)


async def upload_part_copy(ctx: RequestContext) -> Result:
    upload_id, number = _upload_id(ctx), _part_number(ctx)
    src_bucket, src_key = parse_copy_source(ctx.request.headers[COPY_SOURCE])
    byte_range = None
    raw_range = ctx.request.headers.get("x-amz-copy-source-range")
    if raw_range is not None:
        m = _COPY_RANGE.match(raw_range.strip())
        if m is None or int(m.group(1)) > int(m.group(2)):
            raise S3Error(
                "InvalidArgument",
                "The x-amz-copy-source-range value must be of the "
                "form bytes=first-last where first and last are the zero-based offsets "
                "of the first and last bytes to copy",
            )
        byte_range = (int(m.group(1)), int(m.group(2)))
    router = ctx.services.router
    source, dest = await router.view(src_bucket), await router.view(ctx.bucket)
    result = await dest.upload_part_copy(
        source,
        src_key,
        ctx.key,
        upload_id,
        number,
        byte_range=byte_range,
        source_conditions=conditions_from(ctx.request.headers, COPY_PREFIX),
    )
    doc = Doc("CopyPartResult").leaf("ETag", result.etag)
    doc.leaf("LastModified", iso8601(result.last_modified))
    return Xml(doc.render())


async def complete_multipart_upload(ctx: RequestContext) -> Result:
    upload_id = _upload_id(ctx)
    raw_parts = parse_complete_multipart(await read_small_body(ctx))
    numbers = [n for n, _, _ in raw_parts]
    if any(not 1 <= n <= MAX_PART_NUMBER for n in numbers):
        raise S3Error("InvalidPart")
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise S3Error("InvalidPartOrder")
    parts = [
        CompletedPart(n, etag if etag.startswith('"') else f'"{etag}"', sums)
        for n, etag, sums in raw_parts
    ]
    view = await ctx.services.router.view(ctx.bucket)
    try:
        result = await view.complete_multipart_upload(ctx.key, upload_id, parts)
    finally:
        await forget(ctx, ctx.key)
    doc = Doc("CompleteMultipartUploadResult")
    doc.leaf("Location", f"/{ctx.bucket}/{ctx.key}").leaf("Bucket", ctx.bucket)
    doc.leaf("Key", ctx.key).leaf("ETag", result.etag)
    return Xml(doc.render())


async def abort_multipart_upload(ctx: RequestContext) -> Result:
    view = await ctx.services.router.view(ctx.bucket)
    await view.abort_multipart_upload(ctx.key, _upload_id(ctx))
    return Empty(status=204)


async def list_parts(ctx: RequestContext) -> Result:
    upload_id = _upload_id(ctx)
    max_parts = _int_param(ctx, "max-parts", 1000, 1000)
    marker = _int_param(ctx, "part-number-marker", 0, MAX_PART_NUMBER)
    view = await ctx.services.router.view(ctx.bucket)
    page = await view.list_parts(ctx.key, upload_id, max_parts=max_parts, part_number_marker=marker)
    doc = Doc("ListPartsResult").leaf("Bucket", ctx.bucket).leaf("Key", ctx.key)
    doc.leaf("UploadId", upload_id).leaf("PartNumberMarker", marker)
    if page.next_part_number_marker is not None:
        doc.leaf("NextPartNumberMarker", page.next_part_number_marker)
    doc.leaf("MaxParts", max_parts).leaf("IsTruncated", page.is_truncated)
    doc.leaf("StorageClass", page.storage_class)
    for p in page.parts:
        doc.open("Part").leaf("PartNumber", p.part_number)
        doc.leaf("LastModified", iso8601(p.last_modified)).leaf("ETag", p.etag).leaf("Size", p.size)
        for alg, value in p.checksums.items():
            doc.leaf("Checksum" + alg, value)
        doc.close()
    return Xml(doc.render())


async def list_multipart_uploads(ctx: RequestContext) -> Result:
    q = ctx.target.query
    max_uploads = _int_param(ctx, "max-uploads", 1000, 1000)
    view = await ctx.services.router.view(ctx.bucket)
    page = await view.list_multipart_uploads(
        prefix=q.get("prefix", ""),
        delimiter=q.get("delimiter") or None,
        key_marker=q.get("key-marker") or None,
        upload_id_marker=q.get("upload-id-marker") or None,
        max_uploads=max_uploads,
    )
    doc = Doc("ListMultipartUploadsResult").leaf("Bucket", ctx.bucket)
    doc.leaf("KeyMarker", q.get("key-marker", "")).leaf(
        "UploadIdMarker", q.get("upload-id-marker", "")
    )
    doc.leaf("NextKeyMarker", page.next_key_marker or "")
    doc.leaf("NextUploadIdMarker", page.next_upload_id_marker or "")
    doc.leaf("Prefix", q.get("prefix", ""))
    if q.get("delimiter"):
        doc.leaf("Delimiter", q["delimiter"])
    doc.leaf("MaxUploads", max_uploads).leaf("IsTruncated", page.is_truncated)
    for u in page.uploads:
        doc.open("Upload").leaf("Key", u.key).leaf("UploadId", u.upload_id)
        doc.leaf("StorageClass", u.storage_class).leaf("Initiated", iso8601(u.initiated)).close()
    for p in page.common_prefixes:
        doc.open("CommonPrefixes").leaf("Prefix", p).close()
    return Xml(doc.render())
