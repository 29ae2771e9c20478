"""PBuckets (`/admin/v1/pbuckets[/{name}]`): the bucket names clients see, and their targets.

    {"name": "logs", "policy": "balance", "region"?: "...", "write_quorum"?: 2,
     "create_buckets"?: false,
     "targets": [{"vendor": "aws", "bucket": "logs-a", "prefix"?: "", "weight"?: 1,
                  "region"?: "eu"}, ...]}

A change reaches every node at once: the Router publishes it on `pc:rt:changed` and each node
drops its cached record (the 1 s cache TTL is the backstop). The node making the change also
drops the PBucket's cached object metadata cluster-wide (the objects may now live elsewhere).
Config-declared PBuckets refuse changes (409 ManagedByConfig).

DELETE removes the record only: the vendor buckets and their objects stay where they are (a
PBucket declared again on the same targets shows them again), so it needs no emptiness check;
the PBucket's bucket policy goes with it, as with S3 DeleteBucket.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from gateway.admin.access import any_resource, pbucket, pbucket_in_body, pbucket_name
from gateway.admin.cache_admin import forget_pbucket
from gateway.admin.fields import AdminError, Body, iso, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.admin.vendors import managed_by_config
from gateway.api_vendors import API_VENDORS
from gateway.handlers.buckets import RESERVED_NAMES
from router.errors import NoSuchPBucket, UpstreamError
from router.pbucket import PBucket, TargetSpec
from router.registry import ConcurrentUpdate
from router.target_rules import first_overlap
from router.views import POLICIES
from ttl.cache_ttl import CacheTtlStore
from ttl.store import LifecycleStore

__all__ = ["ENDPOINTS"]

log = logging.getLogger("pcache.admin")

MAX_TARGETS = 64
_TARGET_KEYS = {"vendor", "bucket", "prefix", "weight", "region"}
_MAX_WEIGHT = 1e6
#: per-policy fields PBucket records may carry in this build (added by policies such as
#: `replicate`); the API accepts them only when the record has the field
_QUORUM = "write_quorum"


def _has_field(name: str) -> bool:
    return name in {f.name for f in dataclasses.fields(PBucket)}


def pbucket_json(pb: PBucket) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": pb.name,
        "policy": pb.policy,
        "targets": [
            {
                "vendor": t.vendor,
                "bucket": t.bucket,
                "prefix": t.prefix,
                "weight": t.weight,
                "region": t.region,
            }
            for t in pb.targets
        ],
        "region": pb.region,
        "owner": pb.owner,
        "created": iso(pb.created),
        "managed_by": pb.managed_by,
    }
    if _has_field(_QUORUM):
        doc[_QUORUM] = getattr(pb, _QUORUM)
    return doc


def _no_pbucket(name: str) -> AdminError:
    return AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")


# --- validation ------------------------------------------------------------------------------


def _target(item: object, field: str, vendors: set[str]) -> TargetSpec:
    if not isinstance(item, dict):
        raise validation_error(field, f"{field} must be an object")
    for key in item:
        if key not in _TARGET_KEYS:
            raise validation_error(f"{field}.{str(key)[:64]}", f"unknown field {str(key)[:64]!r}")
    t = Body(item)
    vendor = t.string("vendor", required=True, max_chars=64)
    if vendor not in vendors:
        raise AdminError(
            "ValidationError", 400, f"no vendor named {vendor!r}", field=f"{field}.vendor"
        )
    bucket = t.string("bucket", required=True, max_chars=255)
    if not bucket or "/" in bucket or bucket in (".", ".."):
        # Vendors differ (a local directory vendor takes "lb"); the config loader is as lax.
        raise validation_error("bucket", "bucket must be a vendor bucket name (no '/')")
    weight = t.number("weight", low=0, high=_MAX_WEIGHT, default=1.0)
    region = t.string("region", max_chars=64) or None
    return TargetSpec(vendor, bucket, t.string("prefix", max_chars=1024), weight, region)


def _prefix_fields(error: AdminError, field: str) -> AdminError:
    if error.field is not None and not error.field.startswith(field):
        error.field = f"{field}.{error.field}"
    return error


def _targets(value: object, vendors: set[str]) -> tuple[TargetSpec, ...]:
    if not isinstance(value, list) or not value:
        raise validation_error("targets", "targets must be a non-empty array")
    if len(value) > MAX_TARGETS:
        raise validation_error("targets", f"at most {MAX_TARGETS} targets")
    out: list[TargetSpec] = []
    for i, item in enumerate(value):
        field = f"targets[{i}]"
        try:
            out.append(_target(item, field, vendors))
        except AdminError as err:
            raise _prefix_fields(err, field) from None
    clash = first_overlap(out)
    if clash is not None:
        earlier, later = clash
        raise validation_error(
            f"targets[{later}]",
            f"same vendor bucket as targets[{earlier}] with an overlapping prefix",
        )
    return tuple(out)


def _quorum(body: Body, policy: str, targets: Sequence[TargetSpec]) -> dict[str, Any]:
    """The `write_quorum` keyword for PBucket(...), if this build's records have one."""
    if not body.has(_QUORUM):
        body.value(_QUORUM)  # read: absent or null is fine
        return {_QUORUM: None} if _has_field(_QUORUM) else {}
    if not _has_field(_QUORUM) or policy != "replicate":
        raise validation_error(_QUORUM, "write_quorum applies to policy 'replicate' only")
    return {_QUORUM: body.integer(_QUORUM, low=1, high=len(targets), default=len(targets))}


def _shape(body: Body, vendors: set[str], policy_default: str) -> dict[str, Any]:
    """policy, targets and the policy's own fields, checked against each other."""
    policy = body.choice("policy", POLICIES, policy_default)
    targets = _targets(body.value("targets", required=True), vendors)
    if policy == "single" and len(targets) != 1:
        raise validation_error("targets", "policy 'single' takes exactly one target")
    if policy == "migrate" and len(targets) != 2:
        raise validation_error("targets", "policy 'migrate' takes two targets: [new, old]")
    return {"policy": policy, "targets": targets, **_quorum(body, policy, targets)}


async def _known_vendors(call: AdminCall) -> set[str]:
    """Vendors a target may name: this node's config ones and every API one (stored, even if
    this node could not build its client)."""
    vendors = call.request.app[API_VENDORS]
    return set(vendors.configured) | {r.name for r in await vendors.store.all()}


async def _forget_cached(call: AdminCall, name: str) -> None:
    """Cached object metadata of `name` may describe objects on the old targets: drop it on
    every node (the blocks it pointed at become unreachable)."""
    cache = call.services.cache
    if cache is None:
        return
    try:
        await forget_pbucket(call.services.router.redis, cache, name)
    except RedisError as err:  # the record changed all the same; metadata ages out (max_age)
        log.warning("pbucket %s: cached metadata not dropped: %s", name, err)


# --- handlers --------------------------------------------------------------------------------


async def list_pbuckets(call: AdminCall) -> Reply:
    return Reply(body={"items": [pbucket_json(pb) for pb in await call.services.router.all()]})


async def create_pbucket(call: AdminCall) -> Reply:
    body = Body(call.data)
    name = pbucket_name(body.string("name", required=True, max_chars=63))
    if name in RESERVED_NAMES:
        raise validation_error("name", f"{name} is reserved by PCache for its own endpoints")
    shape = _shape(body, await _known_vendors(call), "single")
    region = body.string("region", default=call.services.settings.region, max_chars=64)
    create_buckets = body.boolean("create_buckets", False)
    body.done()
    router = call.services.router
    if await router.get(name) is not None:
        raise AdminError("EntityAlreadyExists", 409, f"The PBucket {name} already exists.")
    if create_buckets:
        for target in shape["targets"]:
            await _create_vendor_bucket(call, target, region)
    pb = PBucket(name=name, region=region or "us-east-1", owner=call.identity.name, **shape)
    if not await router.insert(pb):
        raise AdminError("EntityAlreadyExists", 409, f"The PBucket {name} already exists.")
    await _forget_cached(call, name)  # left over from an earlier PBucket of this name
    return Reply(201, pbucket_json(pb))


async def _create_vendor_bucket(call: AdminCall, target: TargetSpec, region: str) -> None:
    upstream = call.services.router.vendors.get(target.vendor)
    if upstream is None:
        raise AdminError(
            "ServiceUnavailable", 503, f"The vendor {target.vendor} is not usable on this node."
        )
    try:
        await upstream.create_bucket(target.bucket, region=region)
    except UpstreamError as err:
        if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


async def get_pbucket(call: AdminCall) -> Reply:
    name = call.params["name"]
    pb = await call.services.router.get(name)
    if pb is None:
        raise _no_pbucket(name)
    return Reply(body=pbucket_json(pb))


async def update_pbucket(call: AdminCall) -> Reply:
    """Replace policy, targets and the policy's fields; name, region, owner and creation date
    stay. An absent `policy` keeps the current one."""
    name = call.params["name"]
    vendors = await _known_vendors(call)

    def change(current: PBucket) -> PBucket:
        if current.managed_by == "config":
            raise managed_by_config("PBucket", name)
        body = Body(call.data)
        shape = _shape(body, vendors, current.policy)
        body.done()
        return dataclasses.replace(current, **shape)

    try:
        pb = await call.services.router.update(name, change)
    except NoSuchPBucket:
        raise _no_pbucket(name) from None
    except ConcurrentUpdate:
        raise AdminError(
            "ConcurrentModification", 409, f"The PBucket {name} changed meanwhile; retry."
        ) from None
    await _forget_cached(call, name)
    return Reply(body=pbucket_json(pb))


async def delete_pbucket(call: AdminCall) -> Reply:
    name = call.params["name"]
    router = call.services.router
    router.invalidate(name)  # decide on the stored record, not a cached one
    pb = await router.get(name)
    if pb is None:
        raise _no_pbucket(name)
    if pb.managed_by == "config":
        raise managed_by_config("PBucket", name)
    await router.remove(name)
    # A PBucket created later under this name must not inherit this one's grants, nor its
    # lifecycle rules (which would expire the new PBucket's objects).
    if await call.store.delete_bucket_policy(name):
        await call.committed()
    await LifecycleStore(router.redis).delete(name)
    await CacheTtlStore(router.redis).delete(name)
    await _forget_cached(call, name)
    return Reply(204)


_ONE = "/admin/v1/pbuckets/{name}"
ENDPOINTS = (
    Endpoint("GET", "/admin/v1/pbuckets", "ListPBuckets", list_pbuckets, any_resource),
    Endpoint(
        "POST",
        "/admin/v1/pbuckets",
        "CreatePBucket",
        create_pbucket,
        pbucket_in_body,
        body="object",
    ),
    Endpoint("GET", _ONE, "GetPBucket", get_pbucket, pbucket),
    Endpoint("PUT", _ONE, "UpdatePBucket", update_pbucket, pbucket, body="object"),
    Endpoint("DELETE", _ONE, "DeletePBucket", delete_pbucket, pbucket),
)
