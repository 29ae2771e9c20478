"""Authorisation of S3 requests: which IAM actions on which ARNs a request needs, with which
condition keys, decided once, centrally, before any handler looks anything up.

Most operations need the one action of the operation table. The exceptions are where S3's own
action mapping adds checks (security.md §2 item 8):

- PutObject / CreateMultipartUpload / CopyObject carrying `x-amz-tagging` also need
  s3:PutObjectTagging; carrying `x-amz-acl` or `x-amz-grant-*` also need s3:PutObjectAcl.
- CopyObject and UploadPartCopy need s3:GetObject on the source object.
- DeleteObjects checks s3:DeleteObject per key, inside its handler, through `allowed()`.

Condition keys come from the request itself (aws:SourceIp, aws:SecureTransport, time, s3:prefix,
s3:delimiter, s3:max-keys, s3:x-amz-acl, s3:RequestObjectTag/*). s3:ExistingObjectTag/* needs
the object's tags: they are fetched only when a policy that applies mentions that key, and the
fetch's outcome is never shown to the caller.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from aiohttp import web

from auth.iam_identity import Identity, authorize, bucket_policies, bucket_policy_reads_tags
from auth.iam_store import IamUnavailable
from auth.policy_eval import Decision
from gateway.context import Services
from gateway.dispatch import Target
from gateway.errors import S3Error
from gateway.operations import Operation, ResourceKind
from router.errors import UpstreamError

__all__ = ["Need", "allowed", "authorize_request", "object_arn", "request_keys"]

log = logging.getLogger("pcache.authz")

_LISTING = {Operation.ListObjects, Operation.ListObjectsV2, Operation.ListObjectVersions}
_TAGGED_WRITES = {Operation.PutObject, Operation.CreateMultipartUpload, Operation.CopyObject}
_READS_EXISTING_TAGS = {
    Operation.GetObject,
    Operation.HeadObject,
    Operation.GetObjectTagging,
    Operation.PutObjectTagging,
    Operation.DeleteObjectTagging,
}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


@dataclass(frozen=True, slots=True)
class Need:
    action: str
    resource: str
    bucket: str | None


def _main_need(target: Target) -> Need:
    op = target.operation
    kind = op.resource_kind
    if kind is ResourceKind.OBJECT and target.bucket and target.key is not None:
        return Need(op.action, object_arn(target.bucket, target.key), target.bucket)
    if kind is not ResourceKind.SERVICE and target.bucket:
        return Need(op.action, bucket_arn(target.bucket), target.bucket)
    return Need(op.action, "arn:aws:s3:::*", None)


def needs(target: Target, headers: Mapping[str, str]) -> list[Need]:
    if target.operation is Operation.DeleteObjects:
        return []  # per key, in the handler
    main = _main_need(target)
    out = [main]
    op = target.operation
    if op in _TAGGED_WRITES:
        tagging = headers.get("x-amz-tagging")
        replaces_tags = headers.get("x-amz-tagging-directive", "COPY").upper() == "REPLACE"
        if tagging is not None and (op is not Operation.CopyObject or replaces_tags):
            out.append(Need("s3:PutObjectTagging", main.resource, main.bucket))
        if "x-amz-acl" in headers or any(h.lower().startswith("x-amz-grant-") for h in headers):
            out.append(Need("s3:PutObjectAcl", main.resource, main.bucket))
    if op in (Operation.CopyObject, Operation.UploadPartCopy):
        from gateway.handlers.copy import COPY_SOURCE, parse_copy_source

        src_bucket, src_key = parse_copy_source(headers.get(COPY_SOURCE, ""))
        out.append(Need("s3:GetObject", object_arn(src_bucket, src_key), src_bucket))
    return out


def source_ip(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The peer address, or the nearest untrusted X-Forwarded-For hop when the peer is one of
    the configured proxies. A client can put anything in X-Forwarded-For; only our proxies'
    word counts, read from the right (the hop each proxy itself added)."""
    nets = [ipaddress.ip_network(n, strict=False) for n in trusted]
    if not nets or not _in(peer, nets):
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, nets):
            return hop
    return hops[0] if hops else peer


def _in(address: str, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def request_keys(
    request: web.Request, target: Target, services: Services
) -> dict[str, tuple[str, ...]]:
    now = datetime.now(UTC)
    secure = request.secure or (
        services.settings.trust_forwarded_proto
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )
    keys: dict[str, tuple[str, ...]] = {
        "aws:sourceip": (
            source_ip(
                request.remote or "",
                request.headers.get("X-Forwarded-For"),
                services.settings.trusted_proxies,
            ),
        ),
        "aws:securetransport": ("true" if secure else "false",),
        "aws:currenttime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(time.time())),),
    }
    if target.operation in _LISTING:
        for param, key in (
            ("prefix", "s3:prefix"),
            ("delimiter", "s3:delimiter"),
            ("max-keys", "s3:max-keys"),
        ):
            value = target.query.get(param)
            if value is not None:
                keys[key] = (value,)
    acl = request.headers.get("x-amz-acl")
    if acl is not None:
        keys["s3:x-amz-acl"] = (acl,)
    tagging = request.headers.get("x-amz-tagging")
    if tagging is not None and target.operation in _TAGGED_WRITES:
        pairs = parse_qsl(tagging, keep_blank_values=True)
        for k, v in pairs:
            keys[f"s3:requestobjecttag/{k.lower()}"] = (v,)
        keys["s3:requestobjecttagkeys"] = tuple(k for k, _ in pairs)
    return keys


async def _existing_tags(services: Services, bucket: str, key: str) -> dict[str, tuple[str, ...]]:
    view = await services.router.view(bucket)
    try:
        tags = await view.get_object_tagging(key)
    except UpstreamError as err:
        if err.status == 404:  # no object, no tags; any other failure must not fail open
            return {}
        raise
    return {f"s3:existingobjecttag/{k.lower()}": (v,) for k, v in tags}


async def authorize_request(
    request: web.Request, target: Target, identity: Identity | None, services: Services
) -> dict[str, tuple[str, ...]]:
    """Raise AccessDenied unless every need of the request is allowed; returns the request's
    condition keys for per-key checks later (DeleteObjects)."""
    if identity is not None and identity.is_root:
        return {}
    try:
        snap = services.iam.current()
    except IamUnavailable:
        raise S3Error("ServiceUnavailable", "Access policies cannot be read right now.") from None
    keys = request_keys(request, target, services)
    for need in needs(target, request.headers):
        extra: Mapping[str, tuple[str, ...]] = {}
        if (
            target.operation in _READS_EXISTING_TAGS
            and need.resource == _main_need(target).resource
            and target.key is not None
            and need.bucket is not None
            and (
                (identity is not None and identity.reads_existing_tags)
                or bucket_policy_reads_tags(snap, need.bucket)
            )
        ):
            extra = await _existing_tags(services, need.bucket, target.key)
        decision = authorize(
            identity,
            need.action,
            need.resource,
            {**keys, **extra},
            bucket_policies(snap, need.bucket),
        )
        if decision is not Decision.ALLOW:
            raise S3Error("AccessDenied")
    return keys


def allowed(
    services: Services,
    identity: Identity | None,
    action: str,
    bucket: str,
    key: str | None,
    keys: Mapping[str, tuple[str, ...]],
) -> bool:
    """One more decision inside a handler (DeleteObjects' per-key checks, ListBuckets' view)."""
    if identity is not None and identity.is_root:
        return True
    snap = services.iam.current()
    resource = bucket_arn(bucket) if key is None else object_arn(bucket, key)
    decision = authorize(identity, action, resource, keys, bucket_policies(snap, bucket))
    return decision is Decision.ALLOW
