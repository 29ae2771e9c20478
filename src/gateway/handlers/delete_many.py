"""DeleteObjects: up to 1000 keys in one request, each answered on its own."""

from __future__ import annotations

import asyncio

from gateway.authz import allowed
from gateway.boundary import to_s3_error
from gateway.cache_read import forget
from gateway.context import RequestContext
from gateway.dispatch import validate_key
from gateway.errors import S3Error
from gateway.results import Result, Xml
from gateway.s3xml import Doc, parse_delete

__all__ = ["delete_objects"]

_PARALLEL = 16


async def delete_objects(ctx: RequestContext) -> Result:
    from gateway.body import read_small_body

    headers = ctx.request.headers
    # AWS requires an integrity header on DeleteObjects: Content-MD5 or an x-amz-checksum-*.
    if "Content-MD5" not in headers and not any(
        h.lower().startswith("x-amz-checksum-") or h.lower() == "x-amz-trailer" for h in headers
    ):
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    keys, quiet = parse_delete(await read_small_body(ctx))
    view = await ctx.services.router.view(ctx.bucket)
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(key: str) -> S3Error | None:
        async with gate:
            try:
                validate_key(key)
                # AWS checks s3:DeleteObject for each key; a denied key fails alone.
                if not allowed(
                    ctx.services, ctx.principal, "s3:DeleteObject", ctx.bucket, key,
                    ctx.condition_keys,
                ):  # fmt: skip
                    raise S3Error("AccessDenied")
                try:
                    await view.delete_object(key)
                finally:
                    await forget(ctx, key)
            except Exception as exc:
                return to_s3_error(exc) or S3Error("InternalError")
            return None

    outcomes = await asyncio.gather(*(one(k) for k in keys))
    doc = Doc("DeleteResult")
    for key, err in zip(keys, outcomes, strict=True):
        if err is None:
            if not quiet:
                doc.open("Deleted").leaf("Key", key).close()
        else:
            doc.open("Error").leaf("Key", key).leaf("Code", err.code)
            doc.leaf("Message", err.message).close()
    return Xml(doc.render())
