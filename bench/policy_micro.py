"""IAM policy engine cost: µs per `evaluate()` for 1 and 10 attached identity policies (plain and
with conditions, allow and deny outcomes), and µs per `parse_policy()`.

    .venv/bin/python -m bench.policy_micro
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from typing import Any

from auth.policy_doc import PolicyDocument, PolicyKind, parse_policy
from auth.policy_eval import Decision, RequestContext, evaluate
from auth.policy_match import bucket_arn, object_arn

USER = "arn:aws:iam::123456789012:user/alice"
KEYS = {
    "aws:username": ("alice",),
    "aws:SecureTransport": ("true",),
    "aws:SourceIp": ("192.0.2.10",),
    "aws:CurrentTime": ("2026-06-15T12:00:00Z",),
}


def _plain_statements(i: int) -> list[dict[str, Any]]:
    """Five statements of the kind a bucket-per-team setup attaches to a user."""
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::b{i}/*",
        },
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::b{i}"},
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": f"arn:aws:s3:::shared{i}/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::b{i}/locked/*"},
        {"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "*"},
    ]


def _conditional_statements(i: int) -> list[dict[str, Any]]:
    """The same five with conditions and policy variables on every one."""
    home = f"arn:aws:s3:::b{i}/${{aws:username}}/*"
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": home,
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::b{i}",
            "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*", "public/*"]}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:Get*",
            "Resource": f"arn:aws:s3:::shared{i}/*",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
        },
        {
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::b{i}/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
        },
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]


def _text(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _policies(count: int, conditional: bool) -> list[PolicyDocument]:
    build = _conditional_statements if conditional else _plain_statements
    return [parse_policy(_text(build(i)), PolicyKind.IDENTITY) for i in range(count)]


def _per_op_us(fn: Callable[[], object], number: int) -> float:
    """Best of 3 timeit repeats, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def evaluate_us(count: int, conditional: bool, outcome: Decision, number: int) -> float:
    """The last policy is the one that decides, so every document is looked at."""
    policies = _policies(count, conditional)
    last = count - 1
    if outcome is Decision.ALLOW:
        ctx = RequestContext("s3:GetObject", object_arn(f"b{last}", "alice/k"), USER, keys=KEYS)
    elif outcome is Decision.EXPLICIT_DENY:
        ctx = RequestContext("s3:DeleteObject", object_arn(f"b{last}", "locked/k"), USER, keys=KEYS)
    else:
        ctx = RequestContext("s3:ListBucket", bucket_arn("elsewhere"), USER, keys=KEYS)
    decision = evaluate(ctx, policies)
    assert decision is outcome, (count, conditional, outcome, decision)
    return _per_op_us(lambda: evaluate(ctx, policies), number)


def parse_us(text: str, number: int) -> float:
    parse_policy(text, PolicyKind.IDENTITY)
    return _per_op_us(lambda: parse_policy(text, PolicyKind.IDENTITY), number)


def main() -> None:
    number = 5000
    print(f"{'evaluate()':<34}{'allow':>10}{'explicit':>10}{'implicit':>10}   µs/call")
    for label, count, conditional in (
        ("1 policy x 5 statements", 1, False),
        ("10 policies x 5 statements", 10, False),
        ("10 policies x 5, conditions", 10, True),
    ):
        cells = [
            evaluate_us(count, conditional, outcome, number)
            for outcome in (Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY)
        ]
        print(f"{label:<34}" + "".join(f"{c:>10.1f}" for c in cells))
    small = _text(_conditional_statements(0))
    large = _text([s for i in range(20) for s in _conditional_statements(i)])
    print(f"\n{'parse_policy()':<34}{'bytes':>10}{'µs/call':>10}")
    for label, text, runs in (("5 statements", small, 2000), ("100 statements", large, 100)):
        print(f"{label:<34}{len(text):>10}{parse_us(text, runs):>10.1f}")


if __name__ == "__main__":
    main()
