"""Range header parsing and resolution (security.md INP-13 / INP-14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import S3Error
from gateway.ranges import parse_range, resolve_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-", 10, (0, 9)),
        ("bytes=1-10", 10, (1, 9)),
        ("bytes=-1000", 10, (0, 9)),
        ("bytes=-1", 10, (9, 9)),
        ("bytes=4-", 11, (4, 10)),
        ("bytes=-7", 11, (4, 10)),
        ("bytes=0-0", 1, (0, 0)),
    ],
)
def test_range__satisfiable(header, size, expected):
    rng = parse_range(header)
    assert rng is not None
    assert resolve_range(rng, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=100-", 10), ("bytes=40-50", 11), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_range__unsatisfiable_is_416_with_content_range(header, size):
    rng = parse_range(header)
    assert rng is not None
    with pytest.raises(S3Error) as ei:
        resolve_range(rng, size)
    assert ei.value.status == 416
    assert ei.value.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=-0", "bytes=5-3"])
def test_range__never_satisfiable_is_416(header):
    with pytest.raises(S3Error) as ei:
        parse_range(header)
    assert ei.value.code == "InvalidRange"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=aa",
        "bytes=",
        "bytes=0-1,3-4",
        "items=0-1",
        "bytes=-",
        "bytes=99999999999999999999999-",
    ],
)
def test_range__unusable_is_ignored(header):
    assert parse_range(header) is None


@given(size=st.integers(0, 10**12), a=st.integers(0, 10**13), b=st.integers(0, 10**13))
def test_range__resolution_within_bounds(size, a, b):
    first, last = min(a, b), max(a, b)
    rng = parse_range(f"bytes={first}-{last}")
    assert rng is not None
    try:
        lo, hi = resolve_range(rng, size)
    except S3Error as err:
        assert err.status == 416 and first >= size
        return
    assert 0 <= lo <= hi < size and lo == first and hi == min(last, size - 1)
