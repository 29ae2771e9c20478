"""Body integrity: x-amz-checksum-* (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) and Content-MD5.

`checksum_plan` applies S3's header rules before the body is read (S3 User Guide, "Checking
object integrity"; the AWS-verified behaviour of versitygw PR #1664); `Checksum` and `Md5Check`
hash the body incrementally and raise BadDigest on a mismatch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from awscrt import checksums as crt

from auth.errors import BadDigest, InvalidDigest, InvalidRequest

__all__ = [
    "ALGORITHMS",
    "CHECKSUM_HEADER_PREFIX",
    "SDK_ALGORITHM_HEADER",
    "Checksum",
    "ChecksumPlan",
    "Md5Check",
    "checksum_header",
    "checksum_plan",
    "decode_checksum_value",
    "new_checksum",
    "parse_content_md5",
]

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
# Digest length in bytes per algorithm: a header value must be base64 of exactly this many.
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}

CHECKSUM_HEADER_PREFIX = "x-amz-checksum-"
SDK_ALGORITHM_HEADER = "x-amz-sdk-checksum-algorithm"
# x-amz-checksum-* headers that name a mode or type instead of carrying a checksum value.
NOT_CHECKSUM_VALUES = frozenset(
    ("x-amz-checksum-mode", "x-amz-checksum-type", "x-amz-checksum-algorithm")
)
MD5_SIZE = 16

ChecksumLocation = Literal["header", "trailer"]


def checksum_header(algorithm: str) -> str:
    """The header (or trailer) name that carries `algorithm`, e.g. x-amz-checksum-crc32."""
    return CHECKSUM_HEADER_PREFIX + algorithm.lower()


class Checksum:
    """An incremental checksum of one algorithm; the digest is rendered as S3 does, in base64."""

    def __init__(self, algorithm: str) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._crc = 0
        self._hash = (
            hashlib.sha1(usedforsecurity=False)  # S3's SHA1 checksum is integrity, not security
            if algorithm == "SHA1"
            else hashlib.sha256()
            if algorithm == "SHA256"
            else None
        )

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        elif self.algorithm == "CRC32":
            self._crc = int(crt.crc32(data, self._crc))
        elif self.algorithm == "CRC32C":
            self._crc = int(crt.crc32c(data, self._crc))
        else:
            self._crc = int(crt.crc64nvme(data, self._crc))

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        # CRCs are sent big-endian (S3: "base64-encoded, 32-bit CRC32 checksum").
        return self._crc.to_bytes(DIGEST_SIZES[self.algorithm], "big")

    def digest_b64(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")

    def verify(self, expected_b64: str) -> None:
        """Raise BadDigest unless the body's checksum equals `expected_b64` (compared as bytes)."""
        if _strict_b64(expected_b64) != self.digest():
            raise BadDigest(
                f"The {self.algorithm} you specified did not match the calculated checksum."
            )


def new_checksum(algorithm: str) -> Checksum:
    """A fresh incremental checksum for one of ALGORITHMS (upper case)."""
    return Checksum(algorithm)


def _strict_b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def decode_checksum_value(algorithm: str, value: str, *, trailing: bool = False) -> str:
    """Check that `value` is base64 of a digest of `algorithm`; return it, else InvalidRequest."""
    raw = _strict_b64(value)
    if raw is None or len(raw) != DIGEST_SIZES[algorithm]:
        where = "trailing header" if trailing else "header"
        raise InvalidRequest(f"Value for {checksum_header(algorithm)} {where} is invalid.")
    return value


@dataclass(frozen=True, slots=True)
class ChecksumPlan:
    """Which checksum the request body must match, and where the expected value comes from.

    `algorithm` None: no checksum requested. `location` "header": `expected` is the header's
    (already validated) value; "trailer": read it from the aws-chunked trailer `header_name`.
    """

    algorithm: str | None
    location: ChecksumLocation | None
    header_name: str | None
    expected: str | None

    def new_checksum(self) -> Checksum | None:
        return None if self.algorithm is None else Checksum(self.algorithm)


def _algorithm_of(header_name: str) -> str | None:
    algorithm = header_name[len(CHECKSUM_HEADER_PREFIX) :].upper()
    return algorithm if algorithm in ALGORITHMS else None


def _trailer_algorithm(trailer_declared: str) -> str:
    names = [n.strip().lower() for n in trailer_declared.split(",") if n.strip()]
    if len(names) != 1 or not names[0].startswith(CHECKSUM_HEADER_PREFIX):
        raise InvalidRequest("The value specified in the x-amz-trailer header is not supported")
    algorithm = _algorithm_of(names[0])
    if algorithm is None:
        raise InvalidRequest("The value specified in the x-amz-trailer header is not supported")
    return algorithm


def checksum_plan(headers: Mapping[str, str], *, trailer_declared: str | None) -> ChecksumPlan:
    """Apply S3's x-amz-checksum-* header rules; `headers` has lowercased names.

    - one x-amz-checksum-<alg> header at most, and not together with x-amz-trailer;
    - its value must be base64 of the algorithm's digest length;
    - x-amz-sdk-checksum-algorithm must name the same algorithm and needs a header or trailer.
    """
    present = [
        name
        for name in headers
        if name.startswith(CHECKSUM_HEADER_PREFIX) and name not in NOT_CHECKSUM_VALUES
    ]
    trailer = trailer_declared.strip() if trailer_declared else ""
    if len(present) > 1 or (present and trailer):
        raise InvalidRequest("Expecting a single x-amz-checksum- header")
    plan = ChecksumPlan(None, None, None, None)
    if present:
        algorithm = _algorithm_of(present[0])
        if algorithm is None:
            raise InvalidRequest(
                "The algorithm type you specified in x-amz-checksum- header is invalid."
            )
        value = decode_checksum_value(algorithm, headers[present[0]])
        plan = ChecksumPlan(algorithm, "header", present[0], value)
    elif trailer:
        algorithm = _trailer_algorithm(trailer)
        plan = ChecksumPlan(algorithm, "trailer", checksum_header(algorithm), None)
    _check_sdk_algorithm(headers.get(SDK_ALGORITHM_HEADER), plan)
    return plan


def _check_sdk_algorithm(sdk_algorithm: str | None, plan: ChecksumPlan) -> None:
    if sdk_algorithm is None:
        return
    if plan.algorithm is None:
        raise InvalidRequest(
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or "
            "x-amz-trailer headers were found."
        )
    if sdk_algorithm.strip().upper() != plan.algorithm:
        raise InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.")


def parse_content_md5(value: str) -> bytes:
    """Content-MD5 must be base64 of 16 bytes (RFC 1864), else InvalidDigest."""
    raw = _strict_b64(value.strip())
    if raw is None or len(raw) != MD5_SIZE:
        raise InvalidDigest
    return raw


class Md5Check:
    """Hash the body and compare with a Content-MD5 value (BadDigest on mismatch)."""

    def __init__(self, content_md5: str) -> None:
        self._expected = parse_content_md5(content_md5)
        self._md5 = hashlib.md5(usedforsecurity=False)  # Content-MD5 is an integrity check

    def update(self, data: bytes) -> None:
        self._md5.update(data)

    def verify(self) -> None:
        if self._md5.digest() != self._expected:
            raise BadDigest
