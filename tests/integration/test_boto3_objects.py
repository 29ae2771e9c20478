"""boto3 (latest, default checksum settings) through PCache to SeaweedFS: objects, byte-exact.

Every test runs against a `single`, a `balance` (3 targets) and a `replicate` (3 targets)
PBucket; the vendor-side checks look where the policy puts each key."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rig.gateway import GatewayProcess
from tests.rig.pbuckets import POLICIES, PBucketUnderTest

pytestmark = pytest.mark.policies(*POLICIES)


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("size", [0, 1, 4096, 1024 * 1024 + 7, 9 * 1024 * 1024])
@pytest.mark.parametrize("transport", ["http", "https"])
def test_put_get_object__byte_exact(
    s3: Any,
    s3_tls: Any,
    s3_direct: Any,
    pbucket: PBucketUnderTest,
    bucket: str,
    size: int,
    transport: str,
) -> None:
    client = s3_tls if transport == "https" else s3
    data = os.urandom(size)
    put = client.put_object(Bucket=bucket, Key="obj", Body=data)
    got = client.get_object(Bucket=bucket, Key="obj")
    body = got["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert got["ETag"] == put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    # Native vendor format: the vendor's own client reads exactly what PCache wrote.
    assert pbucket.read(s3_direct, "obj") == data


def test_put_object__https_unsigned_trailer_stores_no_framing(
    s3_tls: Any, s3_direct: Any, pbucket: PBucketUnderTest, bucket: str
) -> None:
    resp = s3_tls.put_object(Bucket=bucket, Key="hello", Body=b"hello world")
    assert resp.get("ChecksumCRC32") == "DUoRhQ=="
    assert pbucket.read(s3_direct, "hello") == b"hello world"


def test_put_object__user_metadata_and_content_headers(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="m",
        Body=b"x",
        ContentType="text/plain",
        Metadata={"color": "blue", "n": "1"},
        CacheControl="max-age=5",
        ContentDisposition="attachment",
        ContentLanguage="en",
    )
    head = s3.head_object(Bucket=bucket, Key="m")
    assert head["Metadata"] == {"color": "blue", "n": "1"}
    assert head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "max-age=5"
    assert head["ContentDisposition"] == "attachment"
    assert head["ContentLength"] == 1


def test_put_object__content_md5_mismatch_is_bad_digest(
    s3: Any, s3_direct: Any, pbucket: PBucketUnderTest, bucket: str
) -> None:
    import base64

    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5=wrong)
    assert _code(ei) == ("BadDigest", 400)
    assert pbucket.absent(s3_direct, "md5")


def test_put_object__conditional_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="c", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="c", Body=b"2", IfNoneMatch="*")
    assert _code(ei)[1] == 412
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"1"


def test_get_object__ranges(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = {
        "bytes=0-9": data[:10],
        "bytes=100-": data[100:],
        "bytes=-5": data[-5:],
        "bytes=10-999999": data[10:],
    }
    for header, expected in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == expected, header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"].startswith("bytes ")
        assert "ChecksumCRC32" not in got  # no whole-object checksum on a range
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert _code(ei) == ("InvalidRange", 416)
    # An unparsable range is ignored: the whole object, 200.
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=abc")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == data


def test_get_object__conditionals(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"hello"
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"bogus"')
    assert _code(ei) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert _code(ei)[1] == 304
    assert s3.get_object(Bucket=bucket, Key="k", IfNoneMatch='"x"')["Body"].read() == b"hello"


def test_get_object__response_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="a/b")
    got = s3.get_object(
        Bucket=bucket, Key="o", ResponseContentType="text/csv", ResponseContentDisposition="inline"
    )
    assert got["ContentType"] == "text/csv"
    assert got["ContentDisposition"] == "inline"


def test_get_object__missing_key_and_bucket(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="nope")
    assert _code(ei) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket="no-such-pbucket-xyz", Key="k")
    assert _code(ei) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="nope")
    assert _code(ei)[1] == 404


# SeaweedFS 4.48 (the test vendor) folds `a//b` to `a/b`, refuses dot segments and keys past its
# file-name limit; PCache passes them through untouched (the local vendor keeps them all).
_SEAWEED_LIMITS = pytest.mark.xfail(reason="SeaweedFS 4.48 key limitation", strict=True)


@pytest.mark.parametrize(
    "key",
    [
        "a+b",
        "a b",
        "a%b",
        "a~b",
        "é",
        "e\u0301",
        "日本/語",
        "'\"<>&$",
        "k" * 200,
        pytest.param("a//b", marks=_SEAWEED_LIMITS),
        pytest.param("./x", marks=_SEAWEED_LIMITS),
        pytest.param("a/../b", marks=_SEAWEED_LIMITS),
        pytest.param("k" * 1024, marks=_SEAWEED_LIMITS),
    ],
)
def test_special_keys__round_trip_distinct(s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == [key]


def test_special_keys__nfc_nfd_and_case_stay_distinct(s3: Any, bucket: str) -> None:
    for key in ("é", "e\u0301", "A", "a"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in ("é", "e\u0301", "A", "a"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()


def test_put_object__key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert _code(ei) == ("KeyTooLongError", 400)


def test_delete_object__then_404_and_idempotent(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="d")


def test_delete_objects__per_key_results_and_quiet(s3: Any, bucket: str) -> None:
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["a", "b", "zz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object__metadata_copy_and_replace(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src", Body=b"copyme", Metadata={"a": "1"}, ContentType="text/x"
    )
    s3.copy_object(Bucket=bucket, Key="dst1", CopySource={"Bucket": bucket, "Key": "src"})
    head = s3.head_object(Bucket=bucket, Key="dst1")
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/x"
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/y",
    )
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/y"
    assert s3.get_object(Bucket=bucket, Key="dst2")["Body"].read() == b"copyme"
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert _code(ei) == ("InvalidRequest", 400)


def test_copy_object__source_conditionals(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"v")
    with pytest.raises(ClientError) as ei:
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceIfMatch='"nope"',
        )
    assert _code(ei)[1] == 412


def test_object_tagging__put_get_delete(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two")
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two")]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "z", "Value": ""}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "z", "Value": ""}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


@pytest.mark.parametrize("transport", ["http", "https"])
def test_multipart__upload_fileobj_and_parts(
    s3: Any, s3_tls: Any, bucket: str, transport: str
) -> None:
    from boto3.s3.transfer import TransferConfig

    client = s3_tls if transport == "https" else s3
    data = os.urandom(17 * 1024 * 1024 + 3)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    client.upload_fileobj(io.BytesIO(data), bucket, "mp", Config=cfg)
    head = client.head_object(Bucket=bucket, Key="mp")
    assert head["ETag"].endswith('-4"')
    out = io.BytesIO()
    client.download_fileobj(bucket, "mp", out, Config=cfg)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()


def test_multipart__errors_and_listing(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="m", UploadId=up, PartNumber=1, Body=b"a" * 100)
    p2 = s3.upload_part(Bucket=bucket, Key="m", UploadId=up, PartNumber=2, Body=b"b" * 100)
    parts = s3.list_parts(Bucket=bucket, Key="m", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [up]
    with pytest.raises(ClientError) as ei:  # part 1 is below 5 MiB and not the last
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="m",
            UploadId=up,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 1, "ETag": p1["ETag"]},
                    {"PartNumber": 2, "ETag": p2["ETag"]},
                ]
            },
        )
    assert _code(ei) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="m",
            UploadId=up,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 2, "ETag": p2["ETag"]},
                    {"PartNumber": 1, "ETag": p1["ETag"]},
                ]
            },
        )
    assert _code(ei) == ("InvalidPartOrder", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=up)
    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key="m", UploadId=up)
    assert _code(ei) == ("NoSuchUpload", 404)


def test_upload_part_copy__with_range(s3: Any, bucket: str) -> None:
    src = os.urandom(6 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(
        Bucket=bucket,
        Key="dst",
        UploadId=up,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange=f"bytes=0-{5 * 1024 * 1024 - 1}",
    )
    r2 = s3.upload_part(Bucket=bucket, Key="dst", UploadId=up, PartNumber=2, Body=b"tail")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="dst",
        UploadId=up,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": r2["ETag"]},
            ]
        },
    )
    body = s3.get_object(Bucket=bucket, Key="dst")["Body"].read()
    assert body == src[: 5 * 1024 * 1024] + b"tail"
    total = 5 * 1024 * 1024 + 4
    head = s3.head_object(Bucket=bucket, Key="dst", PartNumber=2)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 4
    assert head["ContentRange"] == f"bytes {5 * 1024 * 1024}-{total - 1}/{total}"
    assert head["PartsCount"] == 2


def test_presigned_get_and_put(gateway: GatewayProcess, s3: Any, bucket: str) -> None:
    import urllib.request

    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300
    )
    req = urllib.request.Request(put_url, data=b"presigned!", method="PUT")
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url) as resp:
        assert resp.read() == b"presigned!"
