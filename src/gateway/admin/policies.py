"""Managed policies (`/admin/v1/policies`) and their attachment to users, groups and roles.

Every document is parsed by `auth.policy_doc` before it is stored (IDENTITY rules, so a bad
one is 400 MalformedPolicyDocument and never reaches the engine). A policy still attached
somewhere cannot be deleted (409 DeleteConflict): detach it first.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from auth.iam_model import Group, ManagedPolicy, Role, User
from auth.iam_store import IamError, Snapshot
from auth.policy_doc import PolicyKind, parse_policy
from gateway.admin.access import (
    Guard,
    any_resource,
    iam_arn,
    in_body,
    in_path,
    not_own_group,
    not_own_policy,
    not_own_role,
    not_self,
)
from gateway.admin.fields import Body, iso
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.admin.groups import group_json
from gateway.admin.roles import role_json
from gateway.admin.users import user_json

__all__ = ["ENDPOINTS"]


def _attached(snap: Snapshot, name: str) -> dict[str, list[str]]:
    return {
        "users": sorted(u.name for u in snap.users.values() if name in u.policies),
        "groups": sorted(g.name for g in snap.groups.values() if name in g.policies),
        "roles": sorted(r.name for r in snap.roles.values() if name in r.policies),
    }


def _summary(policy: ManagedPolicy, snap: Snapshot, account_id: str) -> dict[str, Any]:
    return {
        "name": policy.name,
        "arn": iam_arn(account_id, "policy", policy.name),
        "description": policy.description,
        "created": iso(policy.created),
        "updated": iso(policy.updated),
        "attachment_count": sum(len(v) for v in _attached(snap, policy.name).values()),
    }


def policy_json(policy: ManagedPolicy, snap: Snapshot, account_id: str) -> dict[str, Any]:
    return {
        **_summary(policy, snap, account_id),
        "document": json.loads(policy.document),
        "attached_to": _attached(snap, policy.name),
    }


def _document(body: Body) -> str:
    text = body.document("document")
    parse_policy(text, PolicyKind.IDENTITY)
    return text


async def list_policies(call: AdminCall) -> Reply:
    snap = call.snapshot()
    items = [_summary(p, snap, call.account_id) for _, p in sorted(snap.policies.items())]
    return Reply(body={"items": items})


async def create_policy(call: AdminCall) -> Reply:
    body = Body(call.data)
    name = body.name("name", "policy name")
    document = _document(body)
    description = body.text("description")
    body.done()
    policy = await call.store.put_policy(name, document, description=description, create_only=True)
    snap = await call.committed()
    return Reply(201, policy_json(policy, snap, call.account_id))


def _find(snap: Snapshot, name: str) -> ManagedPolicy:
    policy = snap.policies.get(name)
    if policy is None:
        raise IamError("NoSuchEntity", 404, f"The policy with name {name} cannot be found.")
    return policy


async def get_policy(call: AdminCall) -> Reply:
    snap = call.snapshot()
    return Reply(body=policy_json(_find(snap, call.params["name"]), snap, call.account_id))


async def update_policy(call: AdminCall) -> Reply:
    """Replace the document (and the description, when given) of an existing policy."""
    body = Body(call.data)
    document = _document(body)
    description = body.text("description")
    body.done()
    name = call.params["name"]
    _find(call.snapshot(), name)
    policy = await call.store.put_policy(name, document, description=description, must_exist=True)
    snap = await call.committed()
    return Reply(body=policy_json(policy, snap, call.account_id))


async def delete_policy(call: AdminCall) -> Reply:
    await call.store.delete_policy(call.params["name"])
    await call.committed()
    return Reply(204)


# --- attachments ---------------------------------------------------------------------------------

Attach = Callable[[AdminCall, str, str, bool], Awaitable[User | Group | Role]]


async def _user(call: AdminCall, name: str, policy: str, on: bool) -> User:
    return await call.store.attach_user_policy(name, policy, on)


async def _group(call: AdminCall, name: str, policy: str, on: bool) -> Group:
    return await call.store.attach_group_policy(name, policy, on)


async def _role(call: AdminCall, name: str, policy: str, on: bool) -> Role:
    return await call.store.attach_role_policy(name, policy, on)


def _holder_json(holder: User | Group | Role, snap: Snapshot, account_id: str) -> dict[str, Any]:
    if isinstance(holder, User):
        return user_json(holder, snap, account_id)
    if isinstance(holder, Group):
        return group_json(holder, account_id)
    return role_json(holder, account_id)


def _attach(change: Attach, *, on: bool) -> Callable[[AdminCall], Awaitable[Reply]]:
    async def handler(call: AdminCall) -> Reply:
        holder = await change(call, call.params["name"], call.params["policy"], on)
        snap = await call.committed()
        return Reply(body=_holder_json(holder, snap, call.account_id)) if on else Reply(204)

    return handler


def _attachments(kind: str, change: Attach, guard: Guard) -> tuple[Endpoint, Endpoint]:
    """PUT (attach) and DELETE (detach) on /admin/v1/<kind>s/{name}/policies/{policy}."""
    path = f"/admin/v1/{kind}s/{{name}}/policies/{{policy}}"
    noun = kind.capitalize()
    attach, detach = _attach(change, on=True), _attach(change, on=False)
    return (
        Endpoint("PUT", path, f"Attach{noun}Policy", attach, in_path(kind), guard),
        Endpoint("DELETE", path, f"Detach{noun}Policy", detach, in_path(kind), guard),
    )


_ONE = "/admin/v1/policies/{name}"
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/admin/v1/policies", "ListPolicies", list_policies, any_resource),
    Endpoint(
        "POST",
        "/admin/v1/policies",
        "CreatePolicy",
        create_policy,
        in_body("policy"),
        body="object",
    ),
    Endpoint("GET", _ONE, "GetPolicy", get_policy, in_path("policy")),
    Endpoint(
        "PUT", _ONE, "UpdatePolicy", update_policy, in_path("policy"), not_own_policy, "object"
    ),
    Endpoint("DELETE", _ONE, "DeletePolicy", delete_policy, in_path("policy")),
    *_attachments("user", _user, not_self("name")),
    *_attachments("group", _group, not_own_group),
    *_attachments("role", _role, not_own_role),
)
