"""The `replicate` policy end to end: boto3 through a real gateway whose PBucket writes to three
SeaweedFS servers (three vendors), checked against each vendor directly, while vendors are
killed (SIGKILL, then restarted on the same data dir and ports) or hung (SIGSTOP / SIGCONT).

Vendors: `w1` is the session's SeaweedFS (never harmed: other modules use it), `w2` and `w3`
are this module's own. `w2` carries the region label the node prefers, so reads go there first
and its outage exercises read failover. Timeouts are short and the breaker trips after two
failures, so an outage costs seconds, not minutes.

A second replicated PBucket spans two regions: its "near" target is `w2` and its two "far"
targets are `w1` and `w3` behind latency proxies (vendors `n2`, `f1`, `f3`: each proxy counts
the requests that pass it, so the test sees which region served a read).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from botocore.exceptions import ClientError

from tests.conftest import _empty_and_delete
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import TEST_MASTER_KEY_HEX, until
from tests.rig.ports import HOST
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

UID = uuid.uuid4().hex[:8]
REP = f"rep-{UID}"
SGL = f"sgl-{UID}"
BUCKETS = (f"rep-{UID}-1", f"rep-{UID}-2", f"rep-{UID}-3")
SGL_BUCKET = f"sgl-{UID}-1"
REG = f"reg-{UID}"
REG_BUCKETS = (f"reg-{UID}-1", f"reg-{UID}-2", f"reg-{UID}-3")  # on w1, w2, w3
FAR_MS = 25.0  # one-way latency the far region's proxies add
STREAM = f"pc:rt:repair:{{{REP}}}"


def _vendor(name: str, server: SeaweedServer, endpoint: str | None = None) -> str:
    """`server` as vendor `name`, reached at `endpoint` (a proxy in front of it) if given."""
    return f"""
[vendors.{name}]
type = "s3"
endpoint = "{endpoint or server.endpoint}"
access_key = "{server.access_key}"
secret_key = "{server.secret_key}"
connect_timeout = 1
read_timeout = 3
retries = 0
breaker_failures = 2
breaker_cooldown = 1
"""


def _config(
    servers: list[SeaweedServer], proxies: dict[str, FaultProxy], redis_url: str, tier: Path
) -> str:
    vendors = "".join(_vendor(f"w{i + 1}", s) for i, s in enumerate(servers))
    vendors += "".join(_vendor(n, servers[0], p.endpoint) for n, p in proxies.items())
    return f"""
[node]
region = "us-east-1"
vendor_allowlist = ["127.0.0.0/8"]  # the rig's vendors are on loopback
region_affinity = "near"

[redis]
url = "{redis_url}"

# Outages here last seconds: retry and rescan at that scale (defaults 5 s), so a drained queue
# and the queue gauge are seen promptly. A SIGCONTed vendor runs what it had buffered within
# milliseconds, so 1 s of settle still guards the repairs against those late writes.
[repair]
scan_interval = 1
backoff_max = 1
settle = 1
{vendors}
[cache]
block_size = 65536
write_mode = "around"

[[cache.tier]]
name = "ram"
dir = "{tier}"
capacity = 67108864

[[pbuckets]]
name = "{REP}"
policy = "replicate"
write_quorum = 2
targets = [
  {{ vendor = "w1", bucket = "{BUCKETS[0]}" }},
  {{ vendor = "w2", bucket = "{BUCKETS[1]}", region = "near" }},
  {{ vendor = "w3", bucket = "{BUCKETS[2]}" }},
]

[[pbuckets]]
name = "{SGL}"
vendor = "w1"
bucket = "{SGL_BUCKET}"

# Far targets first: only the node's region_affinity puts the near one ahead of them.
[[pbuckets]]
name = "{REG}"
policy = "replicate"
targets = [
  {{ vendor = "f1", bucket = "{REG_BUCKETS[0]}", region = "far" }},
  {{ vendor = "f3", bucket = "{REG_BUCKETS[2]}", region = "far" }},
  {{ vendor = "n2", bucket = "{REG_BUCKETS[1]}", region = "near" }},
]
"""


@pytest.fixture(scope="module")
def servers(seaweed: SeaweedServer) -> Iterator[list[SeaweedServer]]:
    extra = [SeaweedServer(seaweed.access_key, seaweed.secret_key) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: s.start(), extra))
    try:
        yield [seaweed, *extra]
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.close(), extra))


@pytest.fixture(scope="module")
def proxies(servers: list[SeaweedServer]) -> Iterator[dict[str, FaultProxy]]:
    """Vendor name -> counting proxy: `n2` in front of w2 (no delay), `f1` and `f3` in front of
    w1 and w3 with the far region's latency."""
    out: dict[str, FaultProxy] = {}
    with contextlib.ExitStack() as stack:
        for name, server in (("n2", servers[1]), ("f1", servers[0]), ("f3", servers[2])):
            parts = urlsplit(server.endpoint)
            proxy = stack.enter_context(FaultProxy(parts.hostname or HOST, int(parts.port or 80)))
            if name.startswith("f"):
                proxy.latency_up_ms = proxy.latency_down_ms = FAR_MS
            out[name] = proxy
        yield out


@pytest.fixture(scope="module")
def direct(servers: list[SeaweedServer]) -> list[Any]:
    """One boto3 client straight to each vendor (the oracle)."""
    return [s.client(connect_timeout=2, read_timeout=5) for s in servers]


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    servers: list[SeaweedServer],
    proxies: dict[str, FaultProxy],
    direct: list[Any],
    redis_server: str,
) -> Iterator[GatewayProcess]:
    owned = [
        *zip(direct, BUCKETS, strict=True),
        (direct[0], SGL_BUCKET),
        *zip(direct, REG_BUCKETS, strict=True),
    ]
    for client, bucket in owned:
        client.create_bucket(Bucket=bucket)
    work: Path = tmp_path_factory.mktemp("replicategw")
    config = _config(servers, proxies, redis_server, work / "tier")
    env = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}
    try:
        with GatewayProcess(work, config=config, extra_env=env) as gw:
            yield gw
    finally:
        for client, bucket in owned:
            try:
                _empty_and_delete(client, bucket)
            except Exception as exc:  # a vendor a failed test left stopped
                print(f"cleanup of {bucket}: {exc!r}")


@pytest.fixture(scope="module")
def rs3(gw: GatewayProcess) -> Any:
    return gw.client(max_pool_connections=16)


@pytest.fixture(scope="module")
def rds(redis_server: str) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_server)
    yield client
    client.close()


# -- helpers ----------------------------------------------------------------------------------


def _status(err: pytest.ExceptionInfo[ClientError] | ClientError) -> int:
    exc = err.value if isinstance(err, pytest.ExceptionInfo) else err
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def _etag_on(client: Any, bucket: str, key: str) -> str | None:
    try:
        return str(client.head_object(Bucket=bucket, Key=key)["ETag"])
    except ClientError as err:
        if _status(err) == 404:
            return None
        raise


def _listing(client: Any, bucket: str, prefix: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["ETag"], o["Size"])
    return out


def _drained(rds: Any) -> bool:
    return int(rds.xlen(STREAM)) == 0


def _converged(direct: list[Any], prefix: str) -> bool:
    try:
        listings = [_listing(c, b, prefix) for c, b in zip(direct, BUCKETS, strict=True)]
    except ClientError:
        return False
    return listings[0] == listings[1] == listings[2]


def _metric(gw: GatewayProcess, name: str, labels: str) -> float:
    """One sample from the node's /metrics (-1 when absent)."""
    with urllib.request.urlopen(gw.endpoint + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    prefix = f"{name}{{{labels}}} "
    line = next((x for x in text.splitlines() if x.startswith(prefix)), None)
    return -1.0 if line is None else float(line.rsplit(" ", 1)[1])


def _kill(server: SeaweedServer) -> None:
    """SIGKILL: the vendor dies without a goodbye (connections refused from now on)."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    assert server._proc is not None
    server._proc.wait(10)


def _restart(server: SeaweedServer) -> None:
    server.stop()  # reaps the dead process and removes its socket files
    server.start()  # same data dir, same ports


# -- tests ------------------------------------------------------------------------------------


def test_put__lands_on_every_target_with_one_etag(rs3: Any, direct: list[Any]) -> None:
    # With quorum 2 the answer may come before the third target has the write: poll for it.
    pairs = list(zip(direct, BUCKETS, strict=True))
    data = os.urandom(100_000)
    put = rs3.put_object(Bucket=REP, Key="basic/obj", Body=data, Metadata={"m": "1"})
    until(lambda: all(_etag_on(c, b, "basic/obj") == put["ETag"] for c, b in pairs), 5, "the PUT")
    for client, bucket in pairs:
        got = client.get_object(Bucket=bucket, Key="basic/obj")
        assert got["Body"].read() == data and got["Metadata"] == {"m": "1"}
    assert rs3.get_object(Bucket=REP, Key="basic/obj")["Body"].read() == data
    rs3.put_object_tagging(
        Bucket=REP, Key="basic/obj", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]}
    )
    until(
        lambda: all(
            c.get_object_tagging(Bucket=b, Key="basic/obj")["TagSet"]
            == [{"Key": "t", "Value": "v"}]
            for c, b in pairs
        ),
        5,
        "the tags",
    )
    rs3.copy_object(Bucket=REP, Key="basic/copy", CopySource={"Bucket": REP, "Key": "basic/obj"})
    until(lambda: all(_etag_on(c, b, "basic/copy") == put["ETag"] for c, b in pairs), 5, "the copy")
    rs3.delete_object(Bucket=REP, Key="basic/obj")
    until(lambda: all(_etag_on(c, b, "basic/obj") is None for c, b in pairs), 5, "the delete")
    listed = rs3.list_objects_v2(Bucket=REP, Prefix="basic/")
    assert [o["Key"] for o in listed["Contents"]] == ["basic/copy"]


def test_put__latency_over_single_target(rs3: Any) -> None:
    """Measured, not asserted tightly: a replicate PUT waits for the 2nd-fastest of 3 vendors."""
    body = os.urandom(16_384)

    def median(bucket: str) -> float:
        times = []
        for i in range(40):
            start = time.perf_counter()
            rs3.put_object(Bucket=bucket, Key=f"lat/{i}", Body=body)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    single, replicated = median(SGL), median(REP)
    print(f"PUT 16 KiB median: single {single:.1f} ms, replicate(3, quorum 2) {replicated:.1f} ms")
    assert replicated < single * 5 + 50


def test_read_failover__preferred_target_killed(
    rs3: Any, servers: list[SeaweedServer], direct: list[Any], rds: Any
) -> None:
    keys = [f"fo/{i}" for i in range(10)]
    for k in keys:
        rs3.put_object(Bucket=REP, Key=k, Body=k.encode())
    _kill(servers[1])  # w2: the node's preferred (region) target
    try:
        for k in keys:
            assert rs3.get_object(Bucket=REP, Key=k)["Body"].read() == k.encode()
            assert rs3.head_object(Bucket=REP, Key=k)["ContentLength"] == len(k)
        listed = rs3.list_objects_v2(Bucket=REP, Prefix="fo/")
        assert [o["Key"] for o in listed["Contents"]] == keys
        # A body of many chunks while one target refuses: its tee reader is released at once,
        # so the others are not held up (the stall timeout is 30 s). 8 MiB is many times what
        # the tee queues per target; every second of this outage also delays the repair below
        # (each failed breaker probe doubles the wait for the next one).
        big = os.urandom(8 * 1024 * 1024 + 5)
        start = time.monotonic()
        rs3.put_object(Bucket=REP, Key="fo/big", Body=big)
        assert time.monotonic() - start < 5
        assert rs3.get_object(Bucket=REP, Key="fo/big")["Body"].read() == big
    finally:
        _restart(servers[1])
    until(lambda: _drained(rds), 30, "the repair queue to drain")


def test_read_repair__404_on_the_preferred_target(rs3: Any, direct: list[Any], rds: Any) -> None:
    rs3.put_object(Bucket=REP, Key="rr/obj", Body=b"repair me")
    etag = _etag_on(direct[0], BUCKETS[0], "rr/obj")
    direct[1].delete_object(Bucket=BUCKETS[1], Key="rr/obj")  # lost on w2, behind our back
    got = rs3.get_object(Bucket=REP, Key="rr/obj")
    assert got["Body"].read() == b"repair me"
    took = until(lambda: _etag_on(direct[1], BUCKETS[1], "rr/obj") == etag, 20, "the read repair")
    print(f"read repair landed {took * 1000:.0f} ms after the GET")
    until(lambda: _drained(rds), 20, "the repair queue to drain")


def test_quorum_not_met__503_then_the_written_target_is_repaired_everywhere(
    rs3: Any, servers: list[SeaweedServer], direct: list[Any], rds: Any
) -> None:
    servers[1].pause()
    servers[2].pause()
    try:
        with pytest.raises(ClientError) as err:
            rs3.put_object(Bucket=REP, Key="q/obj", Body=b"only one")
        assert _status(err) == 503
        assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert direct[0].get_object(Bucket=BUCKETS[0], Key="q/obj")["Body"].read() == b"only one"
        # The object w1 kept is readable meanwhile: no 5xx while a healthy target holds it.
        assert rs3.get_object(Bucket=REP, Key="q/obj")["Body"].read() == b"only one"
    finally:
        servers[1].resume()
        servers[2].resume()
    took = until(lambda: _drained(rds), 30, "the repair queue to drain")
    assert all(
        c.get_object(Bucket=b, Key="q/obj")["Body"].read() == b"only one"
        for c, b in zip(direct, BUCKETS, strict=True)
    )
    print(f"sub-quorum write converged {took:.2f} s after the vendors resumed")


def test_multipart__lands_on_all_targets(rs3: Any, direct: list[Any]) -> None:
    key = "mp/big.bin"
    part1, part2 = os.urandom(5 * 1024 * 1024), os.urandom(4321)
    upload_id = rs3.create_multipart_upload(Bucket=REP, Key=key)["UploadId"]
    listed = rs3.list_multipart_uploads(Bucket=REP, Prefix="mp/")
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [(key, upload_id)]
    e1 = rs3.upload_part(Bucket=REP, Key=key, UploadId=upload_id, PartNumber=1, Body=part1)["ETag"]
    e2 = rs3.upload_part(Bucket=REP, Key=key, UploadId=upload_id, PartNumber=2, Body=part2)["ETag"]
    parts = rs3.list_parts(Bucket=REP, Key=key, UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part1)), (2, len(part2))]
    done = rs3.complete_multipart_upload(
        Bucket=REP,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert done["ETag"].endswith('-2"')
    pairs = list(zip(direct, BUCKETS, strict=True))
    until(lambda: all(_etag_on(c, b, key) for c, b in pairs), 5, "the completion")
    for client, bucket in pairs:
        got = client.get_object(Bucket=bucket, Key=key)
        assert got["ETag"] == done["ETag"]
        assert got["Body"].read() == part1 + part2
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Lost on w2 behind our back: the read repair copies it part by part, so the ETag (MD5 of
    # the part MD5s on S3-compatible vendors) is the same there again.
    direct[1].delete_object(Bucket=BUCKETS[1], Key=key)
    assert rs3.get_object(Bucket=REP, Key=key)["Body"].read() == part1 + part2
    until(lambda: _etag_on(direct[1], BUCKETS[1], key) == done["ETag"], 10, "the multipart repair")
    assert direct[1].get_object(Bucket=BUCKETS[1], Key=key)["Body"].read() == part1 + part2
    aborted = rs3.create_multipart_upload(Bucket=REP, Key="mp/aborted")["UploadId"]
    rs3.abort_multipart_upload(Bucket=REP, Key="mp/aborted", UploadId=aborted)
    for client, bucket in zip(direct, BUCKETS, strict=True):
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as err:
        rs3.abort_multipart_upload(Bucket=REP, Key="mp/x", UploadId="not-ours")
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"


def test_cache__second_get_is_a_hit(rs3: Any) -> None:
    data = os.urandom(200_000)
    rs3.put_object(Bucket=REP, Key="cache/obj", Body=data)
    first = rs3.get_object(Bucket=REP, Key="cache/obj")
    assert first["Body"].read() == data
    assert first["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "miss"
    second = rs3.get_object(Bucket=REP, Key="cache/obj")
    assert second["Body"].read() == data
    assert second["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "hit"


# -- write-heavy runs with a vendor outage ------------------------------------------------------


def _heavy_run(
    rs3: Any,
    prefix: str,
    outage: Callable[[], None],
    readable: list[str],
) -> tuple[list[str], list[str], list[str]]:
    """200 PUTs and 40 deletes from 8 threads; `outage()` runs after the first 60 PUTs. Reads of
    `readable` keys (written before the run) go on throughout. Returns (failures, live keys,
    deleted keys)."""
    keys = [f"{prefix}/{i:03d}" for i in range(200)]
    failures: list[str] = []
    lock = threading.Lock()
    started = threading.Event()
    done = threading.Event()

    def put(i: int) -> None:
        if i == 60:
            started.set()
        try:
            rs3.put_object(Bucket=REP, Key=keys[i], Body=keys[i].encode() * 10)
        except ClientError as err:
            with lock:
                failures.append(f"PUT {keys[i]}: {_status(err)}")

    def delete(i: int) -> None:
        try:
            rs3.delete_object(Bucket=REP, Key=keys[i])
        except ClientError as err:
            with lock:
                failures.append(f"DELETE {keys[i]}: {_status(err)}")

    def reader() -> None:
        n = 0
        while not done.is_set():
            k = readable[n % len(readable)]
            n += 1
            try:
                body = rs3.get_object(Bucket=REP, Key=k)["Body"].read()
                assert body == k.encode()
            except ClientError as err:
                with lock:
                    failures.append(f"GET {k}: {_status(err)}")

    with ThreadPoolExecutor(10) as pool:
        readers = [pool.submit(reader) for _ in range(2)]
        with ThreadPoolExecutor(8) as writers:
            futures = [writers.submit(put, i) for i in range(200)]
            started.wait(60)
            outage()
            for f in futures:
                f.result()
            deletes = [writers.submit(delete, i) for i in range(0, 200, 5)]
            for f in deletes:
                f.result()
        done.set()
        for r in readers:
            r.result()
    deleted = keys[0:200:5]
    return failures, [k for k in keys if k not in deleted], deleted


def _converge(direct: list[Any], rds: Any, prefix: str) -> float:
    """Wait until the queue is empty and all three listings agree; on timeout say what differs."""
    try:
        return until(lambda: _drained(rds) and _converged(direct, prefix), 45, "convergence")
    except AssertionError:
        listings = [_listing(c, b, prefix) for c, b in zip(direct, BUCKETS, strict=True)]
        keys = sorted(set().union(*listings))
        diff = {
            k: [x.get(k) for x in listings]
            for k in keys
            if len({str(x.get(k)) for x in listings}) > 1
        }
        raise AssertionError(
            f"not converged: queue {int(rds.xlen(STREAM))}, differing keys {diff}"
        ) from None


def _check_identical(direct: list[Any], prefix: str, live: list[str]) -> None:
    listings = [_listing(c, b, prefix + "/") for c, b in zip(direct, BUCKETS, strict=True)]
    assert sorted(listings[0]) == sorted(live)
    assert listings[0] == listings[1] == listings[2]


def _seed(rs3: Any, prefix: str) -> list[str]:
    readable = [f"{prefix}-r/{i}" for i in range(5)]
    for k in readable:
        rs3.put_object(Bucket=REP, Key=k, Body=k.encode())
    return readable


def test_write_heavy__sigkill_outage__all_writes_succeed_and_repairs_converge(
    gw: GatewayProcess, rs3: Any, servers: list[SeaweedServer], direct: list[Any], rds: Any
) -> None:
    readable = _seed(rs3, "kill")
    victim = servers[2]
    failed = f'outcome="failed",pbucket="{REP}"'
    failed_before = max(0.0, _metric(gw, "pcache_replicate_repairs_total", failed))
    start = time.monotonic()
    try:
        failures, live, _ = _heavy_run(rs3, "kill", lambda: _kill(victim), readable)
        run = time.monotonic() - start
        assert failures == []
        until(lambda: int(rds.xlen(STREAM)) > 0, 10, "w3's missed writes to be queued")
        queued = int(rds.xlen(STREAM))
        # Entries for a dead target back off (and wait out its open breaker): a handful of
        # attempts each, not a spin.
        attempts = _metric(gw, "pcache_replicate_repairs_total", failed) - failed_before
        assert attempts <= 6 * queued
    finally:
        _restart(victim)
    took = _converge(direct, rds, "kill/")
    _check_identical(direct, "kill", live)
    print(
        f"SIGKILL run: 200 PUTs + 40 DELETEs in {run:.1f} s; {queued} entries queued, "
        f"{attempts:.0f} failed repair attempts while down; drained {took:.1f} s after restart"
    )


def test_write_heavy__sigstop_outage__all_writes_succeed_and_repairs_converge(
    rs3: Any, servers: list[SeaweedServer], direct: list[Any], rds: Any
) -> None:
    readable = _seed(rs3, "stop")
    victim = servers[1]  # w2: also the preferred read target, so reads fail over from a hang
    start = time.monotonic()
    try:
        failures, live, _ = _heavy_run(rs3, "stop", victim.pause, readable)
        run = time.monotonic() - start
        assert failures == []
        # Writes to the hung w2 end by timeout after their quorum answered: then they queue.
        until(lambda: int(rds.xlen(STREAM)) > 0, 10, "w2's missed writes to be queued")
    finally:
        victim.resume()
    took = _converge(direct, rds, "stop/")
    _check_identical(direct, "stop", live)
    print(
        f"SIGSTOP run: 200 PUTs + 40 DELETEs in {run:.1f} s; "
        f"repairs drained {took:.1f} s after resume"
    )


def test_metrics__repair_queue_and_outcomes_per_pbucket(
    gw: GatewayProcess, rs3: Any, direct: list[Any], rds: Any
) -> None:
    done = f'outcome="done",pbucket="{REP}"'
    before = max(0.0, _metric(gw, "pcache_replicate_repairs_total", done))
    rs3.put_object(Bucket=REP, Key="metrics/obj", Body=b"m")
    until(lambda: _etag_on(direct[1], BUCKETS[1], "metrics/obj") is not None, 5, "the PUT")
    direct[1].delete_object(Bucket=BUCKETS[1], Key="metrics/obj")
    assert rs3.get_object(Bucket=REP, Key="metrics/obj")["Body"].read() == b"m"  # read repair
    until(
        lambda: _metric(gw, "pcache_replicate_repairs_total", done) > before,
        10,
        "a counted repair",
    )
    # The queue gauge is refreshed by the worker's scan ([repair] scan_interval).
    until(lambda: _drained(rds), 10, "the repair queue to drain")
    until(
        lambda: _metric(gw, "pcache_replicate_repair_queue", f'pbucket="{REP}"') == 0,
        15,
        "the queue gauge to read 0",
    )


# -- two regions ----------------------------------------------------------------------------


def test_two_regions__reads_stay_near_and_fail_over_far_without_5xx(
    rs3: Any, servers: list[SeaweedServer], proxies: dict[str, FaultProxy]
) -> None:
    near, far = proxies["n2"], (proxies["f1"], proxies["f3"])
    keys = [f"region/{i}" for i in range(8)]
    for k in keys:
        rs3.put_object(Bucket=REG, Key=k, Body=k.encode())  # quorum: all three regions' copies

    def read(key: str) -> None:
        got = rs3.get_object(Bucket=REG, Key=key)  # a 5xx raises here
        assert got["Body"].read() == key.encode()
        # A cache miss: this read reached a vendor (writes go around the cache here).
        assert got["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "miss"

    for p in proxies.values():
        p.reset_counters()
    for k in keys[:4]:
        read(k)
    assert near.requests >= 4
    assert [p.requests for p in far] == [0, 0], "a far target served a read the near one had"
    print(f"two regions: {near.requests} requests to the near target, none to the far ones")

    _kill(servers[1])  # the near region goes away
    try:
        for k in keys[4:]:
            read(k)
        listed = rs3.list_objects_v2(Bucket=REG, Prefix="region/")
        assert [o["Key"] for o in listed["Contents"]] == keys
        failed_over = [p.requests for p in far]
        assert sum(failed_over) >= 5
    finally:
        _restart(servers[1])
    print(f"two regions: far proxies saw {failed_over} requests once the near target died")
