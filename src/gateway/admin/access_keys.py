"""Access keys: create (the one reply that ever holds a secret), list, enable/disable, delete.

A key belongs to a user and carries exactly that user's rights, so a user allowed to create its
own keys (`admin:CreateAccessKey` on `user/${aws:username}`) can never mint a stronger one. The
user name `root` addresses the root account's keys, for root only (access.root_keys_by_root).
"""

from __future__ import annotations

from typing import Any

from auth.iam_model import ROOT_USER, AccessKey, KeyStatus, now_utc
from gateway.admin.access import in_path, key_owner, root_keys_by_root
from gateway.admin.fields import Body, iso, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.admin.users import find_user

__all__ = ["ENDPOINTS", "key_json"]


def key_json(key: AccessKey) -> dict[str, Any]:
    """A key as every reply but CreateAccessKey shows it: never the secret, sealed or not."""
    return {
        "access_key": key.access_key,
        "user": key.user,
        "status": key.status,
        "created": iso(key.created),
        "expires": iso(key.expires),
    }


def _known_user(call: AdminCall) -> str:
    name = call.params["name"]
    if name != ROOT_USER:
        find_user(call.snapshot(), name)
    return name


async def create_access_key(call: AdminCall) -> Reply:
    body = Body(call.data)
    expires = body.timestamp("expires")
    body.done()
    if expires is not None and expires <= now_utc():
        raise validation_error("expires", "expires must be in the future")
    user = _known_user(call)
    # Two keys per user, root included, as in AWS: enough to rotate, few enough to audit.
    key, secret = await call.store.create_access_key(user, expires=expires, limit=2)
    await call.committed()
    return Reply(201, {**key_json(key), "secret_key": secret})


async def list_access_keys(call: AdminCall) -> Reply:
    user = _known_user(call)
    keys = call.snapshot().keys_of(user)
    return Reply(body={"items": [key_json(k) for k in keys]})


async def update_access_key(call: AdminCall) -> Reply:
    body = Body(call.data)
    status = body.choice("status", KeyStatus.ALL)
    body.done()
    key = await call.store.set_key_status(call.params["access_key"], status)
    await call.committed()
    return Reply(body=key_json(key))


async def delete_access_key(call: AdminCall) -> Reply:
    await call.store.delete_access_key(call.params["access_key"])
    await call.committed()
    return Reply(204)


_USER_KEYS = "/admin/v1/users/{name}/keys"
_ONE = "/admin/v1/keys/{access_key}"
ENDPOINTS = (
    Endpoint(
        "POST",
        _USER_KEYS,
        "CreateAccessKey",
        create_access_key,
        in_path("user"),
        root_keys_by_root,
        body="object",
    ),
    Endpoint(
        "GET", _USER_KEYS, "ListAccessKeys", list_access_keys, in_path("user"), root_keys_by_root
    ),
    Endpoint(
        "PATCH",
        _ONE,
        "UpdateAccessKey",
        update_access_key,
        key_owner,
        root_keys_by_root,
        body="object",
    ),
    Endpoint("DELETE", _ONE, "DeleteAccessKey", delete_access_key, key_owner, root_keys_by_root),
)
