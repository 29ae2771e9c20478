"""The rig itself works: SeaweedFS round trip, Redis answers, the fault proxy delays and counts."""

from __future__ import annotations

import socket
import time
from typing import Any

import boto3
import pytest
import redis
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.rig.httpcount import RequestCounter
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer


def test_seaweed__put_get_round_trip(s3_direct: Any, vendor_bucket: str) -> None:
    body = bytes(range(256)) * 1000
    s3_direct.put_object(Bucket=vendor_bucket, Key="dir/obj", Body=body)
    got = s3_direct.get_object(Bucket=vendor_bucket, Key="dir/obj")["Body"].read()
    assert got == body
    ranged = s3_direct.get_object(Bucket=vendor_bucket, Key="dir/obj", Range="bytes=10-19")
    assert ranged["Body"].read() == body[10:20]


def test_seaweed__wrong_secret_is_refused(seaweed: SeaweedServer) -> None:
    bad = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint,
        region_name=seaweed.region,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key="not-the-secret",
        config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        bad.list_buckets()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_redis__ping(redis_server: str) -> None:
    client = redis.Redis.from_url(redis_server)
    assert client.ping()
    client.set("pc:test:k", b"v")
    assert client.get("pc:test:k") == b"v"


def _proxied_client(seaweed: SeaweedServer, proxy: FaultProxy, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        region_name=seaweed.region,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            **config,
        ),
    )


def test_proxy__adds_latency_and_counts_requests(
    seaweed: SeaweedServer, vendor_bucket: str
) -> None:
    host, port = seaweed.endpoint.removeprefix("http://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        client = _proxied_client(seaweed, proxy)
        client.put_object(Bucket=vendor_bucket, Key="k", Body=b"x" * 100_000)
        client.head_object(Bucket=vendor_bucket, Key="k")
        assert proxy.requests == 2
        assert proxy.bytes_up > 100_000
        fast = _timed(lambda: client.get_object(Bucket=vendor_bucket, Key="k")["Body"].read())
        proxy.latency_up_ms = proxy.latency_down_ms = 100
        slow = _timed(lambda: client.get_object(Bucket=vendor_bucket, Key="k")["Body"].read())
        assert slow - fast >= 0.18  # one round trip through both delays
        assert proxy.requests == 4
        assert proxy.connections >= 1


def test_proxy__reset_and_hang_modes(seaweed: SeaweedServer) -> None:
    host, port = seaweed.endpoint.removeprefix("http://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        proxy.mode = "reset"
        # The reset may land on connect, send or recv depending on timing: any of them is right.
        with (
            pytest.raises((ConnectionResetError, BrokenPipeError)),
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock,
        ):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            if not sock.recv(10):  # a clean EOF would be wrong too
                raise AssertionError("closed without reset")
        proxy.mode = "hang"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(TimeoutError):
                sock.recv(10)
        assert proxy.requests == 0  # nothing reached the server
        assert proxy.connections == 2


def _timed(fn: Any) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def test_request_counter__keep_alive_bodies_and_chunked_framing() -> None:
    counter = RequestCounter()
    stream = (
        b"PUT /b/k HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"PUT /b/k2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nGET /\r\n0\r\n\r\n"  # a body that looks like a request line is skipped
        b"HEAD /b/k HTTP/1.1\r\n\r\n"
    )
    for i in range(0, len(stream), 3):  # request heads split across reads
        counter.feed(stream[i : i + 3])
    assert counter.requests == 3
