"""Lifecycle rules (`/admin/v1/pbuckets/{name}/lifecycle`), the admin twin of S3's
Get/Put/DeleteBucketLifecycleConfiguration on the same model and the same store: JSON in the
shape aws-cli prints (`{"Rules": [...], "TransitionDefaultMinimumObjectSize"?: ...}`), checked
exactly as the S3 API checks XML (AWS's codes and messages); a shape fault is 400
`MalformedJSON` naming where.
"""

from __future__ import annotations

from gateway.admin.access import pbucket
from gateway.admin.cache_ttl import cache_ttl_of
from gateway.admin.fields import AdminError
from gateway.admin.frame import AdminCall, Endpoint, Reply
from ttl.errors import LifecycleError
from ttl.lifecycle_json import from_json, to_json
from ttl.store import LifecycleStore

__all__ = ["CACHE_TTL_FIELD", "ENDPOINTS"]

#: the admin view's extra member: the PBucket's cache TTL (`gateway.admin.cache_ttl`)
CACHE_TTL_FIELD = "PCacheCacheTtl"


async def _existing(call: AdminCall) -> str:
    name = call.params["name"]
    if await call.services.router.get(name) is None:
        raise AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")
    return name


def _store(call: AdminCall) -> LifecycleStore:
    return LifecycleStore(call.services.router.redis)


async def get_lifecycle(call: AdminCall) -> Reply:
    """The S3 rules and, only here (never through S3), the PBucket's cache TTL."""
    name = await _existing(call)
    config = await _store(call).get(name)
    cache_ttl = await cache_ttl_of(call, name)
    if config is None and cache_ttl is None:
        raise AdminError(
            "NoSuchLifecycleConfiguration", 404, f"The PBucket {name} has no lifecycle rules."
        )
    body = to_json(config) if config is not None else {"Rules": []}
    if cache_ttl is not None:
        body[CACHE_TTL_FIELD] = cache_ttl.to_json()
    return Reply(body=body)


async def put_lifecycle(call: AdminCall) -> Reply:
    name = await _existing(call)
    # What GET shows may be PUT back: the cache TTL has its own endpoint and is left as it is.
    data = {k: v for k, v in call.data.items() if k != CACHE_TTL_FIELD}
    try:
        config = from_json(data, temperatures=True)
    except LifecycleError as err:
        raise AdminError(err.code, 400, err.message or err.detail or err.code) from None
    await _store(call).put(name, config)
    return Reply(body=to_json(config))


async def delete_lifecycle(call: AdminCall) -> Reply:
    """204 whether or not there were rules, as S3's DeleteBucketLifecycle answers."""
    name = await _existing(call)
    await _store(call).delete(name)
    return Reply(204)


_PATH = "/admin/v1/pbuckets/{name}/lifecycle"
ENDPOINTS = (
    Endpoint("GET", _PATH, "GetBucketLifecycle", get_lifecycle, pbucket),
    Endpoint("PUT", _PATH, "PutBucketLifecycle", put_lifecycle, pbucket, body="object"),
    Endpoint("DELETE", _PATH, "DeleteBucketLifecycle", delete_lifecycle, pbucket),
)
