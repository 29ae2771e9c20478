"""Virtual-host-style addressing end to end: boto3 in `virtual` mode names the bucket in the Host
header (`<bucket>.s3.pcache.test`), which PCache's configured domain turns back into a PBucket.

No resolver knows the test domain, so a `before-send` hook points the connection at loopback
while keeping the signed Host header exactly as boto3 built it. The round trip runs against a
`single`, a `balance` and a `replicate` PBucket."""

from __future__ import annotations

import hashlib
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.rig.gateway import GatewayProcess
from tests.rig.pbuckets import POLICIES

pytestmark = pytest.mark.policies(*POLICIES)

DOMAIN = "s3.pcache.test"


def _virtual_client(gateway: GatewayProcess) -> Any:
    port = urlsplit(gateway.endpoint).port
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{DOMAIN}:{port}",
        aws_access_key_id=gateway.access_key,
        aws_secret_access_key=gateway.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "virtual"}, retries={"total_max_attempts": 1}),
    )

    def to_loopback(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))

    client.meta.events.register_first("before-send.s3", to_loopback)
    return client


def test_virtual_host__object_round_trip_and_listing(
    gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    vs3 = _virtual_client(gateway)
    seen: list[str] = []
    vs3.meta.events.register(
        "before-send.s3", lambda request, **_: seen.append(request.headers["Host"])
    )
    data = os.urandom(300_000)
    vs3.put_object(Bucket=bucket, Key="dir/a b+c.bin", Body=data)
    got = vs3.get_object(Bucket=bucket, Key="dir/a b+c.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    # What virtual-host wrote, path-style reads: one PBucket, two spellings.
    assert s3.get_object(Bucket=bucket, Key="dir/a b+c.bin")["Body"].read() == data
    listed = vs3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a b+c.bin"]
    assert all(h.startswith(f"{bucket}.{DOMAIN}:") for h in seen)


def test_virtual_host__unknown_bucket_is_no_such_bucket(gateway: GatewayProcess) -> None:
    vs3 = _virtual_client(gateway)
    with pytest.raises(ClientError) as err:
        vs3.get_object(Bucket="pb-does-not-exist-vh", Key="k")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"
    assert err.value.response["Error"]["BucketName"] == "pb-does-not-exist-vh"
