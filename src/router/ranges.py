"""Resolving a parsed `Range: bytes=` spec against an object size, with S3's rules.

Pure, so every vendor that serves bytes itself (and later the cache) answers ranges identically.
"""

from __future__ import annotations

from router.errors import UpstreamError
from router.models import ByteRange

__all__ = ["invalid_range", "resolve_range"]


def resolve_range(byte_range: ByteRange, size: int) -> tuple[int, int]:
    """Return the inclusive (first, last) a range selects from an object of `size` bytes.

    RFC 9110 §14.1.2 as S3 applies it: a suffix longer than the object selects all of it, a `last`
    past the end is clamped, and an unsatisfiable range (first at or past the end, `bytes=-0`,
    first > last, anything on a 0-byte object) is 416 InvalidRange.
    """
    if size <= 0:
        raise invalid_range(size)
    if byte_range.suffix is not None:
        if byte_range.suffix <= 0:
            raise invalid_range(size)
        return max(0, size - byte_range.suffix), size - 1
    first = byte_range.first if byte_range.first is not None else 0
    if first < 0 or first >= size:
        raise invalid_range(size)
    if byte_range.last is None:
        return first, size - 1
    if byte_range.last < first:
        raise invalid_range(size)
    return first, min(byte_range.last, size - 1)


def invalid_range(size: int) -> UpstreamError:
    # The gateway echoes ActualObjectSize in the error body and builds `Content-Range: bytes */N`.
    return UpstreamError("InvalidRange", 416, extra={"ActualObjectSize": str(size)})
