"""boto3 through PCache: bucket operations; listings (v1/v2, delimiters, pages, url encoding).

Listing tests run against a `single`, a `balance` (3 targets, merged listings) and a `replicate`
(3 targets) PBucket. Creating and deleting buckets is S3 CreateBucket/DeleteBucket, which only
makes `single` PBuckets (the others come from the admin API): those tests stay single-only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rig.pbuckets import POLICIES, PBucketUnderTest

pytestmark = pytest.mark.policies(*POLICIES)


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_create_head_list_delete_bucket(s3: Any) -> None:
    name = f"pb-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=name)
    assert _code(ei) == ("BucketAlreadyOwnedByYou", 409)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=name)
    assert _code(ei) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert _code(ei)[1] == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize(
    "name", ["ab", "UPPER-case", "bad_name", "192.168.5.4", "healthz", "readyz", "admin"]
)
def test_create_bucket__invalid_name(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=name)
    assert _code(ei) == ("InvalidBucketName", 400)


def test_list_objects_v2__delimiter_and_pagination_each_key_once(s3: Any, bucket: str) -> None:
    keys = [f"dir{d}/file{i:02d}" for d in range(3) for i in range(7)] + [
        f"top{i}" for i in range(4)
    ]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    seen: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}
    ):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["dir0/", "dir1/", "dir2/"]
    assert [o["Key"] for o in resp["Contents"]] == [f"top{i}" for i in range(4)]
    assert resp["KeyCount"] == 7
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir1/", MaxKeys=3)
    assert resp["IsTruncated"] and resp["KeyCount"] == 3
    resp2 = s3.list_objects_v2(
        Bucket=bucket, Prefix="dir1/", ContinuationToken=resp["NextContinuationToken"]
    )
    assert [o["Key"] for o in resp2["Contents"]] == [f"dir1/file{i:02d}" for i in range(3, 7)]
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="dir2/file05")
    assert [o["Key"] for o in resp["Contents"]][:2] == ["dir2/file06", "top0"]


def test_list_objects_v1__marker_pagination(s3: Any, bucket: str) -> None:
    keys = [f"k{i:03d}" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    seen: list[str] = []
    for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 7}
    ):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys
    first = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert first["Contents"][0]["Owner"]["DisplayName"]
    assert first["Contents"][0]["Size"] == 1


def test_list_objects__encoding_type_url(
    s3: Any, s3_direct: Any, pbucket: PBucketUnderTest, bucket: str
) -> None:
    # s3-tests test_bucket_list_encoding_basic. botocore decodes nothing when the caller asked
    # for EncodingType itself, so the wire values show through (the same straight to the vendor).
    for k in ("foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b", "ctl\x01key"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="/", EncodingType="url")
    prefixes = sorted(p["Prefix"] for p in resp["CommonPrefixes"])
    assert prefixes == ["foo%2B1/", "foo/", "quux%20ab/"]
    assert sorted(o["Key"] for o in resp["Contents"]) == ["asdf%2Bb", "ctl%01key"]
    # Differential: the same listing as the vendor gives its own client.
    assert prefixes == pbucket.common_prefixes(s3_direct, "/", "url")


def test_list_objects__raw_url_encoded_xml(gateway: Any, bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="asdf+b", Body=b"")
    s3.put_object(Bucket=bucket, Key="quux ab/thud", Body=b"")
    url = s3.generate_presigned_url(
        "list_objects_v2", Params={"Bucket": bucket, "Delimiter": "/", "EncodingType": "url"}
    )
    import urllib.request

    with urllib.request.urlopen(url) as resp:
        xml = resp.read().decode()
    assert "<Key>asdf%2Bb</Key>" in xml
    assert "<Prefix>quux%20ab/</Prefix>" in xml


def test_list_objects__missing_bucket_and_bad_args(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket="no-such-pbucket-abc")
    assert _code(ei) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="not-a-token")
    assert _code(ei) == ("InvalidArgument", 400)


def test_list_objects__max_keys_zero(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"")
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert resp["KeyCount"] == 0 and not resp["IsTruncated"]
