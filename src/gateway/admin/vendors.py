"""Vendors (`/admin/v1/vendors[/{name}]`): S3 object stores PBuckets map onto.

API vendors live in Redis (`router.vendor_store`), their secret key sealed with the node's
master key; no reply ever carries it. Config-declared vendors (local directories included) are
listed too, marked `managed_by: "config"`, and refuse changes (409 ManagedByConfig). An endpoint
must pass the node's SSRF guard (`[node] vendor_allowlist`) before anything is stored: a refused
one is 400 ValidationError with field `endpoint`, and nothing ever connects to it.

PATCH changes the fields it names; PUT replaces the record (absent fields take their defaults),
except `secret_key`, which both keep when it is absent (it cannot be read back to resend).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from gateway.admin.access import any_resource, in_body, in_path
from gateway.admin.fields import AdminError, Body, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.api_vendors import API_VENDORS, ApiVendors
from gateway.config_vendors import VendorConfig
from router.endpoint_guard import EndpointRefused, check_endpoint_async
from router.pbucket import PBucket
from router.profiles import PROFILES, Temperature, get_profile, with_storage_classes
from router.vendor_store import ConcurrentChange, VendorExists, VendorRecord

__all__ = ["ENDPOINTS", "managed_by_config"]

_CHECKSUM_WHEN = ("when_required", "when_supported")
_TEMPERATURES: tuple[Temperature, ...] = ("hot", "cold", "archive")
_MAX_SECONDS = 3600.0


def managed_by_config(kind: str, name: str) -> AdminError:
    return AdminError(
        "ManagedByConfig",
        409,
        f"The {kind} {name} is declared in the config file; change it there.",
    )


def _vendors(call: AdminCall) -> ApiVendors:
    return call.request.app[API_VENDORS]


def _no_vendor(name: str) -> AdminError:
    return AdminError("NoSuchEntity", 404, f"The vendor with name {name} cannot be found.")


def record_json(record: VendorRecord) -> dict[str, Any]:
    classes = with_storage_classes(get_profile(record.profile), **dict(record.storage_classes))
    return {
        "name": record.name,
        "type": record.type,
        "endpoint": record.endpoint,
        "region": record.region,
        "access_key": record.access_key,
        "addressing_style": record.addressing_style,
        "profile": record.profile,
        "connect_timeout": record.connect_timeout,
        "read_timeout": record.read_timeout,
        "verify_tls": record.verify_tls,
        "request_checksum_calculation": record.request_checksum_calculation,
        "response_checksum_validation": record.response_checksum_validation,
        "storage_classes": {t: classes.storage_classes.of(t) for t in _TEMPERATURES},
        "retries": record.retries,
        "breaker_failures": record.breaker_failures,
        "breaker_cooldown": record.breaker_cooldown,
        "managed_by": record.managed_by,
        "created": record.created,
        "updated": record.updated,
    }


def config_json(cfg: VendorConfig) -> dict[str, Any]:
    """A config vendor as the API shows it (no secret; a local vendor's directory stays
    private to the node)."""
    doc: dict[str, Any] = {"name": cfg.name, "type": cfg.type, "managed_by": "config"}
    if cfg.type != "s3":
        return doc
    return {
        **doc,
        "endpoint": cfg.endpoint,
        "region": cfg.region,
        "access_key": cfg.access_key,
        "addressing_style": cfg.addressing_style,
        "profile": cfg.profile,
        "connect_timeout": cfg.connect_timeout,
        "read_timeout": cfg.read_timeout,
        "verify_tls": cfg.verify_tls,
        "request_checksum_calculation": cfg.request_checksum_calculation,
        "response_checksum_validation": cfg.response_checksum_validation,
        "storage_classes": {t: cfg.storage_classes.of(t) for t in _TEMPERATURES},
        "retries": cfg.retries,
        "breaker_failures": cfg.breaker_failures,
        "breaker_cooldown": cfg.breaker_cooldown,
        "created": None,
        "updated": None,
    }


# --- the body --------------------------------------------------------------------------------


def _storage_classes(body: Body, current: dict[str, str]) -> dict[str, str]:
    value = body.value("storage_classes")
    if value is None:
        return current
    if not isinstance(value, dict):
        raise validation_error("storage_classes", "storage_classes must be an object")
    out: dict[str, str] = {}
    for key, name in value.items():
        field = f"storage_classes.{key}"
        if key not in _TEMPERATURES:
            raise validation_error(field, "storage classes are hot, cold and archive")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise validation_error(field, f"{field} must be a storage class name")
        out[key] = name
    return out


def _fields(body: Body, base: VendorRecord, *, patch: bool) -> VendorRecord:
    """The record `body` describes on top of `base` (the stored record for PATCH, defaults
    for POST and PUT)."""
    kind = body.string("type", default="s3", max_chars=16)
    if kind != "s3":
        raise validation_error(
            "type", "the admin API manages S3 vendors; local vendors come from the config file"
        )
    profile = body.choice("profile", tuple(sorted(PROFILES)), base.profile)
    defaults = get_profile(profile)
    style_default = base.addressing_style if patch else defaults.addressing_style
    return replace(
        base,
        endpoint=body.string("endpoint", required=not patch, default=base.endpoint, max_chars=2048),
        region=body.string("region", default=base.region, max_chars=64) or "us-east-1",
        access_key=body.string("access_key", required=not patch, default=base.access_key),
        addressing_style=body.choice("addressing_style", ("path", "virtual"), style_default),
        profile=profile,
        connect_timeout=body.number(
            "connect_timeout", low=0, high=_MAX_SECONDS, default=base.connect_timeout
        ),
        read_timeout=body.number(
            "read_timeout", low=0, high=_MAX_SECONDS, default=base.read_timeout
        ),
        verify_tls=body.boolean("verify_tls", base.verify_tls),
        request_checksum_calculation=body.choice(
            "request_checksum_calculation",
            _CHECKSUM_WHEN,
            base.request_checksum_calculation if patch else defaults.request_checksum_calculation,
        ),
        response_checksum_validation=body.choice(
            "response_checksum_validation",
            _CHECKSUM_WHEN,
            base.response_checksum_validation if patch else defaults.response_checksum_validation,
        ),
        storage_classes=_storage_classes(body, dict(base.storage_classes)),
        retries=body.integer("retries", low=0, high=10, default=base.retries),
        breaker_failures=body.integer(
            "breaker_failures", low=1, high=1000, default=base.breaker_failures
        ),
        breaker_cooldown=body.number(
            "breaker_cooldown", low=0, high=_MAX_SECONDS, default=base.breaker_cooldown
        ),
    )


def _secret(body: Body, *, required: bool) -> str | None:
    if not required and body.value("secret_key") is None:
        return None  # keep the stored one (null too: it cannot be read back to resend)
    secret = body.string("secret_key", required=True, max_chars=1024)
    if not secret:
        raise validation_error("secret_key", "secret_key must not be empty")
    return secret


async def _check_endpoint(vendors: ApiVendors, endpoint: str) -> None:
    """The SSRF guard, before anything is stored or connected to."""
    try:
        await check_endpoint_async(endpoint, vendors.allowlist)
    except EndpointRefused as err:
        raise validation_error("endpoint", f"endpoint refused: {err}") from None


# --- handlers --------------------------------------------------------------------------------


async def list_vendors(call: AdminCall) -> Reply:
    vendors = _vendors(call)
    items = {n: config_json(c) for n, c in vendors.configured.items()}
    for record in await vendors.store.all():
        items.setdefault(record.name, record_json(record))  # config wins on a name clash
    return Reply(body={"items": [items[n] for n in sorted(items)]})


async def create_vendor(call: AdminCall) -> Reply:
    vendors = _vendors(call)
    body = Body(call.data)
    name = body.name("name", "vendor name")
    record = _fields(body, VendorRecord(name=name, endpoint="", access_key=""), patch=False)
    secret = _secret(body, required=True)
    body.done()
    if name in vendors.configured:
        raise AdminError(
            "EntityAlreadyExists", 409, f"The config file already declares a vendor {name}."
        )
    await _check_endpoint(vendors, record.endpoint)
    assert secret is not None
    try:
        stored = await vendors.store.create(record, secret)
    except VendorExists:
        raise AdminError(
            "EntityAlreadyExists", 409, f"A vendor with name {name} already exists."
        ) from None
    await vendors.sync(name)  # this node serves it before answering
    return Reply(201, record_json(stored))


async def get_vendor(call: AdminCall) -> Reply:
    vendors, name = _vendors(call), call.params["name"]
    if name in vendors.configured:
        return Reply(body=config_json(vendors.configured[name]))
    record = await vendors.store.get(name)
    if record is None:
        raise _no_vendor(name)
    return Reply(body=record_json(record))


def _update(*, patch: bool) -> Callable[[AdminCall], Awaitable[Reply]]:
    async def update_vendor(call: AdminCall) -> Reply:
        vendors, name = _vendors(call), call.params["name"]
        body = Body(call.data)
        if name in vendors.configured:
            raise managed_by_config("vendor", name)
        current = await vendors.store.get(name)
        if current is None:
            raise _no_vendor(name)
        fresh = VendorRecord(name=name, endpoint="", access_key="")
        base = current if patch else replace(fresh, created=current.created)
        record = _fields(body, base, patch=patch)
        secret = _secret(body, required=False)
        body.done()
        await _check_endpoint(vendors, record.endpoint)
        try:
            stored = await vendors.store.replace(record, secret, expected_revision=current.revision)
        except ConcurrentChange:
            raise AdminError(
                "ConcurrentModification", 409, f"The vendor {name} changed meanwhile; retry."
            ) from None
        await vendors.sync(name)
        return Reply(body=record_json(stored))

    return update_vendor


async def delete_vendor(call: AdminCall) -> Reply:
    vendors, name = _vendors(call), call.params["name"]
    if name in vendors.configured:
        raise managed_by_config("vendor", name)
    if await vendors.store.get(name) is None:
        raise _no_vendor(name)
    users = [pb.name for pb in await call.services.router.all() if name in _vendor_names(pb)]
    if users:
        shown = ", ".join(users[:5]) + (" ..." if len(users) > 5 else "")
        raise AdminError("DeleteConflict", 409, f"The vendor {name} is used by PBucket(s) {shown}.")
    await vendors.store.delete(name)
    await vendors.sync(name)
    return Reply(204)


def _vendor_names(pb: PBucket) -> set[str]:
    return {t.vendor for t in pb.targets}


_ONE = "/admin/v1/vendors/{name}"
ENDPOINTS = (
    Endpoint("GET", "/admin/v1/vendors", "ListVendors", list_vendors, any_resource),
    Endpoint(
        "POST", "/admin/v1/vendors", "CreateVendor", create_vendor, in_body("vendor"), body="object"
    ),
    Endpoint("GET", _ONE, "GetVendor", get_vendor, in_path("vendor")),
    Endpoint("PUT", _ONE, "UpdateVendor", _update(patch=False), in_path("vendor"), body="object"),
    Endpoint("PATCH", _ONE, "UpdateVendor", _update(patch=True), in_path("vendor"), body="object"),
    Endpoint("DELETE", _ONE, "DeleteVendor", delete_vendor, in_path("vendor")),
)
