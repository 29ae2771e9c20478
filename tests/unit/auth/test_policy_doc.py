"""Parsing and validating policy documents: what is accepted, what is refused, with which code."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from auth.errors import AuthError
from auth.policy_conditions import Condition
from auth.policy_doc import (
    MAX_POLICY_BYTES,
    MAX_STATEMENTS,
    VERSION_2008,
    VERSION_2012,
    Effect,
    PolicyDocument,
    PolicyError,
    PolicyKind,
    Principals,
    Statement,
    parse_policy,
)

IDENTITY = PolicyKind.IDENTITY
BUCKET = PolicyKind.BUCKET
TRUST = PolicyKind.TRUST

ALLOW_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
PUBLIC_READ = {
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::b/*",
}
ASSUME = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
    "Action": "sts:AssumeRole",
}


def policy(*statements: Any, version: str | None = VERSION_2012, **top: Any) -> str:
    body: dict[str, Any] = {} if version is None else {"Version": version}
    body["Statement"] = list(statements)
    body.update(top)
    return json.dumps(body, ensure_ascii=False)


def refused(text: str | bytes, kind: PolicyKind, **kwargs: Any) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, kind, **kwargs)
    return info.value


# --- accepted --------------------------------------------------------------------------------


def test_parse__identity_policy_fields() -> None:
    doc = parse_policy(
        policy(
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:List*"],
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Condition": {
                    "StringLike": {"s3:prefix": ["home/*", "pub/*"]},
                    "Bool": {"aws:SecureTransport": True},
                    "NumericLessThan": {"s3:max-keys": 100},
                },
            },
            {"Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::b/*"},
            Id="policy-1",
        ),
        IDENTITY,
    )
    assert doc.version == VERSION_2012 and doc.id == "policy-1"
    first, second = doc.statements
    assert first.sid == "Read" and first.effect is Effect.ALLOW
    assert first.actions == ("s3:GetObject", "s3:List*") and first.not_actions == ()
    assert first.resources == ("arn:aws:s3:::b", "arn:aws:s3:::b/*")
    assert first.principals is None and first.not_principals is None
    assert first.conditions == (
        Condition("StringLike", "s3:prefix", ("home/*", "pub/*")),
        Condition("Bool", "aws:SecureTransport", ("true",)),
        Condition("NumericLessThan", "s3:max-keys", ("100",)),
    )
    assert second.effect is Effect.DENY and second.sid is None
    assert second.not_actions == ("s3:Get*",) and second.not_resources == ("arn:aws:s3:::b/*",)


def test_parse__statement_may_be_a_single_object_and_bytes_are_accepted() -> None:
    text = json.dumps({"Version": VERSION_2012, "Statement": ALLOW_ALL})
    assert parse_policy(text.encode(), IDENTITY) == parse_policy(text, IDENTITY)
    assert len(parse_policy(text, IDENTITY).statements) == 1


def test_parse__missing_version_means_2008_and_keeps_variables_literal() -> None:
    doc = parse_policy(
        policy({**ALLOW_ALL, "Resource": "arn:aws:s3:::${x}"}, version=None), IDENTITY
    )
    assert doc.version == VERSION_2008
    assert not doc.statements[0].expand_variables
    assert parse_policy(policy(ALLOW_ALL), IDENTITY).statements[0].expand_variables


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", Principals(everyone=True)),
        ({"AWS": "*"}, Principals(everyone=True)),
        ({"AWS": ["*"]}, Principals(everyone=True)),
        ({"AWS": "123456789012"}, Principals(aws=("123456789012",))),
        (
            {"AWS": ["arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b*"]},
            Principals(aws=("arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b*")),
        ),
        ({"CanonicalUser": "abc"}, Principals(canonical_user=("abc",))),
    ],
)
def test_parse__bucket_principals(principal: Any, expected: Principals) -> None:
    doc = parse_policy(policy({**PUBLIC_READ, "Principal": principal}), BUCKET)
    assert doc.statements[0].principals == expected


def test_parse__principal_matching() -> None:
    assert Principals(everyone=True).matches(None)
    alice = "arn:aws:iam::123456789012:user/alice"
    named = Principals(aws=(alice, "arn:aws:iam::123456789012:user/team-*"))
    assert named.matches(alice) and named.matches("arn:aws:iam::123456789012:user/team-x")
    assert not named.matches(None) and not named.matches(alice.upper())
    account = Principals(aws=("123456789012",))
    assert account.matches("arn:aws:iam::123456789012:root")
    assert not account.matches(alice)


def test_parse__bucket_not_principal_and_trust_policy() -> None:
    not_principal = {k: v for k, v in PUBLIC_READ.items() if k != "Principal"}
    doc = parse_policy(
        policy({**not_principal, "Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}}),
        BUCKET,
    )
    assert doc.statements[0].not_principals == Principals(aws=("123456789012",))
    trust = parse_policy(policy(ASSUME, {**ASSUME, "Action": "sts:TagSession"}), TRUST)
    assert trust.statements[0].resources == () and trust.statements[0].not_resources == ()


def test_parse__bucket_resources_restricted_to_the_bucket() -> None:
    for resource in ("arn:aws:s3:::b", "arn:aws:s3:::b/*", "arn:aws:s3:::b/a?c/*", "*"):
        parse_policy(policy({**PUBLIC_READ, "Resource": resource}), BUCKET, bucket="b")
    for resource in (
        "arn:aws:s3:::b*",
        "arn:aws:s3:::bb/*",
        "arn:aws:s3:::other",
        "arn:aws:s3:::*",
    ):
        error = refused(policy({**PUBLIC_READ, "Resource": resource}), BUCKET, bucket="b")
        assert error.code == "MalformedPolicy" and "invalid resource" in error.message


def test_parse__numbers_and_booleans_in_conditions_keep_their_json_text() -> None:
    huge = "9" * 5000  # int() of this would raise in Python 3.11; we never convert it
    text = (
        '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", '
        f'"Condition": {{"StringEquals": {{"k": [1.50, {huge}, false, "x"]}}}}}}}}'
    )
    (condition,) = parse_policy(text, IDENTITY).statements[0].conditions
    assert condition.values == ("1.50", huge, "false", "x")


def test_parse__brackets_inside_strings_do_not_count_as_nesting() -> None:
    value = "[{" * 500
    doc = parse_policy(policy({**ALLOW_ALL, "Condition": {"StringEquals": {"k": value}}}), IDENTITY)
    assert doc.statements[0].conditions[0].values == (value,)


def test_statement__direct_construction_is_checked() -> None:
    with pytest.raises(ValueError):
        Statement(effect=Effect.ALLOW)
    with pytest.raises(ValueError):
        Statement(effect=Effect.ALLOW, actions=("s3:*",), not_actions=("s3:Get*",))
    with pytest.raises(ValueError):
        Statement(effect=Effect.ALLOW, actions=("*",), resources=("*",), not_resources=("*",))
    built = Statement(effect=Effect.DENY, actions=("s3:*",), resources=("*",))
    assert PolicyDocument(VERSION_2012, (built,)).for_action("s3:getobject") == ((built,), ())


# --- refused (IAM-20) ------------------------------------------------------------------------

PRINCIPAL_ALL = {"Principal": "*"}
MALFORMED_CASES: list[tuple[str, PolicyKind, str, str]] = [
    # (case id, kind, document, words in the message)
    ("version-2010", IDENTITY, policy(ALLOW_ALL, version="2010-10-17"), "Version"),
    ("version-number", IDENTITY, policy(ALLOW_ALL, version=2012), "Version"),  # type: ignore[arg-type]
    ("no-statement", IDENTITY, json.dumps({"Version": VERSION_2012}), "Statement"),
    ("empty-statement-list", IDENTITY, policy(), "Statement"),
    ("statement-string", IDENTITY, json.dumps({"Statement": "x"}), "Statement"),
    ("not-an-object", IDENTITY, "[]", "JSON object"),
    ("not-json", IDENTITY, "{'Version': 1}", "Syntax"),
    ("trailing-garbage", IDENTITY, policy(ALLOW_ALL) + "}", "Syntax"),
    ("unknown-top", IDENTITY, policy(ALLOW_ALL, Extra=1), "Extra"),
    ("unknown-element", IDENTITY, policy({**ALLOW_ALL, "Effects": "Allow"}), "Effects"),
    ("lowercase-element", IDENTITY, policy({**ALLOW_ALL, "effect": "Allow"}), "effect"),
    (
        "duplicate-sid",
        IDENTITY,
        policy({**ALLOW_ALL, "Sid": "A"}, {**ALLOW_ALL, "Sid": "A"}),
        "SID",
    ),
    ("no-effect", IDENTITY, policy({"Action": "s3:*", "Resource": "*"}), "Effect"),
    ("effect-case", IDENTITY, policy({**ALLOW_ALL, "Effect": "allow"}), "Effect"),
    ("effect-list", IDENTITY, policy({**ALLOW_ALL, "Effect": ["Allow"]}), "Effect"),
    ("no-action", IDENTITY, policy({"Effect": "Allow", "Resource": "*"}), "Action"),
    ("action-and-notaction", IDENTITY, policy({**ALLOW_ALL, "NotAction": "s3:Get*"}), "not both"),
    ("empty-action-list", IDENTITY, policy({**ALLOW_ALL, "Action": []}), "Action"),
    ("action-number", IDENTITY, policy({**ALLOW_ALL, "Action": [1]}), "Action"),
    ("action-no-service", IDENTITY, policy({**ALLOW_ALL, "Action": "GetObject"}), "service:action"),
    ("action-stars", IDENTITY, policy({**ALLOW_ALL, "Action": "*********x"}), "service:action"),
    (
        "action-wild-service",
        IDENTITY,
        policy({**ALLOW_ALL, "Action": "s*:GetObject"}),
        "characters",
    ),
    ("action-space", IDENTITY, policy({**ALLOW_ALL, "Action": "s3:Get Object"}), "characters"),
    ("action-too-long", IDENTITY, policy({**ALLOW_ALL, "Action": "s3:" + "a" * 300}), "longer"),
    ("no-resource", IDENTITY, policy({"Effect": "Allow", "Action": "s3:*"}), "Resource"),
    ("resource-and-notresource", IDENTITY, policy({**ALLOW_ALL, "NotResource": "*"}), "not both"),
    ("resource-not-arn", IDENTITY, policy({**ALLOW_ALL, "Resource": "b/key"}), "ARN"),
    ("resource-short-arn", IDENTITY, policy({**ALLOW_ALL, "Resource": "arn:aws:s3"}), "ARN"),
    (
        "resource-too-long",
        IDENTITY,
        policy({**ALLOW_ALL, "Resource": "arn:aws:s3:::" + "k" * 2100}),
        "longer",
    ),
    ("principal-in-identity", IDENTITY, policy({**ALLOW_ALL, **PRINCIPAL_ALL}), "principal"),
    ("notprincipal-in-identity", IDENTITY, policy({**ALLOW_ALL, "NotPrincipal": "*"}), "principal"),
    (
        "unknown-operator",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"StringEqual": {"k": "v"}}}),
        "operator",
    ),
    (
        "operator-not-object",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"StringEquals": "v"}}),
        "map keys",
    ),
    ("condition-not-object", IDENTITY, policy({**ALLOW_ALL, "Condition": ["x"]}), "Condition"),
    (
        "condition-null",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"StringEquals": {"k": None}}}),
        "strings, numbers",
    ),
    (
        "condition-object",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"StringEquals": {"k": {}}}}),
        "strings, numbers",
    ),
    (
        "condition-empty-list",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"StringEquals": {"k": []}}}),
        "empty",
    ),
    (
        "condition-bad-cidr",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4/40"}}}),
        "IpAddress",
    ),
    (
        "condition-bad-date",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}),
        "DateLessThan",
    ),
    (
        "condition-empty-key",
        IDENTITY,
        policy({**ALLOW_ALL, "Condition": {"StringEquals": {"": "v"}}}),
        "key",
    ),
    (
        "duplicate-key",
        IDENTITY,
        '{"Statement": {"Effect": "Deny", "Effect": "Allow", "Action": "*", "Resource": "*"}}',
        "duplicate",
    ),
    (
        "nan",
        IDENTITY,
        '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", '
        '"Condition": {"NumericEquals": {"k": NaN}}}}',
        "Syntax",
    ),
    ("sid-number", IDENTITY, policy({**ALLOW_ALL, "Sid": 1}), "Sid"),
    ("id-list", IDENTITY, policy(ALLOW_ALL, Id=["x"]), "Id"),
    (
        "bucket-no-principal",
        BUCKET,
        policy({k: v for k, v in PUBLIC_READ.items() if k != "Principal"}),
        "Principal",
    ),
    ("bucket-both-principals", BUCKET, policy({**PUBLIC_READ, "NotPrincipal": "*"}), "Principal"),
    ("bucket-principal-null", BUCKET, policy({**PUBLIC_READ, "Principal": None}), "Principal"),
    ("bucket-principal-string", BUCKET, policy({**PUBLIC_READ, "Principal": "alice"}), "Principal"),
    ("bucket-principal-empty", BUCKET, policy({**PUBLIC_READ, "Principal": {}}), "Principal"),
    (
        "bucket-principal-type",
        BUCKET,
        policy({**PUBLIC_READ, "Principal": {"Users": "*"}}),
        "principal type",
    ),
    (
        "bucket-principal-aws-name",
        BUCKET,
        policy({**PUBLIC_READ, "Principal": {"AWS": "alice"}}),
        "principal",
    ),
    ("bucket-iam-action", BUCKET, policy({**PUBLIC_READ, "Action": "iam:CreateUser"}), "s3:"),
    (
        "bucket-no-resource",
        BUCKET,
        policy({k: v for k, v in PUBLIC_READ.items() if k != "Resource"}),
        "Resource",
    ),
    (
        "trust-no-principal",
        TRUST,
        policy({k: v for k, v in ASSUME.items() if k != "Principal"}),
        "Principal",
    ),
    (
        "trust-notprincipal",
        TRUST,
        policy({**ASSUME, "Principal": None, "NotPrincipal": "*"}),
        "NotPrincipal",
    ),
    ("trust-s3-action", TRUST, policy({**ASSUME, "Action": "s3:GetObject"}), "sts:"),
    ("trust-star-action", TRUST, policy({**ASSUME, "Action": "*"}), "service:action"),
]


@pytest.mark.parametrize(
    ("kind", "text", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED_CASES],
)
def test_parse__malformed_is_refused_with_the_kinds_code(
    kind: PolicyKind, text: str, words: str
) -> None:
    error = refused(text, kind)
    assert error.code == ("MalformedPolicy" if kind is BUCKET else "MalformedPolicyDocument")
    assert words.lower() in error.message.lower()
    assert isinstance(error, AuthError) and error.status == 400
    assert str(error).startswith(error.code)


def _padded(size: int) -> str:
    """A valid bucket policy of exactly `size` bytes (whitespace counts, as in AWS)."""
    base = policy(PUBLIC_READ)
    return base + " " * (size - len(base.encode()))


def test_parse__size_cap_is_20_kib() -> None:
    assert len(_padded(MAX_POLICY_BYTES)) == MAX_POLICY_BYTES
    parse_policy(_padded(MAX_POLICY_BYTES), BUCKET)
    big = _padded(MAX_POLICY_BYTES + 1)
    assert refused(big, BUCKET).code == "PolicyTooLarge"
    assert refused(big, IDENTITY).code == "MalformedPolicyDocument"
    assert refused(big.encode(), TRUST).code == "MalformedPolicyDocument"


def test_parse__size_counts_utf8_bytes() -> None:
    wide = policy({**PUBLIC_READ, "Condition": {"StringEquals": {"k": ["é" * 1000] * 11}}})
    assert len(wide) < MAX_POLICY_BYTES < len(wide.encode())
    assert refused(wide, BUCKET).code == "PolicyTooLarge"


def test_parse__one_thousand_statements_are_refused() -> None:
    """IAM-20: far too many statements (here also far too many bytes)."""
    many = policy(*({**ALLOW_ALL, "Sid": f"S{i}"} for i in range(1000)))
    assert refused(many, IDENTITY).code == "MalformedPolicyDocument"
    assert refused(many, BUCKET).code == "PolicyTooLarge"


def test_parse__statement_count_cap_within_the_size_cap() -> None:
    small = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    parse_policy(policy(*[small] * MAX_STATEMENTS), IDENTITY)
    text = policy(*[small] * (MAX_STATEMENTS + 1))
    assert len(text) < MAX_POLICY_BYTES
    assert f"at most {MAX_STATEMENTS} statements" in refused(text, IDENTITY).message


@pytest.mark.parametrize("kind", list(PolicyKind))
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_parse__deep_nesting_is_a_policy_error_not_a_recursion_error(
    kind: PolicyKind, opener: str
) -> None:
    """IAM-22: 100,000 levels (also over the size cap) and 1,000 levels (under it)."""
    closer = "]" if opener == "[" else "}"
    for depth in (100_000, 1_000, 65):
        text = opener * depth + "1" + closer * depth
        error = refused(text, kind)
        if len(text) <= MAX_POLICY_BYTES:
            assert "nests deeper" in error.message


def test_parse__invalid_utf8_is_refused() -> None:
    assert "UTF-8" in refused(b'{"Statement": "\xff"}', BUCKET).message
    assert "UTF-8" in refused('{"Sid": "\udcff"}', IDENTITY).message


@pytest.mark.parametrize(
    ("action", "accepted"),
    [
        ("*********x", False),
        ("*" * 64, False),
        ("s3:" + "*" * 64, True),
        ("s3:*********x", True),
        ("s3:" + "*?" * 100, True),
    ],
)
def test_parse__hostile_actions_are_decided_fast(action: str, accepted: bool) -> None:
    """IAM-21: parsing (and compiling) wildcard-heavy actions takes far under 2 seconds."""
    text = policy({**ALLOW_ALL, "Action": action})
    start = time.perf_counter()
    if accepted:
        doc = parse_policy(text, IDENTITY)
        doc.for_action("s3:" + "a" * 200)  # compiles and runs the matcher once
    else:
        refused(text, IDENTITY)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "text",
    [
        '"' + '\\"' * 10_000,  # one unterminated string full of escaped quotes
        '"' + "\\" * 20_000,
        '["' * 6_000,
        "${" * 6_000 + "}",
        '{"Statement": [' + '{"Action": "' + "${" * 1_000 + '"},' * 9,
    ],
)
def test_parse__hostile_text_is_refused_in_linear_time(text: str) -> None:
    start = time.perf_counter()
    refused(text, BUCKET)
    assert time.perf_counter() - start < 0.5


def test_parse__escaped_quotes_and_brackets_in_strings_do_not_nest() -> None:
    value = '\\"[[[[' * 100 + "\\\\"
    text = policy(ALLOW_ALL).replace('"Resource": "*"', f'"Resource": "*", "Sid": "{value}"')
    assert "256" in refused(text, IDENTITY).message  # got past the nesting scan to the Sid cap
    short = policy(ALLOW_ALL).replace('"Resource": "*"', '"Resource": "*", "Sid": "a\\"[[[[\\\\"')
    assert parse_policy(short, IDENTITY).statements[0].sid == 'a"[[[[\\'
