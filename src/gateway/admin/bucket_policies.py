"""Bucket policies (`/admin/v1/pbuckets/{name}/policy`), the admin twin of S3's
Get/Put/DeleteBucketPolicy: the body of PUT and the reply of GET are the document itself.

The PBucket must exist (404 NoSuchBucket); the document is parsed with BUCKET rules for that
bucket (400 MalformedPolicy / PolicyTooLarge) and stored exactly as sent.
"""

from __future__ import annotations

from auth.policy_doc import PolicyKind, parse_policy
from gateway.admin.access import pbucket
from gateway.admin.fields import AdminError
from gateway.admin.frame import AdminCall, Endpoint, Reply

__all__ = ["ENDPOINTS"]


async def _existing(call: AdminCall) -> str:
    name = call.params["name"]
    if await call.services.router.get(name) is None:
        raise AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")
    return name


async def get_bucket_policy(call: AdminCall) -> Reply:
    name = await _existing(call)
    text = call.snapshot().bucket_policies.get(name)
    if text is None:
        raise AdminError("NoSuchBucketPolicy", 404, f"The PBucket {name} has no bucket policy.")
    return Reply(text=text)


async def put_bucket_policy(call: AdminCall) -> Reply:
    name = await _existing(call)
    parse_policy(call.raw_body, PolicyKind.BUCKET, bucket=name)
    await call.store.put_bucket_policy(name, call.raw_body.decode("utf-8"))
    await call.committed()
    return Reply(204)


async def delete_bucket_policy(call: AdminCall) -> Reply:
    """204 whether or not there was a policy, as S3's DeleteBucketPolicy answers."""
    name = await _existing(call)
    await call.store.delete_bucket_policy(name)
    await call.committed()
    return Reply(204)


_PATH = "/admin/v1/pbuckets/{name}/policy"
ENDPOINTS = (
    Endpoint("GET", _PATH, "GetBucketPolicy", get_bucket_policy, pbucket),
    Endpoint("PUT", _PATH, "PutBucketPolicy", put_bucket_policy, pbucket, body="raw"),
    Endpoint("DELETE", _PATH, "DeleteBucketPolicy", delete_bucket_policy, pbucket),
)
