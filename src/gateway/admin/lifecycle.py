"""Lifecycle rules (`/admin/v1/pbuckets/{name}/lifecycle`), the admin twin of S3's
Get/Put/DeleteBucketLifecycleConfiguration on the same model and the same store: JSON in the
shape aws-cli prints (`{"Rules": [...], "TransitionDefaultMinimumObjectSize"?: ...}`), checked
exactly as the S3 API checks XML (AWS's codes and messages); a shape fault is 400
`MalformedJSON` naming where.
"""

from __future__ import annotations

from gateway.admin.access import pbucket
from gateway.admin.fields import AdminError
from gateway.admin.frame import AdminCall, Endpoint, Reply
from ttl.errors import LifecycleError
from ttl.lifecycle_json import from_json, to_json
from ttl.store import LifecycleStore

__all__ = ["ENDPOINTS"]


async def _existing(call: AdminCall) -> str:
    name = call.params["name"]
    if await call.services.router.get(name) is None:
        raise AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")
    return name


def _store(call: AdminCall) -> LifecycleStore:
    return LifecycleStore(call.services.router.redis)


async def get_lifecycle(call: AdminCall) -> Reply:
    name = await _existing(call)
    config = await _store(call).get(name)
    if config is None:
        raise AdminError(
            "NoSuchLifecycleConfiguration", 404, f"The PBucket {name} has no lifecycle rules."
        )
    return Reply(body=to_json(config))


async def put_lifecycle(call: AdminCall) -> Reply:
    name = await _existing(call)
    try:
        config = from_json(dict(call.data))
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
