"""Users: list, create, get, enable/disable, delete (`/admin/v1/users[/{name}]`).

Disabling a user stops every key and session of that user on the next request: the node that
made the change reloads its IAM view at once, the others within about a second.
"""

from __future__ import annotations

from typing import Any

from auth.iam_model import User
from auth.iam_store import IamError, Snapshot
from gateway.admin.access import any_resource, iam_arn, in_body, in_path
from gateway.admin.fields import Body, iso
from gateway.admin.frame import AdminCall, Endpoint, Reply

__all__ = ["ENDPOINTS", "user_json"]


def user_json(user: User, snap: Snapshot, account_id: str) -> dict[str, Any]:
    return {
        "name": user.name,
        "user_id": user.user_id,
        "arn": iam_arn(account_id, "user", user.name),
        "created": iso(user.created),
        "enabled": user.enabled,
        "policies": list(user.policies),
        "groups": [g.name for g in snap.groups_of(user.name)],
        "managed_by": user.managed_by,
    }


def find_user(snap: Snapshot, name: str) -> User:
    user = snap.users.get(name)
    if user is None:
        raise IamError("NoSuchEntity", 404, f"The user with name {name} cannot be found.")
    return user


async def list_users(call: AdminCall) -> Reply:
    snap = call.snapshot()
    users = sorted(snap.users.values(), key=lambda u: u.name)
    return Reply(body={"items": [user_json(u, snap, call.account_id) for u in users]})


async def create_user(call: AdminCall) -> Reply:
    body = Body(call.data)
    name = body.name("name", "user name")
    body.done()
    user = await call.store.create_user(name)
    snap = await call.committed()
    return Reply(201, user_json(user, snap, call.account_id))


async def get_user(call: AdminCall) -> Reply:
    snap = call.snapshot()
    return Reply(body=user_json(find_user(snap, call.params["name"]), snap, call.account_id))


async def update_user(call: AdminCall) -> Reply:
    body = Body(call.data)
    enabled = body.boolean("enabled")
    body.done()
    user = await call.store.set_user_enabled(call.params["name"], enabled)
    snap = await call.committed()
    return Reply(body=user_json(user, snap, call.account_id))


async def delete_user(call: AdminCall) -> Reply:
    await call.store.delete_user(call.params["name"])
    await call.committed()
    return Reply(204)


_ONE = "/admin/v1/users/{name}"
ENDPOINTS = (
    Endpoint("GET", "/admin/v1/users", "ListUsers", list_users, any_resource),
    Endpoint("POST", "/admin/v1/users", "CreateUser", create_user, in_body("user"), body="object"),
    Endpoint("GET", _ONE, "GetUser", get_user, in_path("user")),
    Endpoint("PATCH", _ONE, "UpdateUser", update_user, in_path("user"), body="object"),
    Endpoint("DELETE", _ONE, "DeleteUser", delete_user, in_path("user")),
)
