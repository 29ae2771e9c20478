"""Roles (`/admin/v1/roles`): a trust policy (who may assume the role through STS) and the
managed policies its sessions carry. Trust policies are parsed with TRUST rules before storing.
"""

from __future__ import annotations

import json
from typing import Any

from auth.iam_model import Role
from auth.iam_store import IamError
from auth.policy_doc import PolicyKind, parse_policy
from gateway.admin.access import any_resource, iam_arn, in_body, in_path
from gateway.admin.fields import Body, iso
from gateway.admin.frame import AdminCall, Endpoint, Reply

__all__ = ["ENDPOINTS", "MAX_SESSION", "MIN_SESSION", "role_json"]

#: AWS's bounds for a role's MaxSessionDuration (15 minutes to 12 hours).
MIN_SESSION, MAX_SESSION, DEFAULT_SESSION = 900, 43200, 3600


def role_json(role: Role, account_id: str) -> dict[str, Any]:
    return {
        "name": role.name,
        "role_id": role.role_id,
        "arn": iam_arn(account_id, "role", role.name),
        "created": iso(role.created),
        "description": role.description,
        "max_session_seconds": role.max_session_seconds,
        "trust_policy": json.loads(role.trust_policy),
        "policies": list(role.policies),
    }


async def list_roles(call: AdminCall) -> Reply:
    roles = sorted(call.snapshot().roles.values(), key=lambda r: r.name)
    return Reply(body={"items": [role_json(r, call.account_id) for r in roles]})


async def create_role(call: AdminCall) -> Reply:
    body = Body(call.data)
    name = body.name("name", "role name")
    trust = body.document("trust_policy")
    seconds = body.integer(
        "max_session_seconds", low=MIN_SESSION, high=MAX_SESSION, default=DEFAULT_SESSION
    )
    description = body.text("description")
    body.done()
    parse_policy(trust, PolicyKind.TRUST)
    role = await call.store.create_role(
        name, trust, max_session_seconds=seconds, description=description
    )
    await call.committed()
    return Reply(201, role_json(role, call.account_id))


async def get_role(call: AdminCall) -> Reply:
    name = call.params["name"]
    role = call.snapshot().roles.get(name)
    if role is None:
        raise IamError("NoSuchEntity", 404, f"The role with name {name} cannot be found.")
    return Reply(body=role_json(role, call.account_id))


async def delete_role(call: AdminCall) -> Reply:
    await call.store.delete_role(call.params["name"])
    await call.committed()
    return Reply(204)


_ONE = "/admin/v1/roles/{name}"
ENDPOINTS = (
    Endpoint("GET", "/admin/v1/roles", "ListRoles", list_roles, any_resource),
    Endpoint("POST", "/admin/v1/roles", "CreateRole", create_role, in_body("role"), body="object"),
    Endpoint("GET", _ONE, "GetRole", get_role, in_path("role")),
    Endpoint("DELETE", _ONE, "DeleteRole", delete_role, in_path("role")),
)
