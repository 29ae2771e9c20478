"""GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy: one JSON policy per PBucket, kept
with the rest of IAM (so every node enforces it within a second) and validated before storing.
"""

from __future__ import annotations

from auth.policy_doc import PolicyKind, parse_policy
from auth.policy_errors import PolicyError
from gateway.body import read_small_body
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.results import Empty, Result, Xml

__all__ = ["delete_bucket_policy", "get_bucket_policy", "put_bucket_policy"]

MAX_BODY = 64 * 1024  # the document's own cap (20 KiB) is checked by the parser


async def _existing(ctx: RequestContext) -> None:
    if await ctx.services.router.get(ctx.bucket) is None:
        raise S3Error("NoSuchBucket", fields={"BucketName": ctx.bucket})


async def get_bucket_policy(ctx: RequestContext) -> Result:
    await _existing(ctx)
    text = ctx.services.iam.current().bucket_policies.get(ctx.bucket)
    if text is None:
        raise S3Error("NoSuchBucketPolicy", fields={"BucketName": ctx.bucket})
    # A small in-memory body like any XML answer, only typed as the JSON it is.
    return Xml(text.encode("utf-8"), headers={"Content-Type": "application/json"})


async def put_bucket_policy(ctx: RequestContext) -> Result:
    await _existing(ctx)
    try:
        body = await read_small_body(ctx, limit=MAX_BODY)
    except S3Error as err:
        if err.code == "EntityTooLarge":
            raise S3Error("PolicyTooLarge") from None
        raise
    try:
        text = body.decode("utf-8")
        parse_policy(text, PolicyKind.BUCKET, bucket=ctx.bucket)
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "Policies must be UTF-8 JSON.") from None
    except PolicyError as err:
        raise S3Error(err.code, err.message) from None
    await ctx.services.iam.store.put_bucket_policy(ctx.bucket, text)
    await ctx.services.iam.refresh()
    return Empty(status=204)


async def delete_bucket_policy(ctx: RequestContext) -> Result:
    await _existing(ctx)
    await ctx.services.iam.store.delete_bucket_policy(ctx.bucket)
    await ctx.services.iam.refresh()
    return Empty(status=204)
