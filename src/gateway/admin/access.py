"""Which ARN each admin call acts on, and the rules no policy can lift (privilege escalation).

Every endpoint names an action (`admin:CreateUser`) and a resource built here from the request
alone (path parameters, the body's `name`), so authorisation runs before anything is looked up
or changed. The resources:

    arn:aws:iam::<account>:user/<name>      users, their keys and attached policies
    arn:aws:iam::<account>:root             the root account's own access keys
    arn:aws:iam::<account>:group/<name>     groups, members and attached policies
    arn:aws:iam::<account>:policy/<name>    managed policies
    arn:aws:iam::<account>:role/<name>      roles and attached policies
    arn:aws:iam::<account>:vendor/<name>    vendors
    arn:aws:s3:::<pbucket>                  PBuckets and their bucket policies
    *                                       list endpoints

Guards (security.md IAM-24, MinIO CVE-2021-43858 / CVE-2022-24842): whatever its policies say,
a caller other than root may not change the permissions it acts with: attach or detach a policy
on itself, its groups or (a role session) its role, join or leave a group, rewrite a policy
attached to it, or delete a group it is in; and only root manages root's access keys.
Those changes need a second administrator (or root).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auth.iam_identity import Identity
from auth.iam_model import ROOT_USER
from auth.iam_store import Snapshot
from gateway.admin.fields import valid_name, validation_error
from gateway.dispatch import validate_bucket_name
from gateway.errors import S3Error

__all__ = [
    "Guard",
    "Resource",
    "Scope",
    "any_resource",
    "iam_arn",
    "in_body",
    "in_path",
    "key_owner",
    "not_own_group",
    "not_own_policy",
    "not_own_role",
    "not_self",
    "pbucket",
    "pbucket_in_body",
    "pbucket_name",
    "root_keys_by_root",
]

SELF_CHANGE = "A caller cannot change the permissions it acts with; ask another administrator."
ROOT_KEYS = "Only the root account manages its own access keys."


@dataclass(frozen=True, slots=True)
class Scope:
    """What an admin call is about, known before authorisation: no IAM lookup needed for the
    ARN except an access key's owner (key ids are not secrets)."""

    account_id: str
    params: Mapping[str, str]
    data: Mapping[str, Any]
    identity: Identity
    snapshot: Snapshot


Resource = Callable[[Scope], str]
#: returns why the call is refused, or None
Guard = Callable[[Scope], str | None]


def iam_arn(account_id: str, kind: str, name: str) -> str:
    if kind == "user" and name == ROOT_USER:
        return f"arn:aws:iam::{account_id}:root"
    return f"arn:aws:iam::{account_id}:{kind}/{name}"


def any_resource(scope: Scope) -> str:
    return "*"


def in_path(kind: str, param: str = "name") -> Resource:
    """The ARN of the `kind` named by path parameter `param`."""

    def resource(scope: Scope) -> str:
        return iam_arn(scope.account_id, kind, scope.params[param])

    return resource


def in_body(kind: str, field: str = "name") -> Resource:
    """The ARN of the `kind` a create call names in its body (validated here already)."""

    def resource(scope: Scope) -> str:
        name = valid_name(scope.data.get(field), field, f"{kind} name")
        return iam_arn(scope.account_id, kind, name)

    return resource


def pbucket(scope: Scope) -> str:
    return f"arn:aws:s3:::{scope.params['name']}"


def pbucket_name(value: object, field: str = "name") -> str:
    """A PBucket name by S3's bucket naming rules, or a ValidationError naming `field`."""
    if not isinstance(value, str):
        raise validation_error(field, f"{field} must be a string")
    try:
        validate_bucket_name(value)
    except S3Error as err:
        raise validation_error(field, f"{field}: {err.message}") from None
    return value


def pbucket_in_body(scope: Scope) -> str:
    """The ARN of the PBucket a create call names in its body."""
    return f"arn:aws:s3:::{pbucket_name(scope.data.get('name'))}"


def _key_user(scope: Scope) -> str | None:
    key = scope.snapshot.keys.get(scope.params["access_key"])
    return None if key is None else key.user


def key_owner(scope: Scope) -> str:
    """The ARN of the user owning the key; an unknown key id is the caller's own (as AWS
    defaults UserName to the caller), so it is a 404 only to whoever manages its own keys."""
    user = _key_user(scope)
    return scope.identity.arn if user is None else iam_arn(scope.account_id, "user", user)


def root_keys_by_root(scope: Scope) -> str | None:
    """For /users/{name}/keys and /keys/{access_key}: root's keys are root's business only."""
    user = scope.params["name"] if "name" in scope.params else _key_user(scope)
    return ROOT_KEYS if user == ROOT_USER else None


def _caller_user(identity: Identity) -> str | None:
    """The IAM user whose rights the caller carries (a user's session included)."""
    return identity.username


def _caller_policies(identity: Identity, snap: Snapshot) -> set[str]:
    if identity.kind == "role-session":
        role = snap.roles.get(identity.name)
        return set(role.policies) if role is not None else set()
    name = _caller_user(identity)
    user = snap.users.get(name) if name is not None else None
    if user is None:
        return set()
    names = set(user.policies)
    for group in snap.groups_of(user.name):
        names.update(group.policies)
    return names


def not_self(param: str) -> Guard:
    """The user in path parameter `param` must not be the caller."""

    def guard(scope: Scope) -> str | None:
        return SELF_CHANGE if scope.params[param] == _caller_user(scope.identity) else None

    return guard


def not_own_group(scope: Scope) -> str | None:
    group = scope.snapshot.groups.get(scope.params["name"])
    user = _caller_user(scope.identity)
    return SELF_CHANGE if group is not None and user in group.members else None


def not_own_role(scope: Scope) -> str | None:
    identity = scope.identity
    own = identity.kind == "role-session" and identity.name == scope.params["name"]
    return SELF_CHANGE if own else None


def not_own_policy(scope: Scope) -> str | None:
    own = scope.params["name"] in _caller_policies(scope.identity, scope.snapshot)
    return SELF_CHANGE if own else None
