"""PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration, DeleteBucketLifecycle: one
lifecycle configuration per PBucket, validated as S3 validates it (`ttl.lifecycle_xml`,
`ttl.validate`) and kept in Redis by `ttl.store`. The jobs that act on it read the same store.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from gateway.body import read_small_body
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.results import Empty, Result, Xml
from ttl.lifecycle_xml import MAX_LIFECYCLE_XML, parse_lifecycle, render_lifecycle
from ttl.rules import MinObjectSize
from ttl.store import LifecycleStore

__all__ = [
    "delete_bucket_lifecycle",
    "get_bucket_lifecycle_configuration",
    "put_bucket_lifecycle_configuration",
]

MIN_SIZE_HEADER = "x-amz-transition-default-minimum-object-size"
# A thousand-rule document takes ~0.2 s to parse and ~0.1 s to render: past these sizes the
# work goes to a thread so the event loop keeps serving other requests.
_THREAD_BODY = 64 * 1024
_THREAD_RULES = 100


def _store(ctx: RequestContext) -> LifecycleStore:
    # The node's one Redis client (the router's); a store is a thin wrapper, cheap per request.
    return LifecycleStore(ctx.services.router.redis)


async def _existing(ctx: RequestContext) -> None:
    if await ctx.services.router.get(ctx.bucket) is None:
        raise S3Error("NoSuchBucket", fields={"BucketName": ctx.bucket})


def _integrity_header(ctx: RequestContext) -> None:
    """S3 requires Content-MD5 or an x-amz-checksum-* on this PUT (SDKs send a CRC32)."""
    headers = ctx.request.headers
    if "Content-MD5" in headers:
        return
    if any(
        h.lower().startswith("x-amz-checksum-") or h.lower() == "x-amz-trailer" for h in headers
    ):
        return
    raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")


def _min_object_size(ctx: RequestContext) -> MinObjectSize:
    value = ctx.request.headers.get(MIN_SIZE_HEADER)
    if value is None:
        return MinObjectSize.ALL_128K  # S3's default since September 2024
    try:
        return MinObjectSize(value)
    except ValueError:
        raise S3Error(
            "InvalidRequest", f"Invalid TransitionDefaultMinimumObjectSize found: {value}"
        ) from None


async def put_bucket_lifecycle_configuration(ctx: RequestContext) -> Result:
    await _existing(ctx)
    _integrity_header(ctx)
    min_size = _min_object_size(ctx)
    try:
        body = await read_small_body(ctx, limit=MAX_LIFECYCLE_XML)
    except S3Error as err:
        if err.code == "EntityTooLarge":  # like every oversized XML document (s3xml)
            raise S3Error("MalformedXML") from None
        raise
    if len(body) > _THREAD_BODY:
        parsed = await asyncio.to_thread(parse_lifecycle, body)
    else:
        parsed = parse_lifecycle(body)
    config = replace(parsed, min_object_size=min_size)
    store = _store(ctx)
    await store.put(ctx.bucket, config)
    if await ctx.services.router.get(ctx.bucket) is None:
        # DeleteBucket ran meanwhile: the rules must not outlive it into a new bucket of the
        # same name.
        await store.delete(ctx.bucket)
        raise S3Error("NoSuchBucket", fields={"BucketName": ctx.bucket})
    return Empty(headers={MIN_SIZE_HEADER: min_size.value})


async def get_bucket_lifecycle_configuration(ctx: RequestContext) -> Result:
    await _existing(ctx)
    config = await _store(ctx).get(ctx.bucket)
    if config is None:
        raise S3Error("NoSuchLifecycleConfiguration", fields={"BucketName": ctx.bucket})
    if len(config.rules) > _THREAD_RULES:
        body = await asyncio.to_thread(render_lifecycle, config)
    else:
        body = render_lifecycle(config)
    return Xml(body, headers={MIN_SIZE_HEADER: config.min_object_size.value})


async def delete_bucket_lifecycle(ctx: RequestContext) -> Result:
    await _existing(ctx)
    await _store(ctx).delete(ctx.bucket)  # 204 whether there was one or not, as S3
    return Empty(status=204)
