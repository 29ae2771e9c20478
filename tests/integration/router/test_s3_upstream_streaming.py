"""S3Upstream streaming: a 512 MiB PUT and GET in bounded memory, body failures surfacing as
themselves, and transport faults (hang, reset, mid-body drop) through the TCP fault proxy."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from router.errors import UpstreamError, VendorUnavailable
from router.models import PutOptions
from router.s3_upstream import S3Upstream
from tests.integration.router.conftest import seaweed_settings
from tests.integration.router.s3_helpers import chunks, pattern, read_all
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

MIB = 1024 * 1024
RSS_BUDGET = 64 * MIB


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak() -> bool:
    """Reset VmHWM (Linux >= 4.0); False where /proc/self/clear_refs is not writable."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


class RssWatch:
    """Peak RSS over a block: sampled by the caller and, where resettable, the kernel's VmHWM."""

    def __init__(self) -> None:
        gc.collect()
        self.baseline = _status_kib("VmRSS")
        self.peak = self.baseline
        self.hwm_reset = _reset_peak()

    def sample(self) -> None:
        self.peak = max(self.peak, _status_kib("VmRSS"))

    @property
    def growth(self) -> int:
        if self.hwm_reset:
            self.peak = max(self.peak, _status_kib("VmHWM"))
        return self.peak - self.baseline


async def numbered_chunks(total: int, watch: RssWatch, digest: Any) -> AsyncIterator[bytes]:
    """`total` bytes in 1 MiB chunks, each different (its index up front), hashed as sent."""
    base = pattern(MIB)
    for index in range(total // MIB):
        chunk = index.to_bytes(8, "big") + base[8:]
        digest.update(chunk)
        if index % 16 == 0:
            watch.sample()
        yield chunk


@pytest.mark.timeout(60)
async def test_put_get__512_mib_in_bounded_memory(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    total = 512 * MIB
    await s3_upstream.put_object(vendor_bucket, "warm", chunks(b"w" * MIB), MIB, PutOptions())
    sent = hashlib.sha256()
    watch = RssWatch()
    started = time.monotonic()
    body = numbered_chunks(total, watch, sent)
    await s3_upstream.put_object(vendor_bucket, "big", body, total, PutOptions())
    put_growth, put_seconds = watch.growth, time.monotonic() - started

    received = hashlib.sha256()
    watch = RssWatch()
    started = time.monotonic()
    stream = await s3_upstream.get_object(vendor_bucket, "big")
    length = 0
    async for chunk in stream.body:
        assert len(chunk) <= 256 * 1024
        received.update(chunk)
        length += len(chunk)
        if length % (16 * MIB) < len(chunk):
            watch.sample()
    get_growth, get_seconds = watch.growth, time.monotonic() - started
    print(
        f"\n512 MiB PUT: RSS +{put_growth / MIB:.1f} MiB in {put_seconds:.1f}s; "
        f"GET: RSS +{get_growth / MIB:.1f} MiB in {get_seconds:.1f}s"
    )
    assert length == total and received.hexdigest() == sent.hexdigest()
    assert put_growth < RSS_BUDGET
    assert get_growth < RSS_BUDGET


class ClientWentAway(Exception):
    pass


async def failing_source(after: int) -> AsyncIterator[bytes]:
    yield b"x" * after
    raise ClientWentAway()


async def test_put_object__body_failures_surface_as_themselves(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    length = 4 * MIB  # large enough that the request uses Expect: 100-continue
    with pytest.raises(ClientWentAway):
        await s3_upstream.put_object(vendor_bucket, "k", failing_source(MIB), length, PutOptions())
    for size in (length - 1, length + 1, length + MIB):  # short, one byte long, a chunk long
        with pytest.raises(UpstreamError) as exc:
            await s3_upstream.put_object(
                vendor_bucket, "k", chunks(pattern(size), MIB), length, PutOptions()
            )
        assert exc.value.code == "IncompleteBody"
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.head_object(vendor_bucket, "k")
    assert exc.value.code == "NoSuchKey"  # nothing, not a truncated object, was stored
    await s3_upstream.put_object(vendor_bucket, "k", chunks(b"ok"), 2, PutOptions())  # pool fine


@contextlib.contextmanager
def proxy_to(seaweed: SeaweedServer) -> Iterator[FaultProxy]:
    host, port = seaweed.endpoint.removeprefix("http://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        yield proxy


async def test_faults__hang_reset_and_no_sdk_retries(
    seaweed: SeaweedServer, vendor_bucket: str
) -> None:
    with proxy_to(seaweed) as proxy:
        settings = seaweed_settings(seaweed, endpoint_url=proxy.endpoint, read_timeout=1.0)
        upstream = S3Upstream(settings)
        try:
            await upstream.put_object(vendor_bucket, "k", chunks(b"data"), 4, PutOptions())
            assert proxy.requests == 1
            proxy.mode = "reset"
            proxy.drop_connections()
            proxy.reset_counters()
            with pytest.raises(VendorUnavailable):
                await upstream.head_object(vendor_bucket, "k")
            # No SDK retries (botocore's `max_attempts` counts retries, so the setting that means
            # "one attempt" is total_max_attempts=1). aiohttp itself resends an idempotent request
            # once when a connection breaks (RFC 9112 §9.3.1.1), hence <= 2 connections.
            client = upstream._client  # the SDK config is the thing under test
            assert client is not None
            assert client.meta.config.retries["total_max_attempts"] == 1  # botocore normalises it
            assert 1 <= proxy.connections <= 2
            proxy.mode = "hang"
            started = time.monotonic()
            with pytest.raises(VendorUnavailable):
                await upstream.head_object(vendor_bucket, "k")
            assert time.monotonic() - started < 5
            proxy.mode = "pass"
            assert (await upstream.head_object(vendor_bucket, "k")).size == 4
        finally:
            await upstream.close()


async def test_get_object__connection_lost_mid_body(
    seaweed: SeaweedServer, s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    data = pattern(8 * MIB)
    await s3_upstream.put_object(vendor_bucket, "big", chunks(data), len(data), PutOptions())
    with proxy_to(seaweed) as proxy:
        upstream = S3Upstream(seaweed_settings(seaweed, endpoint_url=proxy.endpoint))
        try:
            proxy.bandwidth = 4 * MIB  # slow enough that the body is still flowing
            stream = await upstream.get_object(vendor_bucket, "big")
            assert await anext(stream.body)
            proxy.drop_connections()
            with pytest.raises(VendorUnavailable):
                await read_all(stream)
            proxy.bandwidth = None
            again = await upstream.get_object(vendor_bucket, "big")
            assert await read_all(again) == data
        finally:
            await upstream.close()
