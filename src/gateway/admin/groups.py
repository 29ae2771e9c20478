"""Groups (`/admin/v1/groups`): a user's rights are its own policies plus its groups'.

Membership is a change of rights, so nobody but root may add itself to a group or leave one
(access.not_self), and a member may not delete its own group.
"""

from __future__ import annotations

from typing import Any

from auth.iam_model import Group
from auth.iam_store import IamError
from gateway.admin.access import any_resource, iam_arn, in_body, in_path, not_own_group, not_self
from gateway.admin.fields import Body, iso
from gateway.admin.frame import AdminCall, Endpoint, Reply

__all__ = ["ENDPOINTS", "group_json"]


def group_json(group: Group, account_id: str) -> dict[str, Any]:
    return {
        "name": group.name,
        "arn": iam_arn(account_id, "group", group.name),
        "created": iso(group.created),
        "members": sorted(group.members),
        "policies": list(group.policies),
    }


async def list_groups(call: AdminCall) -> Reply:
    groups = sorted(call.snapshot().groups.values(), key=lambda g: g.name)
    return Reply(body={"items": [group_json(g, call.account_id) for g in groups]})


async def create_group(call: AdminCall) -> Reply:
    body = Body(call.data)
    name = body.name("name", "group name")
    body.done()
    group = await call.store.create_group(name)
    await call.committed()
    return Reply(201, group_json(group, call.account_id))


async def get_group(call: AdminCall) -> Reply:
    name = call.params["name"]
    group = call.snapshot().groups.get(name)
    if group is None:
        raise IamError("NoSuchEntity", 404, f"The group with name {name} cannot be found.")
    return Reply(body=group_json(group, call.account_id))


async def delete_group(call: AdminCall) -> Reply:
    await call.store.delete_group(call.params["name"])
    await call.committed()
    return Reply(204)


async def add_user(call: AdminCall) -> Reply:
    group = await call.store.set_membership(call.params["name"], call.params["user"], True)
    await call.committed()
    return Reply(body=group_json(group, call.account_id))


async def remove_user(call: AdminCall) -> Reply:
    await call.store.set_membership(call.params["name"], call.params["user"], False)
    await call.committed()
    return Reply(204)


_ONE = "/admin/v1/groups/{name}"
_MEMBER = "/admin/v1/groups/{name}/members/{user}"
ENDPOINTS = (
    Endpoint("GET", "/admin/v1/groups", "ListGroups", list_groups, any_resource),
    Endpoint(
        "POST", "/admin/v1/groups", "CreateGroup", create_group, in_body("group"), body="object"
    ),
    Endpoint("GET", _ONE, "GetGroup", get_group, in_path("group")),
    Endpoint("DELETE", _ONE, "DeleteGroup", delete_group, in_path("group"), not_own_group),
    Endpoint("PUT", _MEMBER, "AddUserToGroup", add_user, in_path("group"), not_self("user")),
    Endpoint(
        "DELETE", _MEMBER, "RemoveUserFromGroup", remove_user, in_path("group"), not_self("user")
    ),
)
