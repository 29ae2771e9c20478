"""Pure conversions of router.s3_convert: ranges, ETags, markers, URL-decoded listings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from router.errors import UpstreamError
from router.models import CompletedPart, PutOptions
from router.s3_convert import (
    completed_parts,
    content_range,
    integrity_params,
    list_page,
    list_start_after,
    not_modified_info,
    quoted_etag,
    uploads_page,
)

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-9/100", (0, 9, 100)),
        ("bytes 5-5/6", (5, 5, 6)),
        ("bytes */100", None),
        ("bytes 0-9/*", None),
        ("items 0-9/100", None),
        (None, None),
        ("", None),
    ],
)
def test_content_range(value: str | None, expected: tuple[int, int, int] | None) -> None:
    assert content_range(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"abc"', '"abc"'), ("abc", '"abc"'), ('W/"abc"', 'W/"abc"'), ('"abc-3"', '"abc-3"')],
)
def test_quoted_etag(value: str, expected: str) -> None:
    assert quoted_etag(value) == expected


def test_list_start_after__common_prefix_skips_its_keys() -> None:
    assert list_start_after("b/", "", "/") == "b/\U0010ffff"
    assert list_start_after("p/b/", "p/", "/") == "p/b/\U0010ffff"
    assert list_start_after("p/key", "p/", "/") == "p/key"  # a key, not a prefix
    assert list_start_after("b/", "", None) == "b/"  # no delimiter: a key like any other
    assert list_start_after(None, "", "/") is None


def _entry(key: str) -> dict[str, object]:
    return {"Key": key, "Size": 1, "ETag": '"e"', "LastModified": WHEN}


def test_list_page__decodes_and_marks_the_last_item() -> None:
    response = {
        "EncodingType": "url",
        "Contents": [_entry("a%2Bb"), _entry("a+b"), _entry("ctl%01")],
        "CommonPrefixes": [{"Prefix": "d%C3%A9/"}],
        "IsTruncated": True,
    }
    page = list_page(response, start_after=None)
    assert [e.key for e in page.entries] == ["a+b", "a b", "ctl\x01"]
    assert page.common_prefixes == ["dé/"]
    assert page.next_start_after == "dé/"  # the prefix sorts after the last key
    assert page.entries[0].last_modified == WHEN and page.entries[0].last_modified.tzinfo is UTC


def test_list_page__not_truncated_has_no_marker_and_plain_keys_pass() -> None:
    page = list_page({"Contents": [_entry("a+b")], "IsTruncated": False}, start_after="x")
    assert [e.key for e in page.entries] == ["a+b"] and page.next_start_after is None


def test_uploads_page__vendor_that_ignored_encoding_type_is_not_decoded() -> None:
    upload = {"Key": "u 2+x", "UploadId": "id", "Initiated": WHEN}
    page = uploads_page({"EncodingType": "url", "Uploads": [upload], "IsTruncated": False})
    assert [u.key for u in page.uploads] == ["u 2+x"]


def test_integrity_params__checksum_value_without_algorithm_member() -> None:
    params = integrity_params(
        PutOptions(content_md5="bWQ1", checksum_algorithm="crc32c", checksum_value="Y3Jj")
    )
    assert params == {"ContentMD5": "bWQ1", "ChecksumCRC32C": "Y3Jj"}
    with pytest.raises(UpstreamError):
        integrity_params(PutOptions(checksum_algorithm="ROT13", checksum_value="x"))


def test_completed_parts() -> None:
    parts = [CompletedPart(1, '"a"', {"crc32": "x"}), CompletedPart(2, '"b"')]
    assert completed_parts(parts) == {
        "Parts": [
            {"PartNumber": 1, "ETag": '"a"', "ChecksumCRC32": "x"},
            {"PartNumber": 2, "ETag": '"b"'},
        ]
    }


def test_not_modified_info() -> None:
    headers = {"etag": '"e"', "last-modified": "Wed, 01 May 2024 10:00:00 GMT"}
    info = not_modified_info("k", headers)
    assert info is not None and info.etag == '"e"'
    assert info.last_modified == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert not_modified_info("k", {"etag": '"e"'}) is None  # SeaweedFS sends no Last-Modified
