"""Parsing the `Range` request header the way S3 does (single byte range only).

S3 ignores what it cannot use: an unparsable header or several ranges mean "the whole object"
(200). A syntactically valid range that can never be satisfied is 416 InvalidRange.
Resolution against the object size happens where the size is known (vendor or cache).
"""

from __future__ import annotations

import re

from gateway.errors import S3Error
from router.models import ByteRange

__all__ = ["parse_range", "resolve_range"]

_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def parse_range(header: str | None) -> ByteRange | None:
    """RFC 9110 §14.1.2 byte-range-spec / suffix-range-spec; None means serve the whole object."""
    if header is None:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None  # unparsable or a multi-range list: ignored, like S3
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise S3Error("InvalidRange")  # bytes=-0 selects nothing
        return ByteRange(suffix=suffix)
    if last and int(last) < int(first):
        raise S3Error("InvalidRange")
    return ByteRange(first=int(first), last=int(last) if last else None)


def resolve_range(rng: ByteRange, size: int) -> tuple[int, int]:
    """(first, last) inclusive within `size`, or InvalidRange (416 with `Content-Range: */size`)."""
    if rng.suffix is not None:
        if size == 0:
            raise _unsatisfiable(size)
        return max(0, size - rng.suffix), size - 1
    assert rng.first is not None
    if rng.first >= size:
        raise _unsatisfiable(size)
    last = size - 1 if rng.last is None else min(rng.last, size - 1)
    return rng.first, last


def _unsatisfiable(size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        fields={"RangeRequested": "bytes", "ActualObjectSize": str(size)},
        headers={"Content-Range": f"bytes */{size}"},
    )
