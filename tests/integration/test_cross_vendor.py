"""Copies between PBuckets on different vendors (SeaweedFS and the local directory): the bytes
stream through the node, and what a server-side copy keeps (metadata, tags) is kept too."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.mark.parametrize("direction", ["seaweed->local", "local->seaweed"])
def test_copy_object__across_vendors_keeps_metadata_and_tags(
    s3: Any, bucket: str, local_bucket: str, direction: str
) -> None:
    src, dst = (bucket, local_bucket) if direction == "seaweed->local" else (local_bucket, bucket)
    data = os.urandom(3 * MIB + 11)
    s3.put_object(
        Bucket=src,
        Key="in/obj",
        Body=data,
        ContentType="application/x-test",
        Metadata={"owner": "team-a"},
        Tagging="tier=gold&stage=raw",
    )
    s3.copy_object(Bucket=dst, Key="out/obj", CopySource={"Bucket": src, "Key": "in/obj"})
    got = s3.get_object(Bucket=dst, Key="out/obj")
    assert _sha(got["Body"].read()) == _sha(data)
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "team-a"}
    tags = s3.get_object_tagging(Bucket=dst, Key="out/obj")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("stage", "raw"), ("tier", "gold")]

    s3.copy_object(
        Bucket=dst,
        Key="out/replaced",
        CopySource={"Bucket": src, "Key": "in/obj"},
        TaggingDirective="REPLACE",
        Tagging="tier=bronze",
    )
    tags = s3.get_object_tagging(Bucket=dst, Key="out/replaced")["TagSet"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("tier", "bronze")]


def test_upload_part_copy__across_vendors_with_range(
    s3: Any, bucket: str, local_bucket: str
) -> None:
    src = os.urandom(7 * MIB)
    s3.put_object(Bucket=local_bucket, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="joined")["UploadId"]
    p1 = s3.upload_part_copy(
        Bucket=bucket,
        Key="joined",
        UploadId=up,
        PartNumber=1,
        CopySource={"Bucket": local_bucket, "Key": "src"},
        CopySourceRange=f"bytes={MIB}-{6 * MIB - 1}",
    )
    p2 = s3.upload_part_copy(
        Bucket=bucket,
        Key="joined",
        UploadId=up,
        PartNumber=2,
        CopySource={"Bucket": local_bucket, "Key": "src"},
    )
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="joined",
            UploadId=up,
            PartNumber=3,
            CopySource={"Bucket": local_bucket, "Key": "src"},
            CopySourceRange=f"bytes=0-{7 * MIB}",
        )
    assert err.value.response["Error"]["Code"] == "InvalidRange"
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="joined",
        UploadId=up,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
            ]
        },
    )
    got = s3.get_object(Bucket=bucket, Key="joined")["Body"].read()
    assert _sha(got) == _sha(src[MIB : 6 * MIB] + src)
