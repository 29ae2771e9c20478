"""Dispatch table: AWS API reference request lines -> the operation they name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dispatch import dispatch, parse_query, validate_key
from gateway.errors import S3Error
from gateway.operations import Operation

H = "s3.example.com"
CASES = [
    # (method, raw path, raw query, copy-source?, operation, bucket, key)
    ("GET", "/", "", False, Operation.ListBuckets, None, None),
    ("PUT", "/b1b", "", False, Operation.CreateBucket, "b1b", None),
    ("HEAD", "/b1b", "", False, Operation.HeadBucket, "b1b", None),
    ("DELETE", "/b1b", "", False, Operation.DeleteBucket, "b1b", None),
    ("GET", "/b1b", "location", False, Operation.GetBucketLocation, "b1b", None),
    ("GET", "/b1b", "versioning", False, Operation.GetBucketVersioning, "b1b", None),
    ("GET", "/b1b", "", False, Operation.ListObjects, "b1b", None),
    ("GET", "/b1b/", "prefix=a&delimiter=%2F", False, Operation.ListObjects, "b1b", None),
    ("GET", "/b1b", "list-type=2&prefix=photos", False, Operation.ListObjectsV2, "b1b", None),
    ("GET", "/b1b", "uploads", False, Operation.ListMultipartUploads, "b1b", None),
    ("GET", "/b1b", "versions", False, Operation.ListObjectVersions, "b1b", None),
    ("POST", "/b1b", "delete", False, Operation.DeleteObjects, "b1b", None),
    ("GET", "/b1b", "lifecycle", False, Operation.GetBucketLifecycleConfiguration, "b1b", None),
    ("PUT", "/b1b", "lifecycle", False, Operation.PutBucketLifecycleConfiguration, "b1b", None),
    ("DELETE", "/b1b", "lifecycle", False, Operation.DeleteBucketLifecycle, "b1b", None),
    ("GET", "/b1b/my-image.jpg", "", False, Operation.GetObject, "b1b", "my-image.jpg"),
    ("HEAD", "/b1b/my-image.jpg", "", False, Operation.HeadObject, "b1b", "my-image.jpg"),
    ("PUT", "/b1b/my-image.jpg", "", False, Operation.PutObject, "b1b", "my-image.jpg"),
    ("PUT", "/b1b/k", "", True, Operation.CopyObject, "b1b", "k"),
    ("DELETE", "/b1b/k", "", False, Operation.DeleteObject, "b1b", "k"),
    ("GET", "/b1b/k", "tagging", False, Operation.GetObjectTagging, "b1b", "k"),
    ("PUT", "/b1b/k", "tagging", False, Operation.PutObjectTagging, "b1b", "k"),
    ("DELETE", "/b1b/k", "tagging", False, Operation.DeleteObjectTagging, "b1b", "k"),
    ("POST", "/b1b/k", "uploads", False, Operation.CreateMultipartUpload, "b1b", "k"),
    ("PUT", "/b1b/k", "partNumber=1&uploadId=abc", False, Operation.UploadPart, "b1b", "k"),
    ("PUT", "/b1b/k", "partNumber=1&uploadId=abc", True, Operation.UploadPartCopy, "b1b", "k"),
    ("POST", "/b1b/k", "uploadId=abc", False, Operation.CompleteMultipartUpload, "b1b", "k"),
    ("DELETE", "/b1b/k", "uploadId=abc", False, Operation.AbortMultipartUpload, "b1b", "k"),
    ("GET", "/b1b/k", "uploadId=abc&max-parts=2", False, Operation.ListParts, "b1b", "k"),
    ("GET", "/b1b/k", "partNumber=2", False, Operation.GetObject, "b1b", "k"),
    ("GET", "/b1b/k", "response-content-type=text%2Fplain", False, Operation.GetObject, "b1b", "k"),
    # Sub-resources we do not build are NotImplemented, never a silent listing.
    ("GET", "/b1b", "acl", False, Operation.Unsupported, "b1b", None),
    ("PUT", "/b1b", "cors", False, Operation.Unsupported, "b1b", None),
    ("PUT", "/b1b/k", "lifecycle", False, Operation.Unsupported, "b1b", "k"),
    ("GET", "/b1b/k", "acl", False, Operation.Unsupported, "b1b", "k"),
    ("POST", "/b1b/k", "restore", False, Operation.Unsupported, "b1b", "k"),
    ("POST", "/b1b/k", "select&select-type=2", False, Operation.Unsupported, "b1b", "k"),
    ("POST", "/", "Action=AssumeRole", False, Operation.Unsupported, None, None),
]


@pytest.mark.parametrize(("method", "path", "query", "copy", "op", "bucket", "key"), CASES)
def test_dispatch__aws_examples(method, path, query, copy, op, bucket, key):
    headers = {"x-amz-copy-source": "/src/k"} if copy else {}
    t = dispatch(method, H, path, query, headers)
    assert (t.operation, t.bucket, t.key) == (op, bucket, key)


def test_dispatch__virtual_host_style():
    t = dispatch(
        "GET", "b1b.s3.example.com:9000", "/photos/a%20b.jpg", "", {}, domain="s3.example.com"
    )
    assert (t.operation, t.bucket, t.key) == (Operation.GetObject, "b1b", "photos/a b.jpg")
    t = dispatch("GET", "b1b.s3.example.com", "/", "list-type=2", {}, domain="s3.example.com")
    assert (t.operation, t.bucket, t.key) == (Operation.ListObjectsV2, "b1b", None)


def test_dispatch__path_style_when_host_is_not_under_domain():
    t = dispatch("GET", "127.0.0.1:9000", "/b1b/k", "", {}, domain="s3.example.com")
    assert (t.bucket, t.key) == ("b1b", "k")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("/b1b/a%2Fb", "a/b"),
        ("/b1b/a/b", "a/b"),
        ("/b1b/%25FF", "%FF"),
        ("/b1b/a//b", "a//b"),
        ("/b1b/a/../b", "a/../b"),
        ("/b1b/./x", "./x"),
        ("/b1b/%E6%97%A5%E6%9C%AC", "日本"),
        ("/b1b/a+b", "a+b"),
    ],
)
def test_dispatch__keys_decoded_once_from_raw_path(raw, key):
    assert dispatch("GET", H, raw, "", {}).key == key


@pytest.mark.parametrize("raw", ["/b1b/%FF", "/b1b/a%C3"])
def test_dispatch__invalid_utf8_key_is_refused(raw):
    with pytest.raises(S3Error) as ei:
        dispatch("GET", H, raw, "", {})
    assert ei.value.code == "InvalidArgument"


@pytest.mark.parametrize(
    "key", ["..", ".", "../x", "/..", "a/../../x", "a/a/a/../../../../../etc/passwd", "x\x00y"]
)
def test_validate_key__escaping_or_nul_keys_refused(key):
    with pytest.raises(S3Error) as ei:
        validate_key(key)
    assert ei.value.status == 400


def test_validate_key__1024_bytes_ok_1025_too_long():
    validate_key("k" * 1024)
    with pytest.raises(S3Error) as ei:
        validate_key("k" * 1025)
    assert ei.value.code == "KeyTooLongError"
    with pytest.raises(S3Error):
        validate_key("é" * 513)  # 1026 bytes in UTF-8


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "ab",
        "A" * 3,
        "x" * 64,
        "bad_name",
        "-abc",
        "abc-",
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "ab.-c",
    ],
)
def test_dispatch__invalid_bucket_names(name):
    with pytest.raises(S3Error) as ei:
        dispatch("PUT", H, f"/{name}", "", {})
    assert ei.value.code == "InvalidBucketName"


def test_dispatch__unknown_method_is_method_not_allowed():
    with pytest.raises(S3Error) as ei:
        dispatch("PATCH", H, "/b1b/k", "", {})
    assert ei.value.code == "MethodNotAllowed"


def test_parse_query__plus_is_literal_and_first_wins():
    assert parse_query("prefix=a+b&prefix=zz&x") == {"prefix": "a+b", "x": ""}


@given(st.text(min_size=1, max_size=200).filter(lambda k: "\x00" not in k))
def test_dispatch__any_encoded_key_round_trips(key):
    from urllib.parse import quote

    try:
        validate_key(key)
    except S3Error:
        return
    t = dispatch("GET", H, "/b1b/" + quote(key, safe="/~"), "", {})
    assert t.key == key
