"""x-amz-checksum-* values and rules (security.md 1.6, 7.3) and Content-MD5."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.checksums import (
    ALGORITHMS,
    Md5Check,
    checksum_plan,
    decode_checksum_value,
    new_checksum,
    parse_content_md5,
)
from auth.errors import BadDigest, InvalidDigest, InvalidRequest


def digest_of(algorithm: str, data: bytes) -> str:
    checksum = new_checksum(algorithm)
    checksum.update(data)
    return checksum.digest_b64()


@pytest.mark.parametrize(
    ("algorithm", "data", "expected"),
    [
        ("CRC32", b"hello world", "DUoRhQ=="),
        ("CRC64NVME", b"hello", "M3eFcAZSQlc="),
        ("CRC64NVME", b"hello world", "jSnVw/bqjr4="),
        ("CRC64NVME", b"A" * 1024, "Qeh8oXvGiSo="),
        ("SHA1", b"hello world", base64.b64encode(hashlib.sha1(b"hello world").digest()).decode()),
        ("SHA256", b"", base64.b64encode(hashlib.sha256(b"").digest()).decode()),
    ],
)
def test_checksum__known_vectors(algorithm: str, data: bytes, expected: str) -> None:
    assert digest_of(algorithm, data) == expected


def test_checksum__crc64nvme_check_value() -> None:
    # CRC-64/NVME check value of "123456789" (ministack PR #1389).
    checksum = new_checksum("CRC64NVME")
    checksum.update(b"123456789")
    assert checksum.digest() == (0xAE8B14860A799888).to_bytes(8, "big")


def test_checksum__crc32c_check_value() -> None:
    checksum = new_checksum("CRC32C")
    checksum.update(b"123456789")
    assert checksum.digest() == (0xE3069283).to_bytes(4, "big")  # CRC-32C/iSCSI check value


@given(data=st.binary(max_size=2000), cut=st.integers(min_value=0, max_value=2000))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_checksum__incremental_equals_one_shot(algorithm: str, data: bytes, cut: int) -> None:
    checksum = new_checksum(algorithm)
    checksum.update(data[:cut])
    checksum.update(data[cut:])
    assert checksum.digest_b64() == digest_of(algorithm, data)


def test_checksum__verify_mismatch_is_bad_digest() -> None:
    checksum = new_checksum("CRC64NVME")
    checksum.update(b"hello")
    checksum.verify("M3eFcAZSQlc=")
    with pytest.raises(BadDigest, match="CRC64NVME you specified did not match") as info:
        checksum.verify("AAAAAAAAAAA=")
    assert info.value.status == 400


def test_checksum__unknown_algorithm_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        new_checksum("MD5")


# --- checksum_plan -------------------------------------------------------------------------


def test_checksum_plan__no_checksum_requested() -> None:
    plan = checksum_plan({"content-type": "x"}, trailer_declared=None)
    assert plan.algorithm is None and plan.new_checksum() is None


def test_checksum_plan__header_value_is_expected() -> None:
    headers = {"x-amz-checksum-crc32": "DUoRhQ==", "x-amz-sdk-checksum-algorithm": "CRC32"}
    plan = checksum_plan(headers, trailer_declared=None)
    assert (plan.algorithm, plan.location, plan.expected) == ("CRC32", "header", "DUoRhQ==")


def test_checksum_plan__trailer_names_the_algorithm() -> None:
    headers = {"x-amz-sdk-checksum-algorithm": "crc64nvme"}
    plan = checksum_plan(headers, trailer_declared="x-amz-checksum-crc64nvme")
    assert plan.algorithm == "CRC64NVME" and plan.location == "trailer"
    assert plan.header_name == "x-amz-checksum-crc64nvme" and plan.expected is None


def test_checksum_plan__mode_and_type_headers_are_not_checksums() -> None:
    headers = {"x-amz-checksum-mode": "ENABLED", "x-amz-checksum-type": "FULL_OBJECT"}
    assert checksum_plan(headers, trailer_declared=None).algorithm is None


@pytest.mark.parametrize(
    ("headers", "trailer", "message"),
    [
        ({"x-amz-checksum-crc32": "DUoRhQ=="}, "x-amz-checksum-crc32", "single x-amz-checksum-"),
        (
            {"x-amz-checksum-crc32": "DUoRhQ==", "x-amz-checksum-sha1": "x"},
            None,
            "single x-amz-checksum-",
        ),
        ({"x-amz-checksum-crc32": "not base64!"}, None, "x-amz-checksum-crc32 header is invalid"),
        ({"x-amz-checksum-crc32": "M3eFcAZSQlc="}, None, "x-amz-checksum-crc32 header is invalid"),
        ({"x-amz-checksum-xxhash64": "AAAAAAAAAAA="}, None, "algorithm type"),
        ({"x-amz-sdk-checksum-algorithm": "CRC32"}, None, "no corresponding"),
        (
            {"x-amz-sdk-checksum-algorithm": "SHA1"},
            "x-amz-checksum-crc64nvme",
            "x-amz-sdk-checksum-algorithm header is invalid",
        ),
        (
            {"x-amz-checksum-crc32": "DUoRhQ==", "x-amz-sdk-checksum-algorithm": "CRC32C"},
            None,
            "x-amz-sdk-checksum-algorithm header is invalid",
        ),
        ({}, "x-amz-checksum-md5", "x-amz-trailer"),
        ({}, "x-amz-meta-foo", "x-amz-trailer"),
    ],
)
def test_checksum_plan__rule_violations_are_invalid_request(
    headers: dict[str, str], trailer: str | None, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message) as info:
        checksum_plan(headers, trailer_declared=trailer)
    assert info.value.status == 400


def test_decode_checksum_value__trailing_wording() -> None:
    with pytest.raises(InvalidRequest, match="x-amz-checksum-crc64nvme trailing header is invalid"):
        decode_checksum_value("CRC64NVME", "%%%", trailing=True)
    assert decode_checksum_value("CRC64NVME", "M3eFcAZSQlc=", trailing=True) == "M3eFcAZSQlc="


# --- Content-MD5 ---------------------------------------------------------------------------


def test_content_md5__match_and_mismatch() -> None:
    good = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    check = Md5Check(good)
    check.update(b"hel")
    check.update(b"lo")
    check.verify()
    other = Md5Check(good)
    other.update(b"hellO")
    with pytest.raises(BadDigest):
        other.verify()


@pytest.mark.parametrize("value", ["", "abc", "DUoRhQ==", "é" * 24, "!" * 24, "A" * 23])
def test_content_md5__not_base64_of_16_bytes_is_invalid_digest(value: str) -> None:
    with pytest.raises(InvalidDigest) as info:
        parse_content_md5(value)
    assert info.value.status == 400
