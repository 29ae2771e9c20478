"""Pure request rules of the local vendor: key and part-number limits, preconditions, which bytes
a range or part selects, Content-MD5 and the checksum an object gets.

No I/O: `router.local_upstream` applies these around its blocking work.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from router.errors import NotModified, UpstreamError
from router.local_blobs import CHECKSUM_ALGORITHMS, Spooled
from router.local_rows import ObjectRow
from router.models import ByteRange, Conditions, ObjectInfo, PutOptions, PutResult
from router.preconditions import Outcome, evaluate_preconditions
from router.ranges import invalid_range, resolve_range

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_PART_NUMBER",
    "Span",
    "check_copy_source",
    "check_key",
    "check_part_number",
    "check_read",
    "check_text",
    "checksum_map",
    "content_md5",
    "copy_range",
    "part_span",
    "put_result",
    "requested_checksum",
    "select_span",
    "verify_md5",
]

MAX_KEY_BYTES = 1024
MAX_PART_NUMBER = 10_000


@dataclass(frozen=True, slots=True)
class Span:
    """The bytes a GET returns: `length` from `first`; `content_range` set for a 206."""

    first: int
    length: int
    content_range: tuple[int, int, int] | None


def check_key(key: str) -> None:
    """Keys are opaque strings of 1..1024 UTF-8 bytes; the gateway validates names first, this
    only keeps what the index cannot store (lone surrogates) from reaching it."""
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise UpstreamError("InvalidArgument", 400) from None
    if size == 0:
        raise UpstreamError("InvalidArgument", 400)
    if size > MAX_KEY_BYTES:
        raise UpstreamError("KeyTooLongError", 400)


def check_text(*values: str | None) -> None:
    """Listing prefixes, delimiters and markers must be storable UTF-8 (no lone surrogates)."""
    for value in values:
        if value is None:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UpstreamError("InvalidArgument", 400) from None


def check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise UpstreamError("InvalidArgument", 400)


def check_read(conditions: Conditions | None, info: ObjectInfo) -> None:
    outcome = evaluate_preconditions(conditions, info.etag, info.last_modified)
    if outcome is Outcome.NOT_MODIFIED:
        raise NotModified(info)
    if outcome is Outcome.PRECONDITION_FAILED:
        raise UpstreamError("PreconditionFailed", 412)


def check_copy_source(conditions: Conditions | None, src: ObjectRow) -> None:
    # x-amz-copy-source-if-*: where a GET would answer 304, a copy answers 412 (CopyObject docs).
    info = src.to_info()
    if evaluate_preconditions(conditions, info.etag, info.last_modified) is not Outcome.PROCEED:
        raise UpstreamError("PreconditionFailed", 412)


def part_span(row: ObjectRow, part_number: int) -> tuple[int, int]:
    """(first, length) of part `part_number`; a single-part object is its own part 1."""
    check_part_number(part_number)
    sizes = row.part_sizes if row.part_sizes is not None else (row.size,)
    if part_number > len(sizes):
        raise UpstreamError("InvalidPartNumber", 416)
    return sum(sizes[: part_number - 1]), sizes[part_number - 1]


def select_span(row: ObjectRow, byte_range: ByteRange | None, part_number: int | None) -> Span:
    if part_number is not None:
        first, length = part_span(row, part_number)
        if length == 0:
            return Span(first, 0, None)
        return Span(first, length, (first, first + length - 1, row.size))
    if byte_range is not None:
        first, last = resolve_range(byte_range, row.size)
        return Span(first, last - first + 1, (first, last, row.size))
    return Span(0, row.size, None)


def copy_range(byte_range: tuple[int, int] | None, size: int) -> tuple[int, int]:
    """(first, length) for x-amz-copy-source-range (inclusive bytes=first-last)."""
    if byte_range is None:
        return 0, size
    first, last = byte_range
    if first < 0 or last < first:
        raise UpstreamError("InvalidArgument", 400)
    if last >= size:
        raise invalid_range(size)
    return first, last - first + 1


def content_md5(header: str | None) -> bytes | None:
    if header is None:
        return None
    try:
        digest = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError("InvalidDigest", 400) from None
    if len(digest) != 16:
        raise UpstreamError("InvalidDigest", 400)
    return digest


def verify_md5(spooled: Spooled, expected: bytes | None) -> None:
    if expected is not None and spooled.md5 != expected:
        raise UpstreamError("BadDigest", 400)


def requested_checksum(
    options: PutOptions, *, default: str | None
) -> tuple[str | None, str | None]:
    """(algorithm, value already verified by the gateway). Without a requested algorithm the
    object gets `default`, computed here (S3 adds a CRC64NVME to every object since 2025)."""
    if not options.checksum_algorithm:
        return default, None
    algorithm = options.checksum_algorithm.upper()
    if options.checksum_value:
        return algorithm, options.checksum_value
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise UpstreamError("InvalidRequest", 400)
    return algorithm, None


def checksum_map(algorithm: str | None, value: str | None) -> dict[str, str]:
    return {algorithm: value} if algorithm and value else {}


def put_result(etag: str, options: PutOptions, value: str | None) -> PutResult:
    # Echo a checksum only when the client asked for one, as S3's response headers do.
    if not options.checksum_algorithm:
        return PutResult(etag=etag)
    return PutResult(
        etag, checksum_algorithm=options.checksum_algorithm.upper(), checksum_value=value
    )
