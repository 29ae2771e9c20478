"""Cache hits served from block files: `sendfile` on plain HTTP, bounded `pread` copies on TLS.

Blocks here are 1 MiB, so every slice of a hit is at or above the sendfile threshold and the
zero-copy path is what answers; the same reads over HTTPS take the copying path. Both must be
byte-exact for whole objects and for ranges that start, end and cross inside blocks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.file_send import SENDFILE_MIN
from tests.rig.cachegw import SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

BIG_BLOCK = 1024 * 1024
SIZE = 5 * BIG_BLOCK + 4321


@pytest.fixture(scope="module")
def sendfile_gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("sendfile-gw")
    config = far_config(far, seaweed, redis_server, work / "tier", block_size=BIG_BLOCK)
    with GatewayProcess(work, config=config, tls=True, extra_env=SHARED_KEY) as gw:
        yield gw


@pytest.fixture(scope="module")
def cached_object(sendfile_gw: GatewayProcess) -> tuple[str, bytes]:
    client = sendfile_gw.client()
    bucket = "pc-sendfile"
    client.create_bucket(Bucket=bucket)
    data = os.urandom(SIZE)
    client.put_object(Bucket=bucket, Key="obj", Body=data)
    assert client.get_object(Bucket=bucket, Key="obj")["Body"].read() == data  # the fill
    tier = sendfile_gw.workdir / "tier"

    def blocks() -> list[Path]:
        return [p for p in tier.rglob("*") if p.is_file() and p.relative_to(tier).parts[0] != "tmp"]

    until(lambda: len(blocks()) == 6)
    return bucket, data


RANGES = [
    (0, SIZE - 1),  # everything, as a range
    (1, BIG_BLOCK),  # starts inside block 0, ends on block 1's first byte
    (BIG_BLOCK - 7, 3 * BIG_BLOCK + 11),  # crosses three boundaries
    (2 * BIG_BLOCK, 3 * BIG_BLOCK - 1),  # exactly one block
    (5 * BIG_BLOCK, SIZE - 1),  # the short last block
    (SIZE - 300_000, SIZE - 1),  # a tail shorter than the sendfile threshold in its block
]


@pytest.mark.parametrize("tls", [False, True], ids=["http-sendfile", "https-copy"])
def test_sendfile__whole_and_ranged_hits_are_byte_exact(
    sendfile_gw: GatewayProcess, cached_object: tuple[str, bytes], far: FaultProxy, tls: bool
) -> None:
    assert BIG_BLOCK >= SENDFILE_MIN  # otherwise this would not exercise sendfile at all
    bucket, data = cached_object
    client = sendfile_gw.client(tls=tls)
    far.reset_counters()
    out = client.get_object(Bucket=bucket, Key="obj")
    body = out["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "hit"
    for first, last in RANGES:
        got = client.get_object(Bucket=bucket, Key="obj", Range=f"bytes={first}-{last}")
        assert got["ContentRange"] == f"bytes {first}-{last}/{SIZE}"
        assert got["Body"].read() == data[first : last + 1], (first, last)
    assert far.requests == 0  # all of it from the tier files


def test_sendfile__many_parallel_hits_keep_connections_in_step(
    sendfile_gw: GatewayProcess, cached_object: tuple[str, bytes]
) -> None:
    """Keep-alive connections reused for several sendfile responses in a row, from threads at
    once: a head overtaken by file bytes, or bytes of one response leaking into the next,
    would break the framing and the digests."""
    from concurrent.futures import ThreadPoolExecutor

    bucket, data = cached_object
    client = sendfile_gw.client(max_pool_connections=8)
    want = hashlib.sha256(data).hexdigest()

    def read(i: int) -> str:
        if i % 2:
            first, last = RANGES[i % len(RANGES)]
            got = client.get_object(Bucket=bucket, Key="obj", Range=f"bytes={first}-{last}")
            body: bytes = got["Body"].read()
            return "ok" if body == data[first : last + 1] else f"range {first}-{last} differs"
        body = client.get_object(Bucket=bucket, Key="obj")["Body"].read()
        return "ok" if hashlib.sha256(body).hexdigest() == want else "whole object differs"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(read, range(48)))
    assert results == ["ok"] * 48


def test_sendfile__client_that_leaves_mid_body_does_not_hurt_the_next(
    sendfile_gw: GatewayProcess, cached_object: tuple[str, bytes]
) -> None:
    import socket

    bucket, data = cached_object
    url = sendfile_gw.client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=600
    )
    path = url.split("/", 3)[3]
    host, port = sendfile_gw.endpoint.split("//")[1].split(":")
    for _ in range(5):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        # closed after the first bytes: the gateway must drop that response quietly
    body = sendfile_gw.client().get_object(Bucket=bucket, Key="obj")["Body"].read()
    assert body == data
    assert "Traceback" not in sendfile_gw.log_path.read_text(errors="replace")
