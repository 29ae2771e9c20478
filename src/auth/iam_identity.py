"""Who a verified request speaks for, and the policies that govern it.

An `Identity` is built from a Credential and the current IAM Snapshot: its ARN, the condition
keys that describe it (`aws:username`, `aws:userid`, `aws:PrincipalType`), and its compiled
identity policies (a user's own plus its groups'; a role session's role policies) with the
session policy that narrows them. `authorize` then asks the policy engine once per action.

Compiled documents are kept in a bounded cache keyed by their text, so a snapshot refresh does
not re-parse unchanged policies and a request never parses at all once warm. Identities are
memoised per snapshot: a snapshot never changes, so the same credential always yields the same
Identity until the next snapshot replaces it (which empties the memo).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auth.iam_model import ROOT_USER
from auth.iam_store import Snapshot
from auth.iam_view import Credential
from auth.policy_doc import PolicyDocument, PolicyKind, parse_policy
from auth.policy_eval import Decision, RequestContext, evaluate

__all__ = [
    "Identity",
    "authorize",
    "bucket_policies",
    "bucket_policy_reads_tags",
    "compiled",
    "identity_for",
]

_CACHE_ENTRIES = 4096
_IDENTITY_ENTRIES = 4096
EXISTING_TAG = "s3:existingobjecttag/"
_compiled: OrderedDict[tuple[PolicyKind, str], PolicyDocument] = OrderedDict()


def compiled(text: str, kind: PolicyKind) -> PolicyDocument:
    """The parsed form of a stored (already validated) document, cached by its text."""
    key = (kind, text)
    hit = _compiled.get(key)
    if hit is not None:
        _compiled.move_to_end(key)
        return hit
    doc = parse_policy(text, kind)
    _compiled[key] = doc
    while len(_compiled) > _CACHE_ENTRIES:
        _compiled.popitem(last=False)
    return doc


@dataclass(frozen=True, slots=True)
class Identity:
    access_key: str
    #: IAM user name, "root", or the role's name for a role session
    name: str
    kind: str
    arn: str
    keys: Mapping[str, tuple[str, ...]]
    policies: tuple[PolicyDocument, ...] = ()
    session_policies: tuple[PolicyDocument, ...] | None = None
    #: whether any of these policies has an s3:ExistingObjectTag condition (worth a tag fetch)
    reads_existing_tags: bool = False

    @property
    def is_root(self) -> bool:
        return self.kind == "root" or (self.kind == "user-session" and self.name == ROOT_USER)

    @property
    def username(self) -> str | None:
        return None if self.kind == "role-session" or self.is_root else self.name


class _IdentityMemo:
    """Identities built from one snapshot, by credential and account (bounded)."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: dict[tuple[Credential, str], Identity] = {}

    def get(self, snap: Snapshot, cred: Credential, account_id: str) -> Identity:
        if snap is not self.snapshot:
            self.snapshot, self.entries = snap, {}
        key = (cred, account_id)
        identity = self.entries.get(key)
        if identity is None:
            identity = _build_identity(snap, cred, account_id)
            if len(self.entries) >= _IDENTITY_ENTRIES:
                self.entries.clear()
            self.entries[key] = identity
        return identity


_identities = _IdentityMemo()


def identity_for(snap: Snapshot, cred: Credential, account_id: str) -> Identity:
    """Who `cred` speaks for under `snap`. Raises KeyError when its user or role is gone."""
    return _identities.get(snap, cred, account_id)


def _build_identity(snap: Snapshot, cred: Credential, account_id: str) -> Identity:
    session = cred.session
    if cred.kind == "role-session" and session is not None:
        role = snap.roles[cred.subject]
        return Identity(
            access_key=cred.access_key,
            name=role.name,
            kind=cred.kind,
            arn=f"arn:aws:sts::{account_id}:assumed-role/{role.name}/{session.session_name}",
            keys={
                "aws:userid": (f"{role.role_id}:{session.session_name}",),
                "aws:principaltype": ("AssumedRole",),
            },
            policies=_managed(snap, role.policies),
            reads_existing_tags=_reads_tags(
                [
                    *(snap.policies[n].document for n in role.policies if n in snap.policies),
                    session.policy or "",
                ]
            ),
            session_policies=(
                None if session.policy is None else (compiled(session.policy, PolicyKind.IDENTITY),)
            ),
        )
    if cred.subject == ROOT_USER:
        return Identity(
            access_key=cred.access_key,
            name=ROOT_USER,
            kind="root" if cred.kind == "root" else cred.kind,
            arn=f"arn:aws:iam::{account_id}:root",
            keys={"aws:userid": (account_id,), "aws:principaltype": ("Account",)},
        )
    user = snap.users[cred.subject]
    names = [*user.policies]
    for group in snap.groups_of(user.name):
        names += [p for p in group.policies if p not in names]
    return Identity(
        access_key=cred.access_key,
        name=user.name,
        kind=cred.kind,
        arn=f"arn:aws:iam::{account_id}:user/{user.name}",
        keys={
            "aws:username": (user.name,),
            "aws:userid": (user.user_id,),
            "aws:principaltype": ("User",),
        },
        policies=_managed(snap, tuple(names)),
        reads_existing_tags=_reads_tags(
            [snap.policies[n].document for n in names if n in snap.policies]
        ),
    )


def _reads_tags(texts: Sequence[str]) -> bool:
    return any(EXISTING_TAG in t.lower() for t in texts)


def _managed(snap: Snapshot, names: Sequence[str]) -> tuple[PolicyDocument, ...]:
    return tuple(
        compiled(snap.policies[n].document, PolicyKind.IDENTITY)
        for n in names
        if n in snap.policies
    )


def bucket_policies(snap: Snapshot, bucket: str | None) -> tuple[PolicyDocument, ...]:
    if bucket is None:
        return ()
    text = snap.bucket_policies.get(bucket)
    return () if text is None else (compiled(text, PolicyKind.BUCKET),)


def bucket_policy_reads_tags(snap: Snapshot, bucket: str | None) -> bool:
    text = snap.bucket_policies.get(bucket) if bucket is not None else None
    return text is not None and _reads_tags([text])


def authorize(
    identity: Identity | None,
    action: str,
    resource: str,
    keys: Mapping[str, tuple[str, ...]],
    resource_policies: Sequence[PolicyDocument] = (),
) -> Decision:
    """The policy engine's decision for one action on one resource by `identity` (None =
    anonymous). `keys` are the request's condition keys; the identity's own are added."""
    if identity is None:
        return evaluate(RequestContext(action, resource, None, False, keys), (), resource_policies)
    merged = {**keys, **identity.keys}
    ctx = RequestContext(action, resource, identity.arn, identity.is_root, merged)
    return evaluate(ctx, identity.policies, resource_policies, identity.session_policies)
