"""STS rules, free of I/O: durations, parameter checks, session policies, credential issue, and
whether a caller may assume a role (AWS STS API Reference, 2011-06-15: AssumeRole,
GetSessionToken, GetCallerIdentity). The gateway reads the request and stores the session.

    StsError(code, message)   every refusal; `status` comes from STS_ERRORS (AWS's status)

Decisions that differ from, or are not spelled out by, AWS:

- The account root may not call AssumeRole (AWS: "Roles may not be assumed by root accounts").
  It may call GetSessionToken, for 900..3600 s (AWS's root range), default 3600.
- GetSessionToken with session credentials (of a user or a role) is refused, as in AWS.
- Role chaining (AssumeRole with role-session credentials) is capped at one hour, as in AWS.
- A session Policy is limited on its packed form: the JSON re-serialised without insignificant
  whitespace must be at most 2048 characters (PackedPolicyTooLarge); pretty-printing is free.
- Managed session policies (PolicyArns), session tags, SourceIdentity and MFA parameters are
  refused rather than ignored: ignoring them would hand out a wider session than was asked for.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from auth.iam_identity import Identity, compiled
from auth.iam_model import Role, Session
from auth.iam_store import new_session_key
from auth.policy_doc import PolicyDocument, PolicyKind, parse_policy
from auth.policy_errors import PolicyError
from auth.policy_eval import Decision, RequestContext, evaluate
from auth.secrets import generate_secret_key

__all__ = [
    "ASSUME_ROLE_ACTION",
    "EXPIRED_GRACE_SECONDS",
    "MAX_PACKED_POLICY_CHARS",
    "STS_ERRORS",
    "Issued",
    "RoleRef",
    "SessionPolicy",
    "StsError",
    "assume_role_decision",
    "assume_role_duration",
    "issue",
    "may_call_assume_role",
    "may_call_get_session_token",
    "new_session_token",
    "not_authorized",
    "parse_role_arn",
    "principal_arns",
    "role_for",
    "session_policy",
    "session_token_duration",
    "token_digest",
    "validate_external_id",
    "validate_session_name",
]

ASSUME_ROLE_ACTION: Final = "sts:AssumeRole"

MIN_SECONDS: Final = 900
ASSUME_ROLE_DEFAULT: Final = 3600
ASSUME_ROLE_MAX: Final = 43200  # the largest MaxSessionDuration a role may have
CHAINED_MAX: Final = 3600
SESSION_TOKEN_DEFAULT: Final = 43200
SESSION_TOKEN_MAX: Final = 129600
ROOT_SESSION_TOKEN_MAX: Final = 3600
#: The Redis record outlives the session by this much, so a just-expired token is answered
#: ExpiredToken rather than InvalidAccessKeyId.
EXPIRED_GRACE_SECONDS: Final = 300
MAX_PACKED_POLICY_CHARS: Final = 2048
TOKEN_BYTES: Final = 96  # 128 URL-safe characters

#: code -> HTTP status, as AWS STS answers them (all "Sender" faults below 500).
STS_ERRORS: Final[Mapping[str, int]] = {
    "AccessDenied": 403,
    "ExpiredToken": 400,
    "IncompleteSignature": 400,
    "InternalFailure": 500,
    "InvalidAction": 400,
    "InvalidClientTokenId": 403,
    "InvalidParameterValue": 400,
    "MalformedPolicyDocument": 400,
    "MissingAuthenticationToken": 403,
    "MissingParameter": 400,
    "PackedPolicyTooLarge": 400,
    "RequestTimeout": 400,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "ValidationError": 400,
}

_SESSION_NAME = re.compile(r"[\w+=,.@-]*", re.ASCII)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]*", re.ASCII)
_ROLE_ARN = re.compile(
    r"arn:aws:iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})", re.ASCII
)
_INTEGER = re.compile(r"-?\d{1,12}", re.ASCII)


class StsError(Exception):
    """A refused STS request: AWS's error `code`, its HTTP `status`, and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = STS_ERRORS.get(code, 500)


def _validation(message: str) -> StsError:
    return StsError("ValidationError", message)


def _constraint(value: object, member: str, constraint: str) -> StsError:
    """AWS's wording for a parameter outside its documented constraint."""
    shown = "null" if value is None else f"'{str(value)[:64]}'"
    return _validation(
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


# --- durations ---------------------------------------------------------------------------------


def _seconds(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise _constraint(raw, "durationSeconds", "be an integer")
    return int(raw)


def assume_role_duration(raw: str | None, *, role_max: int, chained: bool) -> int:
    """AssumeRole DurationSeconds: 900 .. the role's MaxSessionDuration (one hour when chaining
    roles), default 3600 (or less when the role allows less)."""
    ceiling = min(role_max, CHAINED_MAX) if chained else role_max
    if raw is None:
        return min(ASSUME_ROLE_DEFAULT, ceiling)
    value = _seconds(raw)
    if value < MIN_SECONDS:
        raise _constraint(
            value, "durationSeconds", f"have value greater than or equal to {MIN_SECONDS}"
        )
    if value > ASSUME_ROLE_MAX:
        raise _constraint(
            value, "durationSeconds", f"have value less than or equal to {ASSUME_ROLE_MAX}"
        )
    if chained and value > CHAINED_MAX:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    if value > role_max:
        raise _validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return value


def session_token_duration(raw: str | None, *, root: bool) -> int:
    """GetSessionToken DurationSeconds: 900..129600, default 43200; the root: 900..3600,
    default 3600."""
    if raw is None:
        return ROOT_SESSION_TOKEN_MAX if root else SESSION_TOKEN_DEFAULT
    value = _seconds(raw)
    if value < MIN_SECONDS:
        raise _constraint(
            value, "durationSeconds", f"have value greater than or equal to {MIN_SECONDS}"
        )
    if value > SESSION_TOKEN_MAX:
        raise _constraint(
            value, "durationSeconds", f"have value less than or equal to {SESSION_TOKEN_MAX}"
        )
    if root and value > ROOT_SESSION_TOKEN_MAX:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for the account "
            "root user."
        )
    return value


# --- parameters --------------------------------------------------------------------------------


def validate_session_name(raw: str | None) -> str:
    """RoleSessionName: 2..64 characters of [\\w+=,.@-]."""
    if raw is None:
        raise _constraint(None, "roleSessionName", "not be null")
    if len(raw) < 2:
        raise _constraint(raw, "roleSessionName", "have length greater than or equal to 2")
    if len(raw) > 64:
        raise _constraint(raw, "roleSessionName", "have length less than or equal to 64")
    if not _SESSION_NAME.fullmatch(raw):
        raise _constraint(
            raw, "roleSessionName", "satisfy regular expression pattern: [\\w+=,.@-]*"
        )
    return raw


def validate_external_id(raw: str | None) -> str | None:
    """ExternalId (offered to trust policies as sts:ExternalId): 2..1224 of [\\w+=,.@:/-]."""
    if raw is None:
        return None
    if not 2 <= len(raw) <= 1224:
        raise _constraint(raw, "externalId", "have length between 2 and 1224")
    if not _EXTERNAL_ID.fullmatch(raw):
        raise _constraint(raw, "externalId", "satisfy regular expression pattern: [\\w+=,.@:/-]*")
    return raw


@dataclass(frozen=True, slots=True)
class RoleRef:
    """A parsed role ARN: `arn:aws:iam::<account>:role/<path/><name>`."""

    account: str
    path: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.path}{self.name}"


def parse_role_arn(raw: str | None) -> RoleRef:
    """RoleArn: 20..2048 characters and a well-formed IAM role ARN, else ValidationError."""
    if raw is None:
        raise _constraint(None, "roleArn", "not be null")
    if len(raw) < 20:
        raise _constraint(raw, "roleArn", "have length greater than or equal to 20")
    if len(raw) > 2048:
        raise _constraint(raw, "roleArn", "have length less than or equal to 2048")
    found = _ROLE_ARN.fullmatch(raw)
    if found is None:
        raise _validation(f"{raw[:128]} is invalid")
    return RoleRef(account=found[1], path=found[2], name=found[3])


def role_for(ref: RoleRef, account_id: str, roles: Mapping[str, Role]) -> Role | None:
    """The role `ref` names in this account, or None: another account's role, a path (PCache
    roles all live at "/") and an unknown name are alike to the caller (AccessDenied)."""
    if ref.account != account_id or ref.path:
        return None
    return roles.get(ref.name)


# --- session policies ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """An inline session policy: `text` exactly as validated (and stored: re-serialising could
    change how a number reads), `packed_percent` how much of the 2048-character allowance its
    packed form uses (AWS's PackedPolicySize)."""

    text: str
    packed_percent: int


def session_policy(raw: str | None) -> SessionPolicy | None:
    """Validate an AssumeRole Policy parameter (an identity policy) and pack it."""
    if raw is None:
        return None
    if not raw:
        raise _constraint(raw, "policy", "have length greater than or equal to 1")
    try:
        parse_policy(raw, PolicyKind.IDENTITY)
    except PolicyError as err:
        raise StsError("MalformedPolicyDocument", err.message) from None
    packed = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    percent = math.ceil(100 * len(packed) / MAX_PACKED_POLICY_CHARS)
    if len(packed) > MAX_PACKED_POLICY_CHARS:
        raise StsError(
            "PackedPolicyTooLarge",
            f"Packed size of the session policy exceeds the limit ({percent}% of allowed, "
            f"{len(packed)} of {MAX_PACKED_POLICY_CHARS} characters without whitespace).",
        )
    return SessionPolicy(text=raw, packed_percent=percent)


# --- credentials -------------------------------------------------------------------------------


def new_session_token() -> str:
    """A fresh session token: 96 random bytes, URL-safe base64 (128 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, hex. The token itself only reaches the caller."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, repr=False)
class Issued:
    """A new session (secret not yet sealed) with the secret and token for the caller."""

    session: Session
    secret: str
    token: str

    def __repr__(self) -> str:  # never print a secret or a token
        return f"Issued(access_key={self.session.access_key!r}, expires={self.session.expires})"


def issue(
    *,
    kind: str,
    subject: str,
    duration: int,
    now: datetime,
    session_name: str = "",
    policy: str | None = None,
) -> Issued:
    """Temporary credentials valid `duration` seconds from `now` (an aware UTC time)."""
    created = now.replace(microsecond=0)
    token = new_session_token()
    session = Session(
        access_key=new_session_key(),
        secret_enc="",
        token_sha256=token_digest(token),
        expires=created + timedelta(seconds=duration),
        kind=kind,
        subject=subject,
        session_name=session_name,
        policy=policy,
        created=created,
    )
    return Issued(session=session, secret=generate_secret_key(), token=token)


# --- may the caller assume the role? ------------------------------------------------------------


def may_call_assume_role(caller: Identity) -> None:
    """The account root, or a session of it, never assumes a role (as in AWS)."""
    if caller.is_root:
        raise StsError("AccessDenied", "Roles may not be assumed by root accounts.")


def may_call_get_session_token(caller: Identity) -> None:
    """Only long-term credentials (a user's or the root's) get session tokens (as in AWS)."""
    if caller.kind in ("user-session", "role-session"):
        raise StsError("AccessDenied", "Cannot call GetSessionToken with session credentials")


def not_authorized(caller_arn: str, role_arn: str) -> StsError:
    return StsError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: {ASSUME_ROLE_ACTION} on resource: "
        f"{role_arn}",
    )


def principal_arns(caller: Identity, account_id: str) -> tuple[str, ...]:
    """The ARNs a trust policy may name the caller by: a role session also answers to its
    role's ARN (as in AWS, where trust policies name roles, not sessions)."""
    if caller.kind == "role-session":
        return (caller.arn, f"arn:aws:iam::{account_id}:role/{caller.name}")
    return (caller.arn,)


def _trust_document(role: Role) -> PolicyDocument | None:
    try:
        return compiled(role.trust_policy, PolicyKind.TRUST)
    except PolicyError:
        return None  # a stored document that no longer parses trusts nobody


def assume_role_decision(
    caller: Identity,
    role: Role,
    role_arn: str,
    account_id: str,
    keys: Mapping[str, tuple[str, ...]],
) -> Decision:
    """Whether `caller` may assume `role` (after `may_call_assume_role`).

    - An explicit Deny in the trust policy (for any of the caller's ARNs, or for the account),
      in the caller's identity policies or in its session policy denies.
    - A trust policy that names the caller (or "*") allows on its own, narrowed by the caller's
      session policy if it has one.
    - A trust policy that names the account (`arn:aws:iam::<acct>:root` or the bare account id)
      delegates to the account: the caller's identity policies must allow sts:AssumeRole on the
      role's ARN too.
    """
    trust = _trust_document(role)
    if trust is None:
        return Decision.IMPLICIT_DENY
    merged = {**keys, **caller.keys}

    def ctx(principal: str) -> RequestContext:
        return RequestContext(ASSUME_ROLE_ACTION, role_arn, principal, False, merged)

    direct = [evaluate(ctx(arn), (), (trust,)) for arn in principal_arns(caller, account_id)]
    via_account = evaluate(ctx(f"arn:aws:iam::{account_id}:root"), (), (trust,))
    own = evaluate(ctx(caller.arn), caller.policies, (), caller.session_policies)
    if Decision.EXPLICIT_DENY in (*direct, via_account, own):
        return Decision.EXPLICIT_DENY
    if Decision.ALLOW in direct:
        if caller.session_policies is None:
            return Decision.ALLOW
        narrowed = evaluate(ctx(caller.arn), caller.session_policies, ())
        return Decision.ALLOW if narrowed is Decision.ALLOW else Decision.IMPLICIT_DENY
    if via_account is Decision.ALLOW and own is Decision.ALLOW:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY
