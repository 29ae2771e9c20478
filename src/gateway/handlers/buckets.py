"""ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning."""

from __future__ import annotations

from gateway.authz import allowed
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.results import Empty, Result, Xml
from gateway.s3xml import Doc, iso8601, parse_create_bucket
from ttl.cache_ttl import CacheTtlStore
from ttl.store import LifecycleStore

__all__ = [
    "create_bucket",
    "delete_bucket",
    "get_bucket_location",
    "get_bucket_versioning",
    "head_bucket",
    "list_buckets",
]


def owner_id(name: str) -> str:
    """A stable canonical-user-like ID for a PCache user (S3 shows a 64-hex owner ID)."""
    import hashlib

    return hashlib.sha256(b"pcache-owner:" + name.encode()).hexdigest()


async def list_buckets(ctx: RequestContext) -> Result:
    user = ctx.principal.name if ctx.principal else "anonymous"
    doc = Doc("ListAllMyBucketsResult")
    doc.open("Owner").leaf("ID", owner_id(user)).leaf("DisplayName", user).close()
    doc.open("Buckets")
    for pb in await ctx.services.router.all():
        if not _visible(ctx, pb.name):
            continue
        doc.open("Bucket").leaf("Name", pb.name).leaf("CreationDate", iso8601(pb.created)).close()
    doc.close()
    return Xml(doc.render())


def _visible(ctx: RequestContext, bucket: str) -> bool:
    """Only buckets the caller may list: one tenant does not learn another's bucket names."""
    return allowed(ctx.services, ctx.principal, "s3:ListBucket", bucket, None, ctx.condition_keys)


# Fixed routes of the node: a PBucket of that name would be unreachable in path style.
RESERVED_NAMES = frozenset({"healthz", "readyz", "metrics", "admin"})


async def create_bucket(ctx: RequestContext) -> Result:
    from gateway.body import read_small_body

    if ctx.bucket in RESERVED_NAMES:
        raise S3Error(
            "InvalidBucketName",
            "This bucket name is reserved by PCache for its own endpoints.",
            fields={"BucketName": ctx.bucket},
        )

    location = parse_create_bucket(await read_small_body(ctx))
    region = ctx.services.settings.region
    if location and location != region and not (location == "US" and region == "us-east-1"):
        raise S3Error(
            "InvalidLocationConstraint",
            "The specified location-constraint is not valid",
            fields={"LocationConstraint": location},
        )
    owner = ctx.principal.name if ctx.principal else "anonymous"
    await ctx.services.router.create(ctx.bucket, owner=owner)
    return Empty(headers={"Location": "/" + ctx.bucket})


async def head_bucket(ctx: RequestContext) -> Result:
    pb = await ctx.services.router.get(ctx.bucket)
    if pb is None:
        raise S3Error("NoSuchBucket", fields={"BucketName": ctx.bucket})
    return Empty(headers={"x-amz-bucket-region": pb.region})


async def delete_bucket(ctx: RequestContext) -> Result:
    await ctx.services.router.delete(ctx.bucket)
    # A bucket created later under the same name must not inherit this one's grants.
    if await ctx.services.iam.store.delete_bucket_policy(ctx.bucket):
        await ctx.services.iam.refresh()
    # Nor its lifecycle rules (which would expire the new bucket's objects).
    await LifecycleStore(ctx.services.router.redis).delete(ctx.bucket)
    await CacheTtlStore(ctx.services.router.redis).delete(ctx.bucket)
    return Empty(status=204)


async def get_bucket_location(ctx: RequestContext) -> Result:
    pb = await ctx.services.router.get(ctx.bucket)
    if pb is None:
        raise S3Error("NoSuchBucket", fields={"BucketName": ctx.bucket})
    # AWS answers an empty LocationConstraint for us-east-1.
    region = "" if pb.region == "us-east-1" else pb.region
    body = Doc("LocationConstraint")
    body._parts.append(region)
    return Xml(body.render())


async def get_bucket_versioning(ctx: RequestContext) -> Result:
    if await ctx.services.router.get(ctx.bucket) is None:
        raise S3Error("NoSuchBucket", fields={"BucketName": ctx.bucket})
    # Versioning is not offered yet: an unversioned bucket has an empty configuration.
    return Xml(Doc("VersioningConfiguration").render())
