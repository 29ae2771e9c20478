"""The read-through block cache end to end: a real gateway whose SeaweedFS vendor sits behind a
counting fault proxy, so every test can prove what reached the vendor (or that nothing did)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rig.cachegw import BLOCK, SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer


@pytest.fixture(scope="module")
def cached_gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("cachegw")
    config = far_config(far, seaweed, redis_server, work / "tier", max_age=600)
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


@pytest.fixture
def cs3(cached_gw: GatewayProcess, far: FaultProxy) -> Iterator[Any]:
    far.mode = "pass"
    yield cached_gw.client()
    far.mode = "pass"


@pytest.fixture
def cbucket(cs3: Any) -> str:
    name = f"pc-{uuid.uuid4().hex[:16]}"
    cs3.create_bucket(Bucket=name)
    return name


def _get(client: Any, bucket: str, key: str, **kw: Any) -> tuple[bytes, dict[str, str]]:
    out = client.get_object(Bucket=bucket, Key=key, **kw)
    return out["Body"].read(), out["ResponseMetadata"]["HTTPHeaders"]


def test_cache__second_get_is_served_with_the_vendor_unreachable(
    cs3: Any, cbucket: str, far: FaultProxy, cached_gw: GatewayProcess
) -> None:
    data = os.urandom(5 * BLOCK + 123)
    cs3.put_object(Bucket=cbucket, Key="k", Body=data)
    body, headers = _get(cs3, cbucket, "k")
    assert body == data and headers["x-pcache-cache"] == "miss"
    far.mode = "reset"  # the vendor is gone
    far.reset_counters()
    body, headers = _get(cs3, cbucket, "k")
    assert body == data and headers["x-pcache-cache"] == "hit"
    ranged, headers = _get(cs3, cbucket, "k", Range=f"bytes={BLOCK - 5}-{3 * BLOCK + 7}")
    assert ranged == data[BLOCK - 5 : 3 * BLOCK + 8]
    head = cs3.head_object(Bucket=cbucket, Key="k")  # HEAD from the metadata cache too
    assert head["ContentLength"] == len(data)
    assert far.requests == 0
    assert "cache=hit" in cached_gw.log_text()


def test_cache__overwrite_and_delete_through_the_gateway_are_seen_at_once(
    cs3: Any, cbucket: str
) -> None:
    cs3.put_object(Bucket=cbucket, Key="k", Body=b"one")
    assert _get(cs3, cbucket, "k")[0] == b"one"
    etag = cs3.put_object(Bucket=cbucket, Key="k", Body=b"two, longer")["ETag"]
    body, headers = _get(cs3, cbucket, "k")
    assert body == b"two, longer" and headers["etag"] == etag
    cs3.delete_object(Bucket=cbucket, Key="k")
    with pytest.raises(ClientError) as err:
        cs3.get_object(Bucket=cbucket, Key="k")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    cs3.put_object(Bucket=cbucket, Key="k", Body=b"three")  # the negative entry is dropped too
    assert _get(cs3, cbucket, "k")[0] == b"three"


def test_cache__concurrent_cold_gets_fetch_each_block_once(
    cs3: Any, cbucket: str, far: FaultProxy, cached_gw: GatewayProcess
) -> None:
    data = os.urandom(8 * BLOCK)
    cs3.put_object(Bucket=cbucket, Key="hot", Body=data)
    far.reset_counters()
    far.latency_down_ms = 30  # long enough that every client arrives while fetches run
    results: list[bytes] = []
    lock = threading.Lock()

    def reader() -> None:
        client = cached_gw.client()
        got = client.get_object(Bucket=cbucket, Key="hot")["Body"].read()
        with lock:
            results.append(got)

    try:
        threads = [threading.Thread(target=reader) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        far.latency_down_ms = 0
    assert len(results) == 24 and all(r == data for r in results)
    # One metadata HEAD per racing first reader at most, and exactly one GET per block.
    assert far.requests <= 8 + 24
    gets = far.requests - 24
    assert gets <= 8


def test_cache__corrupt_block_is_refetched_never_served(
    cs3: Any, cbucket: str, far: FaultProxy, cached_gw: GatewayProcess
) -> None:
    data = os.urandom(2 * BLOCK)
    cs3.put_object(Bucket=cbucket, Key="c", Body=data)
    before = set((cached_gw.workdir / "tier").rglob("*"))
    assert _get(cs3, cbucket, "c")[0] == data

    tier = cached_gw.workdir / "tier"

    def new_blocks() -> list[Path]:
        found = set(tier.rglob("*")) - before
        return [p for p in found if p.is_file() and p.relative_to(tier).parts[0] != "tmp"]

    # Tier writes finish beside the response: wait for the two block files themselves.
    until(lambda: len(new_blocks()) == 2)
    victim = new_blocks()[0]
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    far.reset_counters()
    body, _ = _get(cs3, cbucket, "c")
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert far.requests == 1  # only the corrupt block came back from the vendor
    far.reset_counters()
    assert _get(cs3, cbucket, "c")[0] == data and far.requests == 0


def test_cache__a_block_changed_after_its_check_is_checked_again(
    cs3: Any, cbucket: str, far: FaultProxy, cached_gw: GatewayProcess
) -> None:
    """CAC-09 with verify-once: a hit trusts a checked block only while its file is unchanged
    (inode, mtime, size); a flipped byte after a verified hit is caught on the next read."""
    data = os.urandom(BLOCK)
    cs3.put_object(Bucket=cbucket, Key="v", Body=data)
    tier = cached_gw.workdir / "tier"
    before = {p for p in tier.rglob("*") if p.is_file()}
    assert _get(cs3, cbucket, "v")[0] == data

    def new_block() -> list[Path]:
        found = {p for p in tier.rglob("*") if p.is_file()} - before
        return [p for p in found if p.relative_to(tier).parts[0] != "tmp"]

    until(lambda: len(new_block()) == 1)
    far.reset_counters()
    body, headers = _get(cs3, cbucket, "v")  # checked now, and trusted from here on
    assert body == data and headers["x-pcache-cache"] == "hit" and far.requests == 0
    victim = new_block()[0]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    assert _get(cs3, cbucket, "v")[0] == data
    assert far.requests == 1  # the block came back from the vendor


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_cache__random_ranges_are_byte_exact(cs3: Any, data: st.DataObject) -> None:
    bucket = "pc-ranges-fixed"
    payload = _ranges_object(cs3, bucket)
    first = data.draw(st.integers(0, len(payload) - 1))
    last = data.draw(st.integers(first, len(payload) + 10))
    got, _ = _get(cs3, bucket, "obj", Range=f"bytes={first}-{last}")
    assert got == payload[first : last + 1]


_RANGES: dict[str, bytes] = {}


def _ranges_object(client: Any, bucket: str) -> bytes:
    if bucket not in _RANGES:
        with contextlib.suppress(ClientError):  # hypothesis reruns: the bucket may exist
            client.create_bucket(Bucket=bucket)
        payload = os.urandom(6 * BLOCK + 999)
        client.put_object(Bucket=bucket, Key="obj", Body=payload)
        _RANGES[bucket] = payload
    return _RANGES[bucket]


def test_cache__out_of_band_change_is_seen_on_revalidation(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str, s3_direct: Any
) -> None:
    config = far_config(far, seaweed, redis_server, tmp_path / "tier", max_age=0)
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = f"pc-{uuid.uuid4().hex[:16]}"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="k", Body=b"A" * 3 * BLOCK)
        assert _get(client, bucket, "k")[0] == b"A" * 3 * BLOCK
        far.reset_counters()
        # max_age 0: every read asks the vendor, but an unchanged ETag costs no block GET.
        assert _get(client, bucket, "k")[1]["x-pcache-cache"] == "hit"
        assert far.requests == 1
        s3_direct.put_object(Bucket=bucket, Key="k", Body=b"B" * 10)  # behind PCache's back
        assert _get(client, bucket, "k")[0] == b"B" * 10


@pytest.mark.parametrize("grace", [0, 600])
def test_cache__stale_if_error_window(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str, grace: int
) -> None:
    config = far_config(
        far, seaweed, redis_server, tmp_path / "tier", max_age=0, stale_if_error=grace
    )
    far.mode = "pass"
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = f"pc-{uuid.uuid4().hex[:16]}"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="k", Body=b"S" * BLOCK)
        assert _get(client, bucket, "k")[0] == b"S" * BLOCK
        far.mode = "reset"
        far.drop_connections()  # pooled keep-alive connections would still pass
        try:
            if grace:
                assert _get(client, bucket, "k")[0] == b"S" * BLOCK  # stale, but served
            else:
                with pytest.raises(ClientError) as err:
                    client.get_object(Bucket=bucket, Key="k")
                assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
        finally:
            far.mode = "pass"


def test_cache__cold_whole_object_get_is_one_vendor_request(
    cs3: Any, cbucket: str, far: FaultProxy
) -> None:
    """A far vendor charges a round trip per request: a first read is one GET (no HEAD), and
    its bytes fill the blocks on the way."""
    data = os.urandom(2 * BLOCK - 5)  # up to two blocks come whole from the one stream
    cs3.put_object(Bucket=cbucket, Key="cold", Body=data)
    far.reset_counters()
    body, headers = _get(cs3, cbucket, "cold")
    assert body == data and headers["x-pcache-cache"] == "miss"
    assert far.requests == 1
    far.reset_counters()
    ranged, headers = _get(cs3, cbucket, "cold", Range=f"bytes={BLOCK - 3}-{BLOCK + 3}")
    assert ranged == data[BLOCK - 3 : BLOCK + 4] and headers["x-pcache-cache"] == "hit"
    assert far.requests == 0


def test_cache__cold_big_object_streams_its_first_block_then_fetches_in_parallel(
    cs3: Any, cbucket: str, far: FaultProxy
) -> None:
    data = os.urandom(10 * BLOCK + 1)
    cs3.put_object(Bucket=cbucket, Key="big", Body=data)
    far.reset_counters()
    far.latency_down_ms = 5  # the vendor's bytes arrive in several reads, as from far away
    try:
        body, headers = _get(cs3, cbucket, "big")
    finally:
        far.latency_down_ms = 0
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert headers["x-pcache-cache"] == "miss"
    assert 1 <= far.requests <= 1 + 10  # one stream, then at most one GET per other block
    far.mode = "reset"
    far.drop_connections()
    far.reset_counters()
    body, headers = _get(cs3, cbucket, "big")  # every block was stored on the way
    assert body == data and headers["x-pcache-cache"] == "hit" and far.requests == 0


def test_cache__sequential_ranged_reads_fetch_the_next_blocks_ahead(
    cs3: Any, cbucket: str, far: FaultProxy, s3_direct: Any
) -> None:
    """A reader walking an object by ranges finds the next blocks already cached."""
    data = os.urandom(10 * BLOCK)
    s3_direct.put_object(Bucket=cbucket, Key="seq", Body=data)  # not written through us
    far.reset_counters()

    def block(i: int, count: int = 1) -> tuple[bytes, dict[str, str]]:
        return _get(cs3, cbucket, "seq", Range=f"bytes={i * BLOCK}-{(i + count) * BLOCK - 1}")

    assert block(0)[0] == data[:BLOCK]
    assert far.requests == 2  # HEAD + block 0: one read says nothing about order yet
    assert block(1)[0] == data[BLOCK : 2 * BLOCK]
    until(lambda: far.requests == 2 + 1 + 4)  # block 1, then blocks 2..5 ahead (fanout 4)
    body, headers = block(2, 4)
    assert body == data[2 * BLOCK : 6 * BLOCK] and headers["x-pcache-cache"] == "hit"
