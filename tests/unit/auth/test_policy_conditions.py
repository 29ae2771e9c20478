"""Condition operators against request keys: one table row per rule of the IAM docs."""

from __future__ import annotations

import pytest

from auth.policy_conditions import (
    Condition,
    SetQualifier,
    conditions_hold,
    parse_operator,
)

Keys = dict[str, tuple[str, ...]]

IP_V4 = {"aws:sourceip": ("203.0.113.7",)}
IP_V6 = {"aws:sourceip": ("2001:db8::1",)}
NOW_ISO = {"aws:currenttime": ("2026-06-15T12:00:00Z",)}
NOW_EPOCH = {"aws:epochtime": ("1781524800",)}  # 2026-06-15T12:00:00Z

CASES: list[tuple[str, str, str, tuple[str, ...], Keys, bool]] = [
    # (case id, operator, key, policy values, request keys, holds)
    # --- strings
    ("eq", "StringEquals", "s3:x-amz-acl", ("private",), {"s3:x-amz-acl": ("private",)}, True),
    (
        "eq-case",
        "StringEquals",
        "s3:x-amz-acl",
        ("Private",),
        {"s3:x-amz-acl": ("private",)},
        False,
    ),
    (
        "eq-or",
        "StringEquals",
        "s3:x-amz-acl",
        ("a", "private"),
        {"s3:x-amz-acl": ("private",)},
        True,
    ),
    ("eq-no-wildcard", "StringEquals", "s3:prefix", ("home/*",), {"s3:prefix": ("home/x",)}, False),
    ("eq-missing", "StringEquals", "s3:x-amz-acl", ("private",), {}, False),
    ("ne", "StringNotEquals", "s3:x-amz-acl", ("private",), {"s3:x-amz-acl": ("public",)}, True),
    (
        "ne-equal",
        "StringNotEquals",
        "s3:x-amz-acl",
        ("private",),
        {"s3:x-amz-acl": ("private",)},
        False,
    ),
    # NOR: a request value equal to any of the values makes the negation false
    ("ne-nor", "StringNotEquals", "k", ("a", "b"), {"k": ("b",)}, False),
    ("ne-nor-none", "StringNotEquals", "k", ("a", "b"), {"k": ("c",)}, True),
    ("IAM-12 ne-missing", "StringNotEquals", "s3:x-amz-acl", ("private",), {}, True),
    ("eq-ic", "StringEqualsIgnoreCase", "k", ("HeLLo",), {"k": ("hello",)}, True),
    ("ne-ic", "StringNotEqualsIgnoreCase", "k", ("HeLLo",), {"k": ("hello",)}, False),
    ("ne-ic-other", "StringNotEqualsIgnoreCase", "k", ("HeLLo",), {"k": ("bye",)}, True),
    ("like", "StringLike", "s3:prefix", ("home/*",), {"s3:prefix": ("home/x/y",)}, True),
    ("like-q", "StringLike", "s3:prefix", ("h?me",), {"s3:prefix": ("home",)}, True),
    ("like-no", "StringLike", "s3:prefix", ("home/*",), {"s3:prefix": ("work/x",)}, False),
    ("like-case", "StringLike", "s3:prefix", ("Home/*",), {"s3:prefix": ("home/x",)}, False),
    ("IAM-11 like-missing", "StringLike", "s3:prefix", ("home/*",), {}, False),
    ("like-empty-values", "StringLike", "s3:prefix", ("home/*",), {"s3:prefix": ()}, False),
    ("notlike", "StringNotLike", "s3:prefix", ("home/*",), {"s3:prefix": ("work/",)}, True),
    (
        "notlike-hit",
        "StringNotLike",
        "s3:prefix",
        ("a*", "home/*"),
        {"s3:prefix": ("home/",)},
        False,
    ),
    ("notlike-missing", "StringNotLike", "s3:prefix", ("home/*",), {}, True),
    (
        "arnlike",
        "ArnLike",
        "aws:sourcearn",
        ("arn:aws:s3:::b*",),
        {"aws:sourcearn": ("arn:aws:s3:::bx",)},
        True,
    ),
    (
        "arnnotlike",
        "ArnNotLike",
        "aws:sourcearn",
        ("arn:aws:s3:::b*",),
        {"aws:sourcearn": ("arn:aws:s3:::bx",)},
        False,
    ),
    # --- IfExists and Null (IAM-13)
    ("IAM-13 ifexists-absent", "StringEqualsIfExists", "s3:x-amz-acl", ("private",), {}, True),
    (
        "IAM-13 ifexists-match",
        "StringEqualsIfExists",
        "s3:x-amz-acl",
        ("private",),
        {"s3:x-amz-acl": ("private",)},
        True,
    ),
    (
        "IAM-13 ifexists-mismatch",
        "StringEqualsIfExists",
        "s3:x-amz-acl",
        ("private",),
        {"s3:x-amz-acl": ("public-read",)},
        False,
    ),
    ("notlike-ifexists-absent", "StringNotLikeIfExists", "k", ("a*",), {}, True),
    ("numeric-ifexists-absent", "NumericLessThanIfExists", "s3:max-keys", ("10",), {}, True),
    ("ip-ifexists-absent", "IpAddressIfExists", "aws:sourceip", ("10.0.0.0/8",), {}, True),
    ("IAM-13 null-true-absent", "Null", "s3:x-amz-acl", ("true",), {}, True),
    (
        "IAM-13 null-true-present",
        "Null",
        "s3:x-amz-acl",
        ("true",),
        {"s3:x-amz-acl": ("x",)},
        False,
    ),
    ("IAM-13 null-false-absent", "Null", "s3:x-amz-acl", ("false",), {}, False),
    (
        "IAM-13 null-false-present",
        "Null",
        "s3:x-amz-acl",
        ("false",),
        {"s3:x-amz-acl": ("x",)},
        True,
    ),
    ("null-bool-json", "Null", "k", ("TRUE",), {}, True),
    ("null-empty-is-absent", "Null", "k", ("true",), {"k": ()}, True),
    # --- Bool (IAM-14)
    (
        "IAM-14 bool-true",
        "Bool",
        "aws:securetransport",
        ("true",),
        {"aws:securetransport": ("true",)},
        True,
    ),
    (
        "IAM-14 bool-false",
        "Bool",
        "aws:securetransport",
        ("true",),
        {"aws:securetransport": ("false",)},
        False,
    ),
    (
        "IAM-14 bool-case",
        "Bool",
        "aws:securetransport",
        ("True",),
        {"aws:securetransport": ("TRUE",)},
        True,
    ),
    ("IAM-14 bool-missing", "Bool", "aws:securetransport", ("false",), {}, False),
    ("bool-ifexists-missing", "BoolIfExists", "aws:securetransport", ("false",), {}, True),
    # --- numbers
    ("num-eq", "NumericEquals", "s3:max-keys", ("10",), {"s3:max-keys": ("10",)}, True),
    ("num-eq-float", "NumericEquals", "s3:max-keys", ("10.0",), {"s3:max-keys": ("10",)}, True),
    ("num-ne", "NumericNotEquals", "s3:max-keys", ("10", "20"), {"s3:max-keys": ("20",)}, False),
    (
        "num-ne-none",
        "NumericNotEquals",
        "s3:max-keys",
        ("10", "20"),
        {"s3:max-keys": ("30",)},
        True,
    ),
    ("num-ne-missing", "NumericNotEquals", "s3:max-keys", ("10",), {}, True),
    ("num-lt", "NumericLessThan", "s3:max-keys", ("10",), {"s3:max-keys": ("9",)}, True),
    ("num-lt-eq", "NumericLessThan", "s3:max-keys", ("10",), {"s3:max-keys": ("10",)}, False),
    ("num-le", "NumericLessThanEquals", "s3:max-keys", ("10",), {"s3:max-keys": ("10",)}, True),
    ("num-gt", "NumericGreaterThan", "s3:max-keys", ("10",), {"s3:max-keys": ("11",)}, True),
    ("num-gt-no", "NumericGreaterThan", "s3:max-keys", ("10",), {"s3:max-keys": ("10",)}, False),
    ("num-ge", "NumericGreaterThanEquals", "s3:max-keys", ("10",), {"s3:max-keys": ("10",)}, True),
    ("num-ge-neg", "NumericGreaterThanEquals", "k", ("-1.5",), {"k": ("-2",)}, False),
    ("num-missing", "NumericLessThan", "s3:max-keys", ("10",), {}, False),
    (
        "num-not-a-number",
        "NumericLessThan",
        "s3:max-keys",
        ("10",),
        {"s3:max-keys": ("ten",)},
        False,
    ),
    (
        "num-nan-request",
        "NumericLessThan",
        "s3:max-keys",
        ("10",),
        {"s3:max-keys": ("nan",)},
        False,
    ),
    (
        "num-ne-not-a-number",
        "NumericNotEquals",
        "s3:max-keys",
        ("10",),
        {"s3:max-keys": ("ten",)},
        True,
    ),
    # --- dates
    ("date-lt-iso", "DateLessThan", "aws:currenttime", ("2027-01-01T00:00:00Z",), NOW_ISO, True),
    (
        "date-lt-iso-no",
        "DateLessThan",
        "aws:currenttime",
        ("2026-01-01T00:00:00Z",),
        NOW_ISO,
        False,
    ),
    ("date-gt-day", "DateGreaterThan", "aws:currenttime", ("2026-06-15",), NOW_ISO, True),
    (
        "date-eq-offset",
        "DateEquals",
        "aws:currenttime",
        ("2026-06-15T14:00:00+02:00",),
        NOW_ISO,
        True,
    ),
    ("date-ne", "DateNotEquals", "aws:currenttime", ("2026-06-15T12:00:00Z",), NOW_ISO, False),
    ("date-le", "DateLessThanEquals", "aws:currenttime", ("2026-06-15T12:00:00Z",), NOW_ISO, True),
    (
        "date-ge",
        "DateGreaterThanEquals",
        "aws:currenttime",
        ("2026-06-15T12:00:01Z",),
        NOW_ISO,
        False,
    ),
    ("date-epoch-policy", "DateLessThan", "aws:currenttime", ("1781524801",), NOW_ISO, True),
    (
        "date-epoch-request",
        "DateEquals",
        "aws:epochtime",
        ("2026-06-15T12:00:00Z",),
        NOW_EPOCH,
        True,
    ),
    ("date-naive-is-utc", "DateEquals", "aws:currenttime", ("2026-06-15T12:00:00",), NOW_ISO, True),
    ("date-missing", "DateLessThan", "aws:currenttime", ("2027-01-01",), {}, False),
    (
        "date-bad-request",
        "DateLessThan",
        "aws:currenttime",
        ("2027-01-01",),
        {"aws:currenttime": ("soon",)},
        False,
    ),
    # --- addresses (IAM-09 / IAM-10)
    ("IAM-09 ip-v4-in", "IpAddress", "aws:sourceip", ("203.0.113.0/24",), IP_V4, True),
    ("IAM-09 ip-v4-out", "IpAddress", "aws:sourceip", ("198.51.100.0/24",), IP_V4, False),
    (
        "IAM-09 ip-v4-or",
        "IpAddress",
        "aws:sourceip",
        ("198.51.100.0/24", "203.0.113.7/32"),
        IP_V4,
        True,
    ),
    ("IAM-09 ip-bare-address", "IpAddress", "aws:sourceip", ("203.0.113.7",), IP_V4, True),
    ("IAM-09 ip-host-bits-set", "IpAddress", "aws:sourceip", ("203.0.113.99/24",), IP_V4, True),
    ("IAM-09 ip-v6-in", "IpAddress", "aws:sourceip", ("2001:db8::/32",), IP_V6, True),
    ("IAM-09 ip-v6-out", "IpAddress", "aws:sourceip", ("2001:db9::/32",), IP_V6, False),
    ("IAM-09 ip-v6-vs-v4", "IpAddress", "aws:sourceip", ("0.0.0.0/0",), IP_V6, False),
    (
        "IAM-09 ip-v4-mapped",
        "IpAddress",
        "aws:sourceip",
        ("203.0.113.0/24",),
        {"aws:sourceip": ("::ffff:203.0.113.7",)},
        True,
    ),
    ("IAM-09 ip-missing", "IpAddress", "aws:sourceip", ("0.0.0.0/0",), {}, False),
    (
        "IAM-09 ip-garbage",
        "IpAddress",
        "aws:sourceip",
        ("0.0.0.0/0",),
        {"aws:sourceip": ("nope",)},
        False,
    ),
    ("IAM-10 notip-out", "NotIpAddress", "aws:sourceip", ("198.51.100.0/24",), IP_V4, True),
    ("IAM-10 notip-in", "NotIpAddress", "aws:sourceip", ("203.0.113.0/24",), IP_V4, False),
    # NOR: inside either range -> false; inside none -> true
    (
        "IAM-10 notip-nor-hit",
        "NotIpAddress",
        "aws:sourceip",
        ("10.0.0.0/8", "203.0.113.0/24"),
        IP_V4,
        False,
    ),
    (
        "IAM-10 notip-nor-miss",
        "NotIpAddress",
        "aws:sourceip",
        ("10.0.0.0/8", "2001:db8::/32"),
        IP_V4,
        True,
    ),
    (
        "IAM-10 notip-v6-nor-hit",
        "NotIpAddress",
        "aws:sourceip",
        ("10.0.0.0/8", "2001:db8::/32"),
        IP_V6,
        False,
    ),
    ("IAM-10 notip-missing", "NotIpAddress", "aws:sourceip", ("10.0.0.0/8",), {}, True),
    # --- set qualifiers
    ("any-hit", "ForAnyValue:StringEquals", "tags", ("a", "b"), {"tags": ("x", "b")}, True),
    ("any-miss", "ForAnyValue:StringEquals", "tags", ("a", "b"), {"tags": ("x", "y")}, False),
    ("any-missing", "ForAnyValue:StringEquals", "tags", ("a",), {}, False),
    ("any-ifexists-missing", "ForAnyValue:StringEqualsIfExists", "tags", ("a",), {}, False),
    ("any-negated", "ForAnyValue:StringNotEquals", "tags", ("a",), {"tags": ("a", "z")}, True),
    (
        "any-negated-all-equal",
        "ForAnyValue:StringNotEquals",
        "tags",
        ("a",),
        {"tags": ("a",)},
        False,
    ),
    ("all-subset", "ForAllValues:StringEquals", "tags", ("a", "b"), {"tags": ("a", "b")}, True),
    ("all-extra", "ForAllValues:StringEquals", "tags", ("a", "b"), {"tags": ("a", "c")}, False),
    ("all-missing", "ForAllValues:StringEquals", "tags", ("a",), {}, True),
    (
        "all-like",
        "ForAllValues:StringLike",
        "tags",
        ("team-*",),
        {"tags": ("team-a", "team-b")},
        True,
    ),
    (
        "all-negated",
        "ForAllValues:StringNotEquals",
        "tags",
        ("secret",),
        {"tags": ("a", "b")},
        True,
    ),
    (
        "all-negated-hit",
        "ForAllValues:StringNotEquals",
        "tags",
        ("secret",),
        {"tags": ("a", "secret")},
        False,
    ),
    # without a qualifier: positive = some value matches, negated = no value matches
    ("multi-positive", "StringEquals", "tags", ("b",), {"tags": ("a", "b")}, True),
    ("multi-negated", "StringNotEquals", "tags", ("b",), {"tags": ("a", "b")}, False),
]


@pytest.mark.parametrize(
    ("operator", "key", "values", "keys", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_condition__table(
    operator: str, key: str, values: tuple[str, ...], keys: Keys, expected: bool
) -> None:
    assert Condition(operator, key, values).holds(keys) is expected


def test_condition__key_names_are_case_insensitive() -> None:
    condition = Condition("StringEquals", "S3:X-Amz-ACL", ("private",))
    assert condition.holds({"s3:x-amz-acl": ("private",)})


VARIABLE_CASES: list[tuple[str, str, tuple[str, ...], Keys, bool]] = [
    # (operator, key, values, keys, holds)
    (
        "StringLike",
        "s3:prefix",
        ("${aws:username}/*",),
        {"s3:prefix": ("alice/x",), "aws:username": ("alice",)},
        True,
    ),
    (
        "StringLike",
        "s3:prefix",
        ("${aws:username}/*",),
        {"s3:prefix": ("bob/x",), "aws:username": ("alice",)},
        False,
    ),
    # a missing variable makes its value fail: positive -> false, ...
    ("StringLike", "s3:prefix", ("${aws:username}/*",), {"s3:prefix": ("alice/x",)}, False),
    ("StringLike", "s3:prefix", ("${aws:username}/*", "pub/*"), {"s3:prefix": ("pub/x",)}, True),
    # ... and a negated operator, which needs every value to pass, false too
    ("StringNotLike", "s3:prefix", ("${aws:username}/*",), {"s3:prefix": ("x",)}, False),
    (
        "StringNotEquals",
        "aws:userid",
        ("${aws:username}",),
        {"aws:userid": ("AIDA1",), "aws:username": ("u",)},
        True,
    ),
    # a multi-valued key is never substituted
    ("StringEquals", "k", ("${aws:username}",), {"k": ("a",), "aws:username": ("a", "b")}, False),
    # the escapes are literal characters, never wildcards
    ("StringLike", "k", ("a${*}",), {"k": ("a*",)}, True),
    ("StringLike", "k", ("a${*}",), {"k": ("abc",)}, False),
    ("StringEquals", "k", ("${$}{x}",), {"k": ("${x}",)}, True),
    # substituted text is literal too
    ("StringLike", "k", ("${aws:username}",), {"k": ("anything",), "aws:username": ("*",)}, False),
    # typed operators take variables and parse the result
    (
        "IpAddress",
        "aws:sourceip",
        ("${net}",),
        {"aws:sourceip": ("10.1.2.3",), "net": ("10.0.0.0/8",)},
        True,
    ),
    (
        "NumericLessThan",
        "s3:max-keys",
        ("${limit}",),
        {"s3:max-keys": ("5",), "limit": ("x",)},
        False,
    ),
    ("StringEquals", "k", ("${aws:username, 'anon'}",), {"k": ("anon",)}, True),
]


@pytest.mark.parametrize(("operator", "key", "values", "keys", "expected"), VARIABLE_CASES)
def test_condition__policy_variables(
    operator: str, key: str, values: tuple[str, ...], keys: Keys, expected: bool
) -> None:
    assert Condition(operator, key, values).holds(keys) is expected


def test_condition__version_2008_keeps_variables_literal() -> None:
    condition = Condition("StringEquals", "k", ("${aws:username}",), variables=False)
    assert condition.holds({"k": ("${aws:username}",), "aws:username": ("alice",)})
    assert not condition.holds({"k": ("alice",), "aws:username": ("alice",)})


def test_condition__explicit_lookup_wins_over_keys() -> None:
    condition = Condition("StringEquals", "k", ("${aws:username}",))
    keys = {"k": ("alice",)}
    assert condition.holds(keys, {"aws:username": "alice"}.get)
    assert not condition.holds(keys)


def test_conditions_hold__is_an_and() -> None:
    conditions = (
        Condition("StringEquals", "a", ("1",)),
        Condition("StringEquals", "b", ("2",)),
    )
    assert conditions_hold(conditions, {"a": ("1",), "b": ("2",)})
    assert not conditions_hold(conditions, {"a": ("1",), "b": ("3",)})
    assert not conditions_hold(conditions, {"a": ("1",)})
    assert conditions_hold((), {})


@pytest.mark.parametrize(
    ("name", "base", "negated", "if_exists", "qualifier"),
    [
        ("StringEquals", "StringEquals", False, False, None),
        ("StringNotLikeIfExists", "StringNotLike", True, True, None),
        ("NotIpAddress", "NotIpAddress", True, False, None),
        ("ForAnyValue:StringLike", "StringLike", False, False, SetQualifier.FOR_ANY_VALUE),
        (
            "ForAllValues:NumericLessThanIfExists",
            "NumericLessThan",
            False,
            True,
            SetQualifier.FOR_ALL_VALUES,
        ),
        ("DateNotEquals", "DateNotEquals", True, False, None),
        ("Null", "Null", False, False, None),
    ],
)
def test_parse_operator__known(
    name: str, base: str, negated: bool, if_exists: bool, qualifier: SetQualifier | None
) -> None:
    op = parse_operator(name)
    assert (op.base, op.negated, op.if_exists, op.qualifier) == (
        base,
        negated,
        if_exists,
        qualifier,
    )


@pytest.mark.parametrize(
    "name",
    [
        "StringEqual",
        "stringequals",
        "IfExists",
        "NullIfExists",
        "ForAnyValue:Null",
        "ForSomeValues:StringEquals",
        "ForAnyValue:",
        "BinaryEquals",
        "",
    ],
)
def test_parse_operator__unknown_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        parse_operator(name)


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        ("IpAddress", ("10.0.0.0/33",)),
        ("IpAddress", ("not-an-ip",)),
        ("NumericEquals", ("ten",)),
        ("NumericEquals", ("NaN",)),
        ("NumericEquals", ("inf",)),
        ("DateEquals", ("yesterday",)),
        ("Null", ("maybe",)),
        ("StringEquals", ()),
    ],
)
def test_condition__bad_constant_values_are_refused(operator: str, values: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        Condition(operator, "k", values)
