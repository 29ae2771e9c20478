"""GetObject, HeadObject, PutObject, DeleteObject."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

from gateway.body import read_body, upload_through
from gateway.cache_read import cached_get, cached_head, forget
from gateway.cache_write import admit_written, start_tee
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.file_send import FileSlice
from gateway.headers import (
    RESPONSE_OVERRIDES,
    X_AMZ_CHECKSUM_MODE,
    conditions_from,
    object_headers,
    put_options_from,
)
from gateway.ranges import parse_range
from gateway.results import Empty, Result, Stream
from router.models import ByteRange, ObjectInfo, PutOptions, PutResult

__all__ = ["delete_object", "get_object", "head_object", "put_object"]

MAX_PART_NUMBER = 10000
X_PCACHE_CACHE = "x-pcache-cache"


def _part_number(ctx: RequestContext) -> int | None:
    raw = ctx.target.query.get("partNumber")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000.")
    return int(raw)


def _range_and_part(ctx: RequestContext) -> tuple[ByteRange | None, int | None]:
    part = _part_number(ctx)
    rng = parse_range(ctx.request.headers.get("Range"))
    if part is not None and ctx.request.headers.get("Range") is not None:
        raise S3Error(
            "InvalidRequest", "Cannot specify both Range header and partNumber query parameter"
        )
    return rng, part


def _overrides(ctx: RequestContext) -> dict[str, str]:
    out = {}
    for param, header in RESPONSE_OVERRIDES.items():
        value = ctx.target.query.get(param)
        if value is not None:
            if ctx.principal is None:
                # AWS: response-* overrides need a signed request.
                raise S3Error(
                    "InvalidRequest",
                    "Request specific response headers cannot be used for anonymous GET requests.",
                )
            out[header] = value
    return out


async def get_object(ctx: RequestContext) -> Result:
    rng, part = _range_and_part(ctx)
    view = await ctx.services.router.view(ctx.bucket)
    overrides = _overrides(ctx)  # refused before any byte is read
    if part is None:
        cached = await cached_get(ctx, view, rng, conditions_from(ctx.request.headers))
        if cached is not None:
            return _cached_result(ctx, overrides, *cached)
    stream = await view.get_object(
        ctx.key,
        byte_range=rng,
        conditions=conditions_from(ctx.request.headers),
        part_number=part,
    )
    # A ranged body must not carry the whole object's checksum: clients would validate it.
    whole = stream.content_range is None or (
        stream.content_range[0] == 0 and stream.content_range[1] + 1 == stream.content_range[2]
    )
    checksum_mode = ctx.request.headers.get(X_AMZ_CHECKSUM_MODE, "").upper() == "ENABLED"
    headers = object_headers(stream.info, with_checksums=checksum_mode and whole and part is None)
    status = 200
    if stream.content_range is not None and (rng is not None or part is not None):
        first, last, total = stream.content_range
        headers["Content-Range"] = f"bytes {first}-{last}/{total}"
        status = 206
    headers.update(_overrides(ctx))
    return Stream(
        body=stream.body,
        length=stream.content_length,
        status=status,
        headers=headers,
        close=stream.aclose,
    )


def _cached_result(
    ctx: RequestContext,
    overrides: dict[str, str],
    info: ObjectInfo,
    span: tuple[int, int, int] | None,
    body: AsyncIterator[bytes | FileSlice],
    label: str,
) -> Result:
    checksum_mode = ctx.request.headers.get(X_AMZ_CHECKSUM_MODE, "").upper() == "ENABLED"
    whole = span is None or (span[0] == 0 and span[1] + 1 == span[2])
    headers = object_headers(info, with_checksums=checksum_mode and whole)
    headers[X_PCACHE_CACHE] = label
    status, length = 200, info.size
    if span is not None:
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{span[2]}"
        status, length = 206, span[1] - span[0] + 1
    headers.update(overrides)
    aclose = getattr(body, "aclose", None)
    return Stream(
        body=body, length=length, status=status, headers=headers, close=aclose, cache=label
    )


async def head_object(ctx: RequestContext) -> Result:
    rng, part = _range_and_part(ctx)
    view = await ctx.services.router.view(ctx.bucket)
    conditions = conditions_from(ctx.request.headers)
    info = None if part is not None else await cached_head(ctx, view, conditions)
    if info is None:
        info = await view.head_object(ctx.key, conditions=conditions, part_number=part)
    checksum_mode = ctx.request.headers.get(X_AMZ_CHECKSUM_MODE, "").upper() == "ENABLED"
    headers = object_headers(info, with_checksums=checksum_mode and rng is None and part is None)
    headers["Content-Length"] = str(info.size)
    status = 200
    if info.part_range is not None:
        first, last = info.part_range
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
        headers["Content-Length"] = str(last - first + 1)
        status = 206
    elif rng is not None:
        from gateway.ranges import resolve_range

        first, last = resolve_range(rng, info.size)
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
        headers["Content-Length"] = str(last - first + 1)
        status = 206
    headers.update(_overrides(ctx))
    return Empty(status=status, headers=headers)


async def put_object(ctx: RequestContext) -> Result:
    options = put_options_from(ctx.request.headers)
    if options.tagging is not None:
        from gateway.handlers.tagging import parse_tag_header

        parse_tag_header(options.tagging)
    view = await ctx.services.router.view(ctx.bucket)
    body = await read_body(ctx, max_size=ctx.services.settings.max_object_size)
    tee = start_tee(ctx, body.length)

    def send(opts: PutOptions) -> Awaitable[PutResult]:
        chunks = body.chunks() if tee is None else tee.wrap(body.chunks())
        return view.put_object(ctx.key, chunks, body.length, opts)

    try:
        result = await upload_through(body, send, options)
    except BaseException:
        if tee is not None:
            tee.release()
        raise
    finally:
        # Even a failed write may have replaced the object: never trust the old metadata.
        await forget(ctx, ctx.key)
    if tee is not None:
        admit_written(ctx, view, tee, result.etag)
    headers = {"ETag": result.etag}
    if body.checksum is not None:
        headers["x-amz-checksum-" + body.checksum[0].lower()] = body.checksum[1]
    if result.version_id:
        headers["x-amz-version-id"] = result.version_id
    return Empty(headers=headers)


async def delete_object(ctx: RequestContext) -> Result:
    view = await ctx.services.router.view(ctx.bucket)
    try:
        await view.delete_object(ctx.key)
    finally:
        await forget(ctx, ctx.key)
    return Empty(status=204)
