"""Targets of one PBucket must not overlap: same vendor bucket with nested prefixes."""

from __future__ import annotations

import pytest

from router.pbucket import TargetSpec
from router.target_rules import first_overlap, overlap


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (TargetSpec("v", "b"), TargetSpec("v", "b"), True),
        (TargetSpec("v", "b", "x/"), TargetSpec("v", "b"), True),  # "" holds every key
        (TargetSpec("v", "b", "x/"), TargetSpec("v", "b", "x/y/"), True),
        (TargetSpec("v", "b", "x/"), TargetSpec("v", "b", "y/"), False),
        (TargetSpec("v", "b", "x"), TargetSpec("v", "b", "xy"), True),  # plain string prefixes
        (TargetSpec("v", "b"), TargetSpec("v", "c"), False),
        (TargetSpec("v", "b"), TargetSpec("w", "b"), False),
    ],
)
def test_overlap__same_vendor_bucket_and_nested_prefixes(
    a: TargetSpec, b: TargetSpec, expected: bool
) -> None:
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


def test_first_overlap__names_the_earlier_and_the_later_target() -> None:
    targets = [
        TargetSpec("v", "b", "a/"),
        TargetSpec("v", "b", "b/"),
        TargetSpec("w", "b"),
        TargetSpec("v", "b", "b/c/"),
    ]
    assert first_overlap(targets) == (1, 3)
    assert first_overlap(targets[:3]) is None
    assert first_overlap([]) is None
