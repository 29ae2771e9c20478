"""Range resolution against an object size (security.md §3.9, INP-13/INP-14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.errors import UpstreamError
from router.models import ByteRange
from router.ranges import resolve_range


@pytest.mark.parametrize(
    ("size", "byte_range", "expected"),
    [
        (10, ByteRange(0, None), (0, 9)),  # bytes=0-  → full
        (10, ByteRange(1, 10), (1, 9)),  # bytes=1-10 → 1-9/10 (clamped)
        (10, ByteRange(suffix=1000), (0, 9)),  # bytes=-1000 → full
        (10, ByteRange(suffix=1), (9, 9)),  # bytes=-1 → last byte
        (10, ByteRange(3, 3), (3, 3)),
        (10, ByteRange(0, 2**80), (0, 9)),  # huge integers do not overflow
        (11, ByteRange(4, None), (4, 10)),  # INP-14
        (11, ByteRange(suffix=7), (4, 10)),
    ],
)
def test_resolve_range__satisfiable(
    size: int, byte_range: ByteRange, expected: tuple[int, int]
) -> None:
    assert resolve_range(byte_range, size) == expected


@pytest.mark.parametrize(
    ("size", "byte_range"),
    [
        (10, ByteRange(10, None)),  # bytes=10-
        (10, ByteRange(100, None)),  # bytes=100-
        (10, ByteRange(suffix=0)),  # bytes=-0
        (10, ByteRange(5, 3)),  # first > last
        (11, ByteRange(40, 50)),  # INP-14
        (0, ByteRange(0, None)),  # anything on a 0-byte object
        (0, ByteRange(suffix=1)),
        (0, ByteRange(0, 0)),
    ],
)
def test_resolve_range__unsatisfiable_is_416(size: int, byte_range: ByteRange) -> None:
    with pytest.raises(UpstreamError) as caught:
        resolve_range(byte_range, size)
    assert (caught.value.code, caught.value.status) == ("InvalidRange", 416)
    assert caught.value.extra == {"ActualObjectSize": str(size)}


@given(
    size=st.integers(0, 10_000),
    first=st.none() | st.integers(0, 20_000),
    last=st.none() | st.integers(0, 20_000),
    suffix=st.none() | st.integers(0, 20_000),
)
def test_resolve_range__result_inside_object(
    size: int, first: int | None, last: int | None, suffix: int | None
) -> None:
    byte_range = ByteRange(suffix=suffix) if suffix is not None else ByteRange(first or 0, last)
    try:
        lo, hi = resolve_range(byte_range, size)
    except UpstreamError as error:
        assert error.code == "InvalidRange"
        return
    assert 0 <= lo <= hi < size
