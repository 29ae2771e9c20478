"""Policy evaluation: deny wins, identity OR bucket policy allows, sessions narrow, anonymous only
through Principal "*". Cases are named after the IAM-nn items of the test plan."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.policy_doc import PolicyDocument, PolicyKind, parse_policy
from auth.policy_eval import ROOT_ALWAYS_ALLOWED, Decision, RequestContext, evaluate
from auth.policy_match import bucket_arn, object_arn
from auth.usernames import validate_name

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY

Stmt = dict[str, Any]


def _doc(kind: PolicyKind, statements: list[Stmt], version: str) -> PolicyDocument:
    return parse_policy(json.dumps({"Version": version, "Statement": statements}), kind)


def identity(*statements: Stmt, version: str = "2012-10-17") -> PolicyDocument:
    return _doc(PolicyKind.IDENTITY, list(statements), version)


def bucket(*statements: Stmt) -> PolicyDocument:
    return _doc(PolicyKind.BUCKET, list(statements), "2012-10-17")


def allow(action: str | list[str] = "s3:*", resource: str | list[str] = "*", **extra: Any) -> Stmt:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str] = "s3:*", resource: str | list[str] = "*", **extra: Any) -> Stmt:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def request(
    action: str = "s3:GetObject",
    resource: str = object_arn("b", "k"),
    principal: str | None = ALICE,
    *,
    root: bool = False,
    **keys: str | tuple[str, ...],
) -> RequestContext:
    """Keys come as python names: aws_username -> aws:username, s3_x_amz_acl -> s3:x-amz-acl."""
    context_keys = {
        _key_name(name): value if isinstance(value, tuple) else (value,)
        for name, value in keys.items()
    }
    return RequestContext(action, resource, principal, root, context_keys)


def _key_name(name: str) -> str:
    service, _, rest = name.partition("_")
    return f"{service}:{rest.replace('_', '-')}"


GET_B_K = request()
PUT_B_K = request("s3:PutObject")
LIST_B = request("s3:ListBucket", bucket_arn("b"))
ANON_GET = request(principal=None)

# --- table: (case id, identity policies, bucket policies, request, decision) -----------------

CASES: list[tuple[str, list[PolicyDocument], list[PolicyDocument], RequestContext, Decision]] = [
    # IAM-01 default deny
    ("IAM-01 nothing attached", [], [], GET_B_K, IMPLICIT),
    ("IAM-01 other action only", [identity(allow("s3:PutObject"))], [], GET_B_K, IMPLICIT),
    (
        "IAM-01 other resource only",
        [identity(allow(resource="arn:aws:s3:::c/*"))],
        [],
        GET_B_K,
        IMPLICIT,
    ),
    (
        "IAM-01 bucket policy for bob",
        [],
        [bucket(allow(Principal={"AWS": BOB}))],
        GET_B_K,
        IMPLICIT,
    ),
    # IAM-02 allow + deny, in one policy and split across two, in either order
    ("IAM-02 one policy", [identity(allow(), deny("s3:GetObject"))], [], GET_B_K, DENY),
    ("IAM-02 one policy, deny first", [identity(deny("s3:GetObject"), allow())], [], GET_B_K, DENY),
    ("IAM-02 two policies", [identity(allow()), identity(deny())], [], GET_B_K, DENY),
    ("IAM-02 two policies, deny first", [identity(deny()), identity(allow())], [], GET_B_K, DENY),
    ("IAM-02 deny elsewhere", [identity(allow(), deny("s3:PutObject"))], [], GET_B_K, ALLOW),
    # IAM-03 identity vs bucket policy, both ways
    (
        "IAM-03 user allow, bucket deny",
        [identity(allow())],
        [bucket(deny(Principal="*"))],
        GET_B_K,
        DENY,
    ),
    (
        "IAM-03 user allow, bucket deny for alice",
        [identity(allow())],
        [bucket(deny(Principal={"AWS": ALICE}))],
        GET_B_K,
        DENY,
    ),
    (
        "IAM-03 bucket allow, user deny",
        [identity(deny())],
        [bucket(allow(Principal="*"))],
        GET_B_K,
        DENY,
    ),
    ("IAM-03 bucket allow alone", [], [bucket(allow(Principal={"AWS": ALICE}))], GET_B_K, ALLOW),
    (
        "IAM-03 bucket deny for bob only",
        [identity(allow())],
        [bucket(deny(Principal={"AWS": BOB}))],
        GET_B_K,
        ALLOW,
    ),
    # IAM-04 action wildcards, case-insensitive actions
    ("IAM-04 Get* allows GetObject", [identity(allow("s3:Get*"))], [], GET_B_K, ALLOW),
    ("IAM-04 Get* not PutObject", [identity(allow("s3:Get*"))], [], PUT_B_K, IMPLICIT),
    (
        "IAM-04 request in upper case",
        [identity(allow("s3:Get*"))],
        [],
        request("S3:GETOBJECT"),
        ALLOW,
    ),
    ("IAM-04 policy in odd case", [identity(allow("S3:getOBJECT"))], [], GET_B_K, ALLOW),
    ("IAM-04 ? wildcard", [identity(allow("s3:?etObject"))], [], GET_B_K, ALLOW),
    ("IAM-04 other service", [identity(allow("iam:*"))], [], GET_B_K, IMPLICIT),
    # IAM-06 bucket ARN vs object ARN
    (
        "IAM-06 bucket arn, ListBucket",
        [identity(allow(resource="arn:aws:s3:::b"))],
        [],
        LIST_B,
        ALLOW,
    ),
    (
        "IAM-06 bucket arn, GetObject",
        [identity(allow(resource="arn:aws:s3:::b"))],
        [],
        GET_B_K,
        IMPLICIT,
    ),
    (
        "IAM-06 object arn, GetObject",
        [identity(allow(resource="arn:aws:s3:::b/*"))],
        [],
        GET_B_K,
        ALLOW,
    ),
    (
        "IAM-06 object arn, ListBucket",
        [identity(allow(resource="arn:aws:s3:::b/*"))],
        [],
        LIST_B,
        IMPLICIT,
    ),
    # IAM-07 b* also covers b-evil (documented AWS behaviour); resources are case-sensitive
    (
        "IAM-07 b* matches b-evil",
        [identity(allow(resource="arn:aws:s3:::b*"))],
        [],
        request(resource=object_arn("b-evil", "k")),
        ALLOW,
    ),
    (
        "IAM-07 Foo is not foo",
        [identity(allow(resource="arn:aws:s3:::b/Foo"))],
        [],
        request(resource=object_arn("b", "foo")),
        IMPLICIT,
    ),
    (
        "IAM-07 Foo is Foo",
        [identity(allow(resource="arn:aws:s3:::b/Foo"))],
        [],
        request(resource=object_arn("b", "Foo")),
        ALLOW,
    ),
    # IAM-08 NotResource in Allow and in Deny
    (
        "IAM-08 allow NotResource, outside",
        [identity({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/secret/*"})],
        [],
        GET_B_K,
        ALLOW,
    ),
    (
        "IAM-08 allow NotResource, inside",
        [identity({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/secret/*"})],
        [],
        request(resource=object_arn("b", "secret/x")),
        IMPLICIT,
    ),
    (
        "IAM-08 deny NotResource, other bucket",
        [
            identity(
                allow(),
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                },
            )
        ],
        [],
        request(resource=object_arn("c", "k")),
        DENY,
    ),
    (
        "IAM-08 deny NotResource, own bucket",
        [
            identity(
                allow(),
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                },
            )
        ],
        [],
        LIST_B,
        ALLOW,
    ),
]

IP_GUARD = identity(
    allow(),
    deny(Condition={"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}),
)
CASES += [
    # IAM-09 / IAM-10: a Deny outside two ranges (NOR across IPv4 and IPv6)
    ("IAM-10 inside v4", [IP_GUARD], [], request(aws_SourceIp="10.9.8.7"), ALLOW),
    ("IAM-10 inside v6", [IP_GUARD], [], request(aws_SourceIp="2001:db8::42"), ALLOW),
    ("IAM-10 outside", [IP_GUARD], [], request(aws_SourceIp="192.0.2.1"), DENY),
    ("IAM-10 outside v6", [IP_GUARD], [], request(aws_SourceIp="2001:db9::1"), DENY),
    ("IAM-10 no address", [IP_GUARD], [], GET_B_K, DENY),
    (
        "IAM-09 allow from a range",
        [identity(allow(Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))],
        [],
        request(aws_SourceIp="192.0.2.1"),
        ALLOW,
    ),
    (
        "IAM-09 allow from a range, other address",
        [identity(allow(Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))],
        [],
        request(aws_SourceIp="198.51.100.1"),
        IMPLICIT,
    ),
]

HOME_LIST = identity(
    allow("s3:ListBucket", "arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": "home/*"}})
)
ACL_GUARD = identity(
    allow(), deny("s3:PutObject", Condition={"StringNotEquals": {"s3:x-amz-acl": "private"}})
)
ACL_IF_EXISTS = identity(
    allow("s3:PutObject", Condition={"StringEqualsIfExists": {"s3:x-amz-acl": "private"}})
)
NULL_GUARD = identity(allow(), deny(Condition={"Null": {"aws:SecureTransport": "true"}}))
TLS_GUARD = identity(allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}}))
CASES += [
    # IAM-11 StringLike with the key missing is false
    (
        "IAM-11 prefix matches",
        [HOME_LIST],
        [],
        request("s3:ListBucket", bucket_arn("b"), s3_prefix="home/a"),
        ALLOW,
    ),
    (
        "IAM-11 prefix differs",
        [HOME_LIST],
        [],
        request("s3:ListBucket", bucket_arn("b"), s3_prefix="etc/"),
        IMPLICIT,
    ),
    ("IAM-11 prefix missing", [HOME_LIST], [], LIST_B, IMPLICIT),
    # IAM-12 StringNotEquals with the key missing is true (the Deny applies)
    ("IAM-12 acl missing", [ACL_GUARD], [], PUT_B_K, DENY),
    (
        "IAM-12 acl public",
        [ACL_GUARD],
        [],
        request("s3:PutObject", s3_x_amz_acl="public-read"),
        DENY,
    ),
    ("IAM-12 acl private", [ACL_GUARD], [], request("s3:PutObject", s3_x_amz_acl="private"), ALLOW),
    # IAM-13 IfExists and Null
    ("IAM-13 IfExists, absent", [ACL_IF_EXISTS], [], PUT_B_K, ALLOW),
    (
        "IAM-13 IfExists, private",
        [ACL_IF_EXISTS],
        [],
        request("s3:PutObject", s3_x_amz_acl="private"),
        ALLOW,
    ),
    (
        "IAM-13 IfExists, public",
        [ACL_IF_EXISTS],
        [],
        request("s3:PutObject", s3_x_amz_acl="public-read"),
        IMPLICIT,
    ),
    ("IAM-13 Null, absent", [NULL_GUARD], [], GET_B_K, DENY),
    ("IAM-13 Null, present", [NULL_GUARD], [], request(aws_SecureTransport="false"), ALLOW),
    # IAM-14 Bool aws:SecureTransport
    ("IAM-14 over http", [TLS_GUARD], [], request(aws_SecureTransport="false"), DENY),
    ("IAM-14 over https", [TLS_GUARD], [], request(aws_SecureTransport="true"), ALLOW),
    ("IAM-14 key missing", [TLS_GUARD], [], GET_B_K, ALLOW),
]

HOME = identity(allow(resource="arn:aws:s3:::b/${aws:username}/*"))
CASES += [
    # IAM-15 ${aws:username} in Resource
    (
        "IAM-15 own home",
        [HOME],
        [],
        request(resource=object_arn("b", "alice/x"), aws_username="alice"),
        ALLOW,
    ),
    (
        "IAM-15 other home",
        [HOME],
        [],
        request(resource=object_arn("b", "bob/x"), aws_username="alice"),
        IMPLICIT,
    ),
    ("IAM-15 no username", [HOME], [], request(resource=object_arn("b", "alice/x")), IMPLICIT),
    (
        "IAM-15 literal variable text",
        [HOME],
        [],
        request(resource=object_arn("b", "${aws:username}/x")),
        IMPLICIT,
    ),
    (
        "IAM-15 key name in any case",
        [HOME],
        [],
        RequestContext(
            "s3:GetObject", object_arn("b", "alice/x"), ALICE, keys={"AWS:UserName": ("alice",)}
        ),
        ALLOW,
    ),
    (
        "IAM-15 version 2008 keeps it literal",
        [identity(allow(resource="arn:aws:s3:::b/${aws:username}/*"), version="2008-10-17")],
        [],
        request(resource=object_arn("b", "alice/x"), aws_username="alice"),
        IMPLICIT,
    ),
    (
        "IAM-15 escape is a literal star",
        [identity(allow(resource="arn:aws:s3:::b/${*}"))],
        [],
        request(resource=object_arn("b", "x")),
        IMPLICIT,
    ),
]

PUBLIC = bucket(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*"))
CASES += [
    # anonymous callers: only Principal "*" / {"AWS": "*"}
    ("anon via Principal *", [], [PUBLIC], ANON_GET, ALLOW),
    (
        "anon via AWS *",
        [],
        [bucket(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": "*"}))],
        ANON_GET,
        ALLOW,
    ),
    ("anon, public read, put", [], [PUBLIC], request("s3:PutObject", principal=None), IMPLICIT),
    ("anon, identity allow ignored", [identity(allow())], [], ANON_GET, IMPLICIT),
    ("anon, named principal", [], [bucket(allow(Principal={"AWS": ALICE}))], ANON_GET, IMPLICIT),
    (
        "anon, wildcard ARN principal",
        [],
        [bucket(allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:*"}))],
        ANON_GET,
        IMPLICIT,
    ),
    (
        "anon, allow NotPrincipal does not grant",
        [],
        [
            bucket(
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotPrincipal": {"AWS": BOB}}
            )
        ],
        ANON_GET,
        IMPLICIT,
    ),
    (
        "anon, deny NotPrincipal applies",
        [],
        [
            PUBLIC,
            bucket(
                {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "NotPrincipal": {"AWS": BOB}}
            ),
        ],
        ANON_GET,
        DENY,
    ),
    ("anon, identity deny still denies", [identity(deny())], [PUBLIC], ANON_GET, DENY),
    # named and wildcard principals, account ids
    (
        "principal wildcard",
        [],
        [bucket(allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/a*"}))],
        GET_B_K,
        ALLOW,
    ),
    (
        "principal wildcard, bob",
        [],
        [bucket(allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/a*"}))],
        request(principal=BOB),
        IMPLICIT,
    ),
    (
        "principal account id, root",
        [],
        [bucket(allow(Principal={"AWS": ACCOUNT}))],
        request(principal=ROOT),
        ALLOW,
    ),
    (
        "principal account id, user",
        [],
        [bucket(allow(Principal={"AWS": ACCOUNT}))],
        GET_B_K,
        IMPLICIT,
    ),
    (
        "deny all but bob, alice",
        [identity(allow())],
        [
            bucket(
                {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "NotPrincipal": {"AWS": BOB}}
            )
        ],
        GET_B_K,
        DENY,
    ),
    (
        "deny all but bob, bob",
        [identity(allow())],
        [
            bucket(
                {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "NotPrincipal": {"AWS": BOB}}
            )
        ],
        request(principal=BOB),
        ALLOW,
    ),
    # an identity document handed over as a resource policy names nobody: it applies to nobody
    ("identity doc as bucket policy", [], [identity(allow())], GET_B_K, IMPLICIT),
    ("identity deny doc as bucket policy", [identity(allow())], [identity(deny())], GET_B_K, ALLOW),
    # the account root
    ("root, nothing attached", [], [], request(principal=ROOT, root=True), ALLOW),
    (
        "root, bucket deny",
        [],
        [bucket(deny(Principal="*"))],
        request(principal=ROOT, root=True),
        DENY,
    ),
    (
        "root keeps PutBucketPolicy",
        [],
        [bucket(deny(Principal="*"))],
        request("s3:PutBucketPolicy", bucket_arn("b"), ROOT, root=True),
        ALLOW,
    ),
    (
        "root keeps DeleteBucketPolicy (any case)",
        [],
        [bucket(deny(Principal="*"))],
        request("S3:DELETEBUCKETPOLICY", bucket_arn("b"), ROOT, root=True),
        ALLOW,
    ),
    (
        "a user does not",
        [identity(allow())],
        [bucket(deny(Principal="*"))],
        request("s3:PutBucketPolicy", bucket_arn("b")),
        DENY,
    ),
]

DAY = identity(
    allow(
        "s3:GetObject",
        Condition={
            "DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
        },
    )
)
MAX_KEYS = identity(
    allow("s3:ListBucket", Condition={"NumericLessThanEquals": {"s3:max-keys": "100"}})
)
TAG_KEYS = identity(
    allow(
        "s3:PutObject", Condition={"ForAllValues:StringLike": {"s3:RequestObjectTagKeys": "team-*"}}
    ),
    deny(
        "s3:PutObject",
        Condition={"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "secret"}},
    ),
)
CASES += [
    # Date and Numeric operators end to end
    ("date inside window", [DAY], [], request(aws_CurrentTime="2026-06-15T12:00:00Z"), ALLOW),
    ("date before window", [DAY], [], request(aws_CurrentTime="2025-12-31T23:59:59Z"), IMPLICIT),
    ("date at window end", [DAY], [], request(aws_CurrentTime="2027-01-01T00:00:00Z"), IMPLICIT),
    ("date missing", [DAY], [], GET_B_K, IMPLICIT),
    (
        "max-keys under",
        [MAX_KEYS],
        [],
        request("s3:ListBucket", bucket_arn("b"), s3_max_keys="100"),
        ALLOW,
    ),
    (
        "max-keys over",
        [MAX_KEYS],
        [],
        request("s3:ListBucket", bucket_arn("b"), s3_max_keys="1000"),
        IMPLICIT,
    ),
    ("max-keys missing", [MAX_KEYS], [], LIST_B, IMPLICIT),
    # ForAllValues / ForAnyValue on multi-valued keys
    ("tags none (ForAllValues missing is true)", [TAG_KEYS], [], PUT_B_K, ALLOW),
    (
        "tags all team",
        [TAG_KEYS],
        [],
        request("s3:PutObject", s3_RequestObjectTagKeys=("team-a", "team-b")),
        ALLOW,
    ),
    (
        "tags one other",
        [TAG_KEYS],
        [],
        request("s3:PutObject", s3_RequestObjectTagKeys=("team-a", "x")),
        IMPLICIT,
    ),
    (
        "tags secret",
        [TAG_KEYS],
        [],
        request("s3:PutObject", s3_RequestObjectTagKeys=("team-a", "secret")),
        DENY,
    ),
]


@pytest.mark.parametrize(
    ("identity_policies", "bucket_policies", "ctx", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_evaluate__table(
    identity_policies: list[PolicyDocument],
    bucket_policies: list[PolicyDocument],
    ctx: RequestContext,
    expected: Decision,
) -> None:
    assert evaluate(ctx, identity_policies, bucket_policies) is expected


# --- session policies narrow -----------------------------------------------------------------

SESSION_CASES: list[
    tuple[
        str,
        list[PolicyDocument],
        list[PolicyDocument],
        list[PolicyDocument] | None,
        RequestContext,
        Decision,
    ]
] = [
    # (case id, identity, bucket, session, request, decision)
    ("no session policy", [identity(allow())], [], None, PUT_B_K, ALLOW),
    (
        "session allows get",
        [identity(allow())],
        [],
        [identity(allow("s3:GetObject"))],
        GET_B_K,
        ALLOW,
    ),
    (
        "session narrows put",
        [identity(allow())],
        [],
        [identity(allow("s3:GetObject"))],
        PUT_B_K,
        IMPLICIT,
    ),
    ("empty session", [identity(allow())], [], [], GET_B_K, IMPLICIT),
    (
        "session cannot widen",
        [identity(allow("s3:GetObject"))],
        [],
        [identity(allow())],
        PUT_B_K,
        IMPLICIT,
    ),
    (
        "session deny",
        [identity(allow())],
        [],
        [identity(allow(), deny("s3:GetObject"))],
        GET_B_K,
        DENY,
    ),
    ("session deny, nothing else", [], [], [identity(deny())], GET_B_K, DENY),
    (
        "session narrows bucket allow",
        [],
        [bucket(allow(Principal="*"))],
        [identity(allow("s3:List*"))],
        GET_B_K,
        IMPLICIT,
    ),
    (
        "session with bucket allow",
        [],
        [bucket(allow(Principal="*"))],
        [identity(allow("s3:Get*"))],
        GET_B_K,
        ALLOW,
    ),
    (
        "two session policies, OR",
        [identity(allow())],
        [],
        [identity(allow("s3:List*")), identity(allow("s3:Get*"))],
        GET_B_K,
        ALLOW,
    ),
]


@pytest.mark.parametrize(
    ("identity_policies", "bucket_policies", "session_policies", "ctx", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in SESSION_CASES],
)
def test_evaluate__session_policies(
    identity_policies: list[PolicyDocument],
    bucket_policies: list[PolicyDocument],
    session_policies: list[PolicyDocument] | None,
    ctx: RequestContext,
    expected: Decision,
) -> None:
    assert evaluate(ctx, identity_policies, bucket_policies, session_policies) is expected


# --- in the style of cloud-copilot/iam-simulate's S3 object cases ------------------------------

SIMULATE_CASES: list[dict[str, Any]] = [
    {
        "name": "NotAction allow: everything on objects but delete",
        "identity": [
            {"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}
        ],
        "requests": {
            "s3:GetObject": ALLOW,
            "s3:PutObject": ALLOW,
            "s3:DeleteObject": IMPLICIT,
            "s3:DeleteObjectVersion": ALLOW,
        },
    },
    {
        "name": "NotAction deny guards read-only",
        "identity": [
            allow(),
            {"Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "*"},
        ],
        "requests": {
            "s3:GetObject": ALLOW,
            "s3:GetObjectTagging": ALLOW,
            "s3:PutObject": DENY,
            "s3:DeleteObject": DENY,
        },
    },
    {
        "name": "NotAction and NotResource together",
        "identity": [
            allow(),
            {
                "Effect": "Deny",
                "NotAction": "s3:GetObject",
                "NotResource": "arn:aws:s3:::b/public/*",
            },
        ],
        "requests": {"s3:GetObject": ALLOW, "s3:PutObject": DENY},
        "key": "private/x",
    },
    {
        "name": "NotAction and NotResource together, public prefix",
        "identity": [
            allow(),
            {
                "Effect": "Deny",
                "NotAction": "s3:GetObject",
                "NotResource": "arn:aws:s3:::b/public/*",
            },
        ],
        "requests": {"s3:GetObject": ALLOW, "s3:PutObject": ALLOW},
        "key": "public/x",
    },
    {
        "name": "object wildcard does not reach the bucket",
        "identity": [allow("s3:*", "arn:aws:s3:::b/*")],
        "requests": {"s3:ListBucket": IMPLICIT, "s3:ListBucketVersions": IMPLICIT},
        "resource": bucket_arn("b"),
    },
    {
        "name": "object tag condition",
        "identity": [
            allow(
                "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}
            )
        ],
        "requests": {"s3:GetObject": ALLOW},
        "keys": {"s3:existingobjecttag/class": ("public",)},
    },
    {
        "name": "object tag condition, other tag",
        "identity": [
            allow(
                "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}
            )
        ],
        "requests": {"s3:GetObject": IMPLICIT},
        "keys": {"s3:existingobjecttag/class": ("secret",)},
    },
    {
        "name": "question mark matches one character of the key",
        "identity": [allow("s3:GetObject", "arn:aws:s3:::b/log-?.txt")],
        "requests": {"s3:GetObject": ALLOW},
        "key": "log-1.txt",
    },
    {
        "name": "question mark is not two characters",
        "identity": [allow("s3:GetObject", "arn:aws:s3:::b/log-?.txt")],
        "requests": {"s3:GetObject": IMPLICIT},
        "key": "log-12.txt",
    },
    {
        "name": "list with prefix and delimiter",
        "identity": [
            allow(
                "s3:ListBucket",
                "arn:aws:s3:::b",
                Condition={"StringEquals": {"s3:prefix": ["", "home/"], "s3:delimiter": "/"}},
            )
        ],
        "requests": {"s3:ListBucket": ALLOW},
        "resource": bucket_arn("b"),
        "keys": {"s3:prefix": ("home/",), "s3:delimiter": ("/",)},
    },
    {
        "name": "list with prefix but no delimiter",
        "identity": [
            allow(
                "s3:ListBucket",
                "arn:aws:s3:::b",
                Condition={"StringEquals": {"s3:prefix": ["", "home/"], "s3:delimiter": "/"}},
            )
        ],
        "requests": {"s3:ListBucket": IMPLICIT},
        "resource": bucket_arn("b"),
        "keys": {"s3:prefix": ("home/",)},
    },
]


def _simulated(case: dict[str, Any]) -> list[Any]:
    params = []
    for action, expected in case["requests"].items():
        resource = case.get("resource", object_arn("b", case.get("key", "k")))
        ctx = RequestContext(action, resource, ALICE, keys=case.get("keys", {}))
        params.append(
            pytest.param(case["identity"], ctx, expected, id=f"{case['name']} / {action}")
        )
    return params


@pytest.mark.parametrize(
    ("statements", "ctx", "expected"),
    [param for case in SIMULATE_CASES for param in _simulated(case)],
)
def test_evaluate__simulate_style(
    statements: list[Stmt], ctx: RequestContext, expected: Decision
) -> None:
    assert evaluate(ctx, [identity(*statements)]) is expected


# --- context and names -----------------------------------------------------------------------


def test_request_context__root_needs_an_arn_and_keys_are_lowered() -> None:
    with pytest.raises(ValueError):
        RequestContext("s3:GetObject", bucket_arn("b"), None, account_is_root=True)
    ctx = RequestContext(
        "S3:GetObject", bucket_arn("b"), ALICE, keys={"AWS:SourceIp": ("1.2.3.4",)}
    )
    assert ctx.values("aws:sourceip") == ("1.2.3.4",) and ctx.values("AWS:SOURCEIP") == ("1.2.3.4",)
    assert ctx.casefolded_action == "s3:getobject"
    assert ctx.variable("aws:sourceip") == "1.2.3.4" and ctx.variable("nope") is None
    expected = {"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"}
    assert expected == ROOT_ALWAYS_ALLOWED


@pytest.mark.parametrize("name", ["alice", "a", "A1+=,.@_-", "x" * 64, "svc.account@example.com"])
def test_validate_name__accepts_aws_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "*", "al?ce", "${aws:username}", "a$b", "a{b}", "a/b", "a b", "é", "a\x00"],
)
def test_validate_name__refuses_what_could_widen_a_resource(name: str) -> None:
    with pytest.raises(ValueError):
        validate_name(name, what="user name")


# --- properties ------------------------------------------------------------------------------

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
ACTION_PATTERNS = [
    "*",
    "s3:*",
    "s3:Get*",
    "s3:GetObject",
    "s3:PutObject",
    "s3:List*",
    "s3:*Object",
    "s3:?etObject",
]
RESOURCES = [
    bucket_arn("b"),
    object_arn("b", "k"),
    object_arn("b", "alice/k"),
    object_arn("c", "k"),
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/alice/*",
    "arn:aws:s3:::c/*",
    "arn:aws:s3:::b/${aws:username}/*",
]
PRINCIPAL_PATTERNS: list[Any] = [
    "*",
    {"AWS": ALICE},
    {"AWS": BOB},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"},
]
CONDITIONS: list[Any] = [
    None,
    {"StringEquals": {"aws:username": "alice"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringNotEqualsIfExists": {"s3:x-amz-acl": "public-read"}},
    {"ForAnyValue:StringLike": {"s3:RequestObjectTagKeys": "team-*"}},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None, resource_based: bool) -> Stmt:
    """A random statement over a small vocabulary, so that many of them hit the request."""
    stmt: Stmt = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    action_element = draw(st.sampled_from(["Action", "Action", "NotAction"]))
    stmt[action_element] = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    resource_element = draw(st.sampled_from(["Resource", "Resource", "NotResource"]))
    stmt[resource_element] = draw(
        st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2)
    )
    if resource_based:
        principal_element = draw(st.sampled_from(["Principal", "Principal", "NotPrincipal"]))
        stmt[principal_element] = draw(st.sampled_from(PRINCIPAL_PATTERNS))
    condition = draw(st.sampled_from(CONDITIONS))
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


Docs = list[list[Stmt]]


def docs(resource_based: bool, effect: str | None = None) -> st.SearchStrategy[Docs]:
    """Up to three policies of one to four statements each."""
    return st.lists(
        st.lists(statements(effect, resource_based), min_size=1, max_size=4), max_size=3
    )


@st.composite
def contexts(draw: st.DrawFn) -> RequestContext:
    principal = draw(st.sampled_from([ALICE, BOB, None]))
    keys: dict[str, tuple[str, ...]] = {}
    if principal is not None:
        keys["aws:username"] = (principal.rsplit("/", 1)[1],)
    if draw(st.booleans()):
        keys["aws:sourceip"] = (draw(st.sampled_from(["10.1.2.3", "192.0.2.1"])),)
    if draw(st.booleans()):
        keys["aws:securetransport"] = (draw(st.sampled_from(["true", "false"])),)
    if draw(st.booleans()):
        keys["s3:x-amz-acl"] = (draw(st.sampled_from(["private", "public-read"])),)
    tags = draw(st.lists(st.sampled_from(["team-a", "x"]), max_size=2))
    if tags:
        keys["s3:requestobjecttagkeys"] = tuple(tags)
    return RequestContext(
        draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(RESOURCES)), principal, keys=keys
    )


def _parse(kind: PolicyKind, documents: Docs) -> list[PolicyDocument]:
    return [_doc(kind, d, "2012-10-17") for d in documents if d]


def _decide(ctx: RequestContext, ident: Docs, buck: Docs, sess: Docs | None) -> Decision:
    session = None if sess is None else _parse(PolicyKind.IDENTITY, sess)
    return evaluate(
        ctx, _parse(PolicyKind.IDENTITY, ident), _parse(PolicyKind.BUCKET, buck), session
    )


def _add(documents: Docs, extra: Docs, rng: random.Random) -> Docs:
    """Extra statements, each into a random existing document or a new one."""
    out = [list(d) for d in documents]
    for doc in extra:
        for stmt in doc:
            if out and rng.random() < 0.5:
                target = rng.choice(out)
                target.insert(rng.randrange(len(target) + 1), stmt)
            else:
                out.append([stmt])
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ctx=contexts(),
    ident=docs(False),
    buck=docs(True),
    sess=st.none() | docs(False),
    place=st.sampled_from(["identity", "bucket", "session"]),
    deny_action=st.booleans(),
    more_ident=docs(False, "Allow"),
    more_buck=docs(True, "Allow"),
    more_sess=docs(False, "Allow"),
    seed=st.integers(0, 2**32),
)
def test_property__allows_never_overturn_a_matching_deny(
    ctx: RequestContext,
    ident: Docs,
    buck: Docs,
    sess: Docs | None,
    place: str,
    deny_action: bool,
    more_ident: Docs,
    more_buck: Docs,
    more_sess: Docs,
    seed: int,
) -> None:
    rng = random.Random(seed)
    matching = deny(ctx.action if deny_action else "*", ctx.resource)
    if place == "identity":
        ident = _add(ident, [[matching]], rng)
    elif place == "bucket":
        buck = _add(buck, [[{**matching, "Principal": "*"}]], rng)
    else:
        sess = _add(sess or [], [[matching]], rng)
    assert _decide(ctx, ident, buck, sess) is DENY
    more_session = _add(sess, more_sess, rng) if sess is not None else None
    widened = _decide(ctx, _add(ident, more_ident, rng), _add(buck, more_buck, rng), more_session)
    assert widened is DENY


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctx=contexts(), ident=docs(False), buck=docs(True), seed=st.integers(0, 2**32))
def test_property__statement_and_policy_order_never_matters(
    ctx: RequestContext, ident: Docs, buck: Docs, seed: int
) -> None:
    rng = random.Random(seed)

    def shuffled(documents: Docs) -> Docs:
        out = [rng.sample(d, len(d)) for d in documents]
        rng.shuffle(out)
        return out

    assert _decide(ctx, ident, buck, None) is _decide(ctx, shuffled(ident), shuffled(buck), None)


# --- cost ------------------------------------------------------------------------------------


def _ten_policies() -> list[PolicyDocument]:
    policies = []
    for i in range(10):
        policies.append(
            identity(
                allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::b{i}/*"),
                allow(
                    "s3:ListBucket",
                    f"arn:aws:s3:::b{i}",
                    Condition={"StringLike": {"s3:prefix": "${aws:username}/*"}},
                ),
                allow("s3:Get*", "arn:aws:s3:::shared/${aws:username}/*"),
                deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
                deny(
                    "s3:DeleteObject",
                    f"arn:aws:s3:::b{i}/locked/*",
                    Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                ),
            )
        )
    return policies


@pytest.mark.parametrize(
    ("ctx", "expected"),
    [
        (
            request(
                "s3:GetObject",
                object_arn("b9", "k"),
                aws_username="alice",
                aws_SecureTransport="true",
            ),
            ALLOW,
        ),
        (
            request(
                "s3:ListBucket",
                bucket_arn("b3"),
                aws_username="alice",
                s3_prefix="bob/",
                aws_SecureTransport="true",
            ),
            IMPLICIT,
        ),
        (
            request(
                "s3:DeleteObject",
                object_arn("b0", "locked/k"),
                aws_username="alice",
                aws_SourceIp="192.0.2.1",
            ),
            DENY,
        ),
    ],
)
def test_evaluate__ten_policies_decide_each_case(ctx: RequestContext, expected: Decision) -> None:
    # Their cost (µs per evaluate) is measured by bench/policy_micro.py, not asserted here: a
    # wall-clock bound fails correct code on a loaded machine.
    assert evaluate(ctx, _ten_policies()) is expected


def test_request_context__a_bare_string_is_one_value() -> None:
    ctx = RequestContext("s3:GetObject", bucket_arn("b"), ALICE, keys={"s3:prefix": "home/"})  # type: ignore[dict-item]
    assert ctx.values("s3:prefix") == ("home/",)
    with pytest.raises(TypeError):
        RequestContext("s3:GetObject", bucket_arn("b"), ALICE, keys={"k": 5})  # type: ignore[dict-item]
