"""CopyObject, and the `x-amz-copy-source` parsing UploadPartCopy shares."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import unquote_to_bytes

from gateway.cache_read import forget
from gateway.context import RequestContext
from gateway.dispatch import validate_bucket_name, validate_key
from gateway.errors import S3Error
from gateway.headers import conditions_from, put_options_from
from gateway.results import Result, Xml
from gateway.s3xml import Doc, iso8601
from router.models import CopyResult, PutOptions
from router.pbucket import BucketView

__all__ = ["copy_object", "parse_copy_source"]

COPY_SOURCE = "x-amz-copy-source"
COPY_PREFIX = "x-amz-copy-source-"


def parse_copy_source(value: str) -> tuple[str, str]:
    """`/bucket/key` or `bucket/key`, URL-encoded, optional `?versionId=` -> (bucket, key)."""
    path, _, query = value.partition("?")
    if query:
        # Versioned copy sources arrive with versioning support.
        raise S3Error("NotImplemented", "Copying a specific version is not supported.")
    try:
        decoded = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", "Invalid copy source encoding.") from None
    bucket, sep, key = decoded.lstrip("/").partition("/")
    if not sep or not bucket or not key:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            fields={"ArgumentName": COPY_SOURCE},
        )
    validate_bucket_name(bucket)
    validate_key(key)
    return bucket, key


def _directive(ctx: RequestContext, header: str) -> bool:
    value = ctx.request.headers.get(header, "COPY").upper()
    if value not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", f"Unknown {header}.", fields={"ArgumentName": header})
    return value == "REPLACE"


async def copy_object(ctx: RequestContext) -> Result:
    src_bucket, src_key = parse_copy_source(ctx.request.headers[COPY_SOURCE])
    replace_meta = _directive(ctx, "x-amz-metadata-directive")
    replace_tags = _directive(ctx, "x-amz-tagging-directive")
    options = put_options_from(ctx.request.headers, with_conditions=False)
    if not replace_tags:
        options = replace(options, tagging=None)
    if (
        (src_bucket, src_key) == (ctx.bucket, ctx.key)
        and not replace_meta
        and (options.storage_class is None)
    ):
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes.",
        )
    router = ctx.services.router
    source, dest = await router.view(src_bucket), await router.view(ctx.bucket)
    try:
        result = await _copy(ctx, dest, source, src_key, options, replace_meta, replace_tags)
    finally:
        await forget(ctx, ctx.key)
    doc = Doc("CopyObjectResult").leaf("ETag", result.etag)
    doc.leaf("LastModified", iso8601(result.last_modified))
    return Xml(doc.render())


async def _copy(
    ctx: RequestContext,
    dest: BucketView,
    source: BucketView,
    src_key: str,
    options: PutOptions,
    replace_meta: bool,
    replace_tags: bool,
) -> CopyResult:
    return await dest.copy_from(
        source,
        src_key,
        ctx.key,
        options=options,
        replace_metadata=replace_meta,
        replace_tagging=replace_tags,
        source_conditions=conditions_from(ctx.request.headers, COPY_PREFIX),
    )
