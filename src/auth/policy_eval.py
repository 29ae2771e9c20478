"""Decide one request against the policies that apply to it (AWS's evaluation logic, the part an
S3 gateway needs: identity, bucket (or trust) and session policies, one account).

    1. An explicit Deny in any applicable statement of any policy wins: EXPLICIT_DENY.
    2. Otherwise the request is allowed if an identity policy allows it (authenticated callers
       only; the account root is allowed everything) or a bucket policy statement whose
       Principal names the caller allows it. Anonymous callers (principal_arn None) can only be
       allowed by Principal "*" / {"AWS": "*"}.
    3. When session policies are given (an STS session's inline policy), they narrow: the
       result of 2 stands only if a session policy allows the request too. AWS exempts a
       resource policy that names the session ARN itself; we do not, which is stricter.
    4. Anything else: IMPLICIT_DENY.

Statement order never matters and no statement is ever dropped: every Deny is looked at before
any Allow. One AWS exception is kept: the account root may always Get/Put/DeleteBucketPolicy
despite a bucket-policy Deny, so a bad policy cannot lock the owner out of its own bucket.

Documents are compiled when parsed (`auth.policy_doc`), so this is a loop over precompiled
statements: action first (a set lookup or a prefix test), then principal, resource, conditions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from auth.policy_doc import PolicyDocument, Statement

__all__ = ["ROOT_ALWAYS_ALLOWED", "Decision", "RequestContext", "evaluate"]

ROOT_ALWAYS_ALLOWED: Final = frozenset(
    {"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"}
)
"""Casefolded actions the account root keeps despite a bucket-policy Deny (AWS's lockout
escape hatch, "PutBucketPolicy" in the S3 API reference)."""


class Decision(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the policies are asked about. `keys` maps condition keys to their values; key names
    are case-insensitive in IAM, so they are lower-cased here once. A key with no values counts
    as absent. Policy variables (`${aws:username}`) are read from the same keys.
    """

    action: str
    resource: str
    principal_arn: str | None = None
    account_is_root: bool = False
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    casefolded_action: str = field(init=False, repr=False, compare=False)
    lowered_keys: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.account_is_root and self.principal_arn is None:
            raise ValueError("a root request needs the root's principal ARN")
        object.__setattr__(self, "casefolded_action", self.action.casefold())
        lowered = {name.lower(): _values(values) for name, values in self.keys.items()}
        object.__setattr__(self, "lowered_keys", lowered)

    @property
    def anonymous(self) -> bool:
        return self.principal_arn is None

    def values(self, key: str) -> tuple[str, ...]:
        return self.lowered_keys.get(key.lower(), ())

    def variable(self, key: str) -> str | None:
        """A policy variable's value (`key` lower-case): the key's only value, else None."""
        values = self.lowered_keys.get(key, ())
        return values[0] if len(values) == 1 else None


def _values(values: object) -> tuple[str, ...]:
    """A key's values as a tuple; a bare string is one value (never a tuple of characters)."""
    if isinstance(values, str):
        return (values,)
    if isinstance(values, tuple | list):
        return tuple(str(v) for v in values)
    raise TypeError(f"condition key values must be a tuple of strings, not {type(values)}")


def _candidates(
    policies: Sequence[PolicyDocument], action: str
) -> tuple[list[Statement], list[Statement]]:
    """Every deny and every allow statement, over all the policies, that covers `action`."""
    denies: list[Statement] = []
    allows: list[Statement] = []
    for policy in policies:
        policy_denies, policy_allows = policy.for_action(action)
        denies.extend(policy_denies)
        allows.extend(policy_allows)
    return denies, allows


def _any_applies(
    statements: Sequence[Statement], ctx: RequestContext, *, resource_based: bool
) -> bool:
    """Does any statement apply to the request? The action is already matched (by
    `PolicyDocument.for_action`); the principal, resource and conditions are checked here,
    cheapest first. A plain loop: this is the hot path of every authorised request."""
    principal, resource = ctx.principal_arn, ctx.resource
    keys, lookup = ctx.lowered_keys, ctx.variable
    for statement in statements:
        if (
            statement.matches_principal(principal, resource_based=resource_based)
            and statement.matches_resource(resource, lookup)
            and statement.conditions_hold(keys, lookup)
        ):
            return True
    return False


def evaluate(
    ctx: RequestContext,
    identity_policies: Sequence[PolicyDocument],
    bucket_policies: Sequence[PolicyDocument] = (),
    session_policies: Sequence[PolicyDocument] | None = None,
) -> Decision:
    """The decision for `ctx` (see the module docstring for the rules).

    `bucket_policies` are resource-based policies: a bucket's policy, or a role's trust policy
    when deciding sts:AssumeRole. `session_policies=None` means "no session policy"; an empty
    sequence means a session whose policy allows nothing.
    """
    action = ctx.casefolded_action
    identity_denies, identity_allows = _candidates(identity_policies, action)
    bucket_denies, bucket_allows = _candidates(bucket_policies, action)
    session_denies, session_allows = _candidates(session_policies or (), action)
    if ctx.account_is_root and action in ROOT_ALWAYS_ALLOWED:
        bucket_denies = []
    if (
        _any_applies(identity_denies, ctx, resource_based=False)
        or _any_applies(bucket_denies, ctx, resource_based=True)
        or _any_applies(session_denies, ctx, resource_based=False)
    ):
        return Decision.EXPLICIT_DENY
    allowed = (
        ctx.account_is_root
        or (not ctx.anonymous and _any_applies(identity_allows, ctx, resource_based=False))
        or _any_applies(bucket_allows, ctx, resource_based=True)
    )
    if allowed and session_policies is not None:
        allowed = _any_applies(session_allows, ctx, resource_based=False)
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
