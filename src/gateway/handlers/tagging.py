"""GetObjectTagging, PutObjectTagging, DeleteObjectTagging, and the x-amz-tagging header."""

from __future__ import annotations

from urllib.parse import parse_qsl

from gateway.cache_read import forget
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.results import Empty, Result, Xml
from gateway.s3xml import Doc, parse_tagging, validate_tags

__all__ = ["delete_object_tagging", "get_object_tagging", "parse_tag_header", "put_object_tagging"]


def parse_tag_header(value: str) -> list[tuple[str, str]]:
    """`x-amz-tagging: a=1&b=2` (URL query encoding), validated like a Tagging document."""
    try:
        tags = parse_qsl(value, keep_blank_values=True, strict_parsing=bool(value))
    except ValueError:
        raise S3Error(
            "InvalidArgument",
            "The header 'x-amz-tagging' shall be encoded as UTF-8 "
            "then URLEncoded URL query parameters without tag name duplicates.",
        ) from None
    validate_tags(tags)
    return tags


async def get_object_tagging(ctx: RequestContext) -> Result:
    view = await ctx.services.router.view(ctx.bucket)
    tags = await view.get_object_tagging(ctx.key)
    doc = Doc("Tagging").open("TagSet")
    for k, v in tags:
        doc.open("Tag").leaf("Key", k).leaf("Value", v).close()
    return Xml(doc.render())


async def put_object_tagging(ctx: RequestContext) -> Result:
    from gateway.body import read_small_body

    tags = parse_tagging(await read_small_body(ctx))
    view = await ctx.services.router.view(ctx.bucket)
    try:
        await view.put_object_tagging(ctx.key, tags)
    finally:
        await forget(ctx, ctx.key)  # the cached tag count changed
    return Empty()


async def delete_object_tagging(ctx: RequestContext) -> Result:
    view = await ctx.services.router.view(ctx.bucket)
    try:
        await view.delete_object_tagging(ctx.key)
    finally:
        await forget(ctx, ctx.key)
    return Empty(status=204)
