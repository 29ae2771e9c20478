"""Faults around the block cache, end to end (security.md §7.8): real gateway processes whose
SeaweedFS vendor sits behind a counting FaultProxy, the session's Redis, and tier directories the
tests inspect (and break) directly: a kill -9 mid-fill, a tier on a tiny tmpfs, a vendor that
resets every connection, the metadata in Redis wiped, two tiers moving blocks between them, and
the gateway's memory under slow clients."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from cache.block_file import HEADER_SIZE, TMP_DIR, CorruptBlock, check
from tests.integration.test_admin_api import AdminApi
from tests.rig.cachegw import BLOCK, SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import IamRig, error_code, until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer
from tests.rig.tmpfs import mounted_tmpfs

MIB = 1024 * 1024
FILE = HEADER_SIZE + BLOCK  # one full block's file on disk


# -- helpers ------------------------------------------------------------------------------------


def tier_config(
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_url: str,
    tiers: Sequence[tuple[str, Path, int]],
    **kw: Any,
) -> str:
    """`far_config` with these (name, dir, capacity) tiers, fastest first, instead of its one."""
    base = far_config(far, seaweed, redis_url, tiers[0][1], **kw)
    head = base.split("[[cache.tier]]")[0]
    return head + "".join(
        f'\n[[cache.tier]]\nname = "{name}"\ndir = "{path}"\ncapacity = {capacity}\n'
        for name, path, capacity in tiers
    )


def block_files(tier: Path) -> dict[str, Path]:
    """Published block files by name (`<tier>/<id[:2]>/<id>`), nothing from `tmp/`."""
    if not tier.exists():
        return {}
    return {
        p.name: p
        for fan in tier.iterdir()
        if fan.is_dir() and fan.name != TMP_DIR
        for p in fan.iterdir()
        if p.is_file()
    }


def tmp_files(tier: Path) -> list[Path]:
    tmp = tier / TMP_DIR
    return sorted(tmp.iterdir()) if tmp.exists() else []


def _get(client: Any, bucket: str, key: str, **kw: Any) -> tuple[bytes, dict[str, str]]:
    out = client.get_object(Bucket=bucket, Key=key, **kw)
    return out["Body"].read(), out["ResponseMetadata"]["HTTPHeaders"]


def _status(err: ClientError) -> int:
    return int(err.response["ResponseMetadata"]["HTTPStatusCode"])


def admin(gw: GatewayProcess) -> AdminApi:
    return AdminApi(gw.endpoint, gw.access_key, gw.secret_key, "root")


def settled_status(gw: GatewayProcess) -> Any:
    """`GET /admin/v1/cache`: it answers once the node's in-flight tier writes have landed."""
    return admin(gw).ok("GET", "/admin/v1/cache")


def scrape(gw: GatewayProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(gw.endpoint + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def new_bucket(client: Any, prefix: str = "cf") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def _proxy_passes(far: FaultProxy) -> Iterator[None]:
    """Every test starts and ends with a healthy, unthrottled vendor."""
    far.mode, far.bandwidth, far.latency_down_ms = "pass", None, 0
    yield
    far.mode, far.bandwidth, far.latency_down_ms = "pass", None, 0
    far.drop_connections()


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    """One far_config node (64 KiB blocks, one 64 MiB tier) for the tests that need no special
    tier layout."""
    work = tmp_path_factory.mktemp("cachefaults")
    config = far_config(far, seaweed, redis_server, work / "tier")
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


# -- FLT-13: kill -9 during a fill ----------------------------------------------------------------


def test_crash__kill9_mid_fill_leaves_only_verified_blocks_and_restart_refills(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str, s3_direct: Any
) -> None:
    """FLT-13: `kill -9` during a cache fill, restart on the same tier → no `.tmp` left, every
    block file verifies, the next GET is byte-exact, and once refilled it is served with the
    vendor unreachable."""
    tier = tmp_path / "tier"
    config = far_config(far, seaweed, redis_server, tier)
    data = os.urandom(24 * BLOCK + 77)
    first = GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY).start()
    try:
        client = first.client()
        bucket = new_bucket(client)
        client.put_object(Bucket=bucket, Key="big", Body=data)
        far.bandwidth = 256 * 1024  # ~0.25 s per block per connection: the fill takes seconds
        outcome: list[object] = []

        def reader() -> None:
            try:
                outcome.append(first.client().get_object(Bucket=bucket, Key="big")["Body"].read())
            except Exception as error:  # the gateway dies under it
                outcome.append(error)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        until(lambda: len(block_files(tier)) >= 2, timeout=20)  # the fill is under way
        assert first.proc is not None
        first.proc.kill()  # SIGKILL: no cleanup of any kind
        first.proc.wait(10)
        thread.join(20)
        assert outcome and not isinstance(outcome[0], bytes)  # the read really was cut short
        left = block_files(tier)
        assert 2 <= len(left) < 25
    finally:
        first.stop()
        far.bandwidth = None
    # What a power cut adds to a kill (no fsync by default): a published block whose data
    # never fully reached the disk, and a half-written temporary file.
    torn = sorted(left.values())[0]
    os.truncate(torn, torn.stat().st_size // 2)
    (tier / TMP_DIR / f"{'0' * 32}.tmp").write_bytes(b"half a block")

    second = GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY).start()
    try:
        assert tmp_files(tier) == []
        assert not torn.exists()  # discarded when the tier was opened
        for path in block_files(tier).values():  # whatever survived the crash is intact
            try:
                check(path)
            except CorruptBlock as error:  # pragma: no cover - the failure being tested
                pytest.fail(f"torn block file survived a restart: {error}")
        client = second.client()
        expected = s3_direct.get_object(Bucket=bucket, Key="big")["Body"].read()
        assert expected == data
        body, _ = _get(client, bucket, "big")
        assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()
        status = settled_status(second)
        assert status["tiers"][0]["blocks"] == 25
        far.mode = "reset"
        far.drop_connections()
        far.reset_counters()
        body, headers = _get(client, bucket, "big")
        assert body == expected and headers["x-pcache-cache"] == "hit"
        assert far.requests == 0
        # An indexed block whose file vanished behind the node's back is a miss, refetched.
        far.mode = "pass"
        sorted(block_files(tier).values())[0].unlink()
        far.reset_counters()
        body, _ = _get(client, bucket, "big")
        assert body == expected and far.requests == 1
    finally:
        second.stop()


# -- FLT-11: the tier's file system fills before its capacity --------------------------------------


@pytest.fixture
def tmpfs16(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tmpfs16", "16m") as mount:
        yield mount


def test_tier_full__tmpfs_fills_before_capacity_and_every_get_is_still_exact(
    tmp_path: Path, tmpfs16: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """FLT-11: a tier on a 16 MiB tmpfs with a 64 MiB capacity. GETs of 24 MiB of objects →
    all 200 byte-exact, no `.tmp` left, the file system keeps free space (the watermark), and
    the node reports a used size within the tmpfs."""
    tier = tmpfs16 / "tier"
    config = tier_config(far, seaweed, redis_server, [("ram", tier, 64 * MIB)])
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        objects = {f"o{n}": os.urandom(2 * MIB + n) for n in range(12)}
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)
        for _ in range(2):  # second round: a mix of hits and refills after eviction
            for key, body in objects.items():
                got, _ = _get(client, bucket, key)
                assert got == body, key
        status = settled_status(gw)
        fs = os.statvfs(tmpfs16)
        free = fs.f_bavail * fs.f_frsize
        assert tmp_files(tier) == []
        assert free >= FILE, f"the tier filled its file system: {free} bytes free"
        used = status["tiers"][0]["used"]
        assert 0 < used <= 16 * MIB
        assert used == sum(p.stat().st_size for p in block_files(tier).values())
        assert status["tiers"][0]["in_service"] is True
        assert "Traceback" not in gw.log_text()


def test_resident__small_blocks_on_tmpfs_serve_exact_ranges_without_their_files(
    tmp_path: Path, tmpfs16: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """Blocks of at most 64 KiB on a tmpfs tier stay in the node's memory once read: with the
    vendor cut off and the block files deleted behind the tier's back, whole reads and ranges
    (inside one block, and across blocks) are still hits and byte-exact."""
    tier = tmpfs16 / "tier"
    config = tier_config(far, seaweed, redis_server, [("ram", tier, 8 * MIB)])
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        body = os.urandom(3 * BLOCK + 100)
        client.put_object(Bucket=bucket, Key="r", Body=body)
        assert _get(client, bucket, "r")[0] == body
        settled_status(gw)
        assert _get(client, bucket, "r")[1]["x-pcache-cache"] == "hit"  # now resident
        far.mode = "reset"
        far.drop_connections()
        far.reset_counters()
        for path in block_files(tier).values():
            path.unlink()
        ranges = [(0, 0), (5, 99), (BLOCK - 1, BLOCK), (BLOCK + 7, 2 * BLOCK - 3)]
        ranges += [(2 * BLOCK, 3 * BLOCK + 99), (3 * BLOCK + 50, 3 * BLOCK + 99), (10, 3 * BLOCK)]
        for first, last in ranges:
            got, headers = _get(client, bucket, "r", Range=f"bytes={first}-{last}")
            assert got == body[first : last + 1], (first, last)
            assert headers["x-pcache-cache"] == "hit"
        assert _get(client, bucket, "r")[0] == body
        assert far.requests == 0


def test_tier_capacity__one_mib_tier_never_holds_more(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """FLT-11 (capacity): a 1 MiB tier after many GETs of 3 MiB of objects → the block files in
    its directory add up to at most 1 MiB, and every GET is byte-exact."""
    tier = tmp_path / "tier"
    config = tier_config(far, seaweed, redis_server, [("disk", tier, MIB)])
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        objects = {f"o{n}": os.urandom(5 * BLOCK + n) for n in range(10)}
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)
        for key in [*objects, *reversed(objects), *objects]:
            assert _get(client, bucket, key)[0] == objects[key]
            assert _get(client, bucket, key, Range="bytes=100-70000")[0] == objects[key][100:70001]
        status = settled_status(gw)
        on_disk = sum(p.stat().st_size for p in block_files(tier).values())
        assert 0 < on_disk <= MIB
        assert status["tiers"][0]["used"] == on_disk
        assert status["tiers"][0]["evictions"] > 0
        assert tmp_files(tier) == []


# -- FLT-03: errors reach every waiter and are not remembered --------------------------------------


def test_vendor_reset__concurrent_cold_gets_all_fail_then_recover(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """FLT-03: the vendor resets the connection of 20 concurrent cold GETs (leader and
    followers) → every one is a 503; with the vendor back, the very next GET succeeds (the
    error was not cached) and 20 concurrent GETs are byte-exact."""
    config = far_config(far, seaweed, redis_server, tmp_path / "tier")
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        data = os.urandom(3 * BLOCK + 5)
        client.put_object(Bucket=bucket, Key="cold", Body=data)
        far.mode = "reset"
        far.drop_connections()
        far.reset_counters()

        def cold_get(_: int = 0) -> int:
            try:
                got = gw.client().get_object(Bucket=bucket, Key="cold")["Body"].read()
            except ClientError as err:
                return _status(err)
            return 200 if got == data else -1

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(cold_get, range(20)))
        assert statuses == [503] * 20
        assert far.connections >= 1  # the vendor really was asked (and reset us)
        far.mode = "pass"
        assert cold_get() == 200
        with ThreadPoolExecutor(20) as pool:
            assert list(pool.map(cold_get, range(20))) == [200] * 20


# -- FLT-05: vendor down, cache still enforces auth ------------------------------------------------


def test_vendor_down__fresh_cached_object_is_served_and_auth_still_enforced(
    node: GatewayProcess, far: FaultProxy, redis_server: str
) -> None:
    """FLT-05: vendor unreachable: a fresh cached object → 200 from the cache for the owner,
    still 403 AccessDenied for bob (no rights) and for an anonymous caller."""
    client = node.client()
    bucket = new_bucket(client)
    data = os.urandom(2 * BLOCK + 9)
    client.put_object(Bucket=bucket, Key="k", Body=data)
    assert _get(client, bucket, "k")[0] == data
    settled_status(node)
    rig = IamRig(redis_server, node.endpoint)
    try:
        _, ak, sk = rig.user(prefix="bob")
        bob = rig.client(ak, sk)
        until(lambda: error_code(bob.list_buckets) != "InvalidAccessKeyId")
        far.mode = "reset"
        far.drop_connections()
        far.reset_counters()
        body, headers = _get(client, bucket, "k")
        assert body == data and headers["x-pcache-cache"] == "hit"
        assert error_code(lambda: bob.get_object(Bucket=bucket, Key="k")) == "AccessDenied"
        assert error_code(lambda: bob.head_object(Bucket=bucket, Key="k")) == "403"
        request = urllib.request.Request(f"{node.endpoint}/{bucket}/k")
        with pytest.raises(urllib.error.HTTPError) as anon:
            urllib.request.urlopen(request, timeout=10)
        assert anon.value.code == 403
        assert far.requests == 0
    finally:
        rig.close()


def test_vendor_down__stale_serving_is_counted_in_metrics(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """FLT-05 (metric): max_age 0 with stale_if_error on and the vendor unreachable → the stale
    object is served and a /metrics counter of stale serving goes up, so grace cannot hide an
    outage."""
    config = far_config(
        far, seaweed, redis_server, tmp_path / "tier", max_age=0, stale_if_error=600
    )
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        client.put_object(Bucket=bucket, Key="k", Body=b"S" * BLOCK)
        assert _get(client, bucket, "k")[0] == b"S" * BLOCK

        def stale_total() -> float:
            return sum(v for (name, _), v in scrape(gw).items() if "stale" in name)

        before = stale_total()
        far.mode = "reset"
        far.drop_connections()
        assert _get(client, bucket, "k")[0] == b"S" * BLOCK
        assert _get(client, bucket, "k")[0] == b"S" * BLOCK
        assert stale_total() - before == 2


# -- FLT-16: the metadata in Redis is lost ---------------------------------------------------------


def _delete_cache_keys(redis_url: str) -> int:
    """SCAN + DEL of this cluster's cache keys (`pc:c:*`): not FLUSHALL, IAM data stays."""
    client = redis.Redis.from_url(redis_url)
    try:
        deleted = 0
        for name in client.scan_iter(match="pc:c:*", count=1000):
            deleted += int(client.delete(name))
        return deleted
    finally:
        client.close()


def test_redis_flushed__cache_keys_lost_reads_stay_exact(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str, s3_direct: Any
) -> None:
    """FLT-16: every `pc:c:*` key deleted from Redis (the cache's part of a FLUSHALL) → reads
    stay byte-exact: the running node answers one whole version or the other, never a mix; a
    node restarted on the same tier (no metadata anywhere, the old version's blocks still on
    disk) serves an object changed behind its back from the vendor, never from the orphaned
    blocks (they are named by the old ETag), re-caches the unchanged one, and then serves both
    with the vendor unreachable."""
    tier = tmp_path / "tier"
    config = far_config(far, seaweed, redis_server, tier)
    old, new = os.urandom(3 * BLOCK), os.urandom(3 * BLOCK)  # same size: only bytes differ
    same = os.urandom(2 * BLOCK + 1)
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        client.put_object(Bucket=bucket, Key="changed", Body=old)
        client.put_object(Bucket=bucket, Key="same", Body=same)
        assert _get(client, bucket, "changed")[0] == old
        assert _get(client, bucket, "same")[0] == same
        settled_status(gw)
        s3_direct.put_object(Bucket=bucket, Key="changed", Body=new)  # out of band
        assert _delete_cache_keys(redis_server) >= 2
        for _ in range(3):
            assert _get(client, bucket, "changed")[0] in (old, new)
            assert _get(client, bucket, "same")[0] == same
    orphans = set(block_files(tier))
    assert len(orphans) >= 5  # the old version's blocks are still there
    _delete_cache_keys(redis_server)  # and whatever the last reads put back
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        body, headers = _get(client, bucket, "changed")
        assert body == new and headers["x-pcache-cache"] == "miss"
        assert _get(client, bucket, "same")[0] == same
        settled_status(gw)
        far.mode = "reset"
        far.drop_connections()
        far.reset_counters()
        for key, expected in (("changed", new), ("same", same)):
            got, headers = _get(client, bucket, key)
            assert got == expected and headers["x-pcache-cache"] == "hit"
        assert far.requests == 0


# -- CAC-09 (bit rot): a flipped byte that leaves the file's metadata alone ---------------------


def test_bit_rot__flipped_byte_with_unchanged_mtime_is_never_served(
    node: GatewayProcess, far: FaultProxy
) -> None:
    """CAC-09 / §4 "verify a checksum on every cached read": a byte of a cached block on a disk
    tier flips on the medium (same inode, size and mtime: nothing wrote through the file
    system) after the block has been served and checked → the next GET is still byte-exact
    (the CRC catches it and the block is refetched and cached again)."""
    client = node.client()
    bucket = new_bucket(client)
    data = os.urandom(2 * BLOCK)
    tier = node.workdir / "tier"
    before = set(block_files(tier))
    client.put_object(Bucket=bucket, Key="rot", Body=data)
    assert _get(client, bucket, "rot")[0] == data
    settled_status(node)
    assert _get(client, bucket, "rot")[0] == data  # checked once, and trusted from now on
    new = [p for name, p in block_files(tier).items() if name not in before]
    assert len(new) == 2
    victim = new[0]
    status = victim.stat()
    with open(victim, "r+b") as handle:
        handle.seek(HEADER_SIZE + 1000)
        byte = handle.read(1)
        handle.seek(HEADER_SIZE + 1000)
        handle.write(bytes([byte[0] ^ 0x01]))
    os.utime(victim, ns=(status.st_atime_ns, status.st_mtime_ns))
    after = victim.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
    )
    # A ranged read: no whole-object checksum header that boto3 could check the bytes against
    # (with one, boto3 raises FlexibleChecksumError on the corrupt body: the client, not the
    # cache, is then the only line of defence).
    body, _ = _get(client, bucket, "rot", Range=f"bytes=0-{len(data) - 2}")
    assert hashlib.sha256(body).digest() == hashlib.sha256(data[:-1]).digest()
    settled_status(node)
    far.reset_counters()
    assert _get(client, bucket, "rot")[0] == data
    assert far.requests == 0  # the refetched block was cached again


# -- promotion and demotion between two tiers ----------------------------------------------


@pytest.fixture(params=["one-fs", "ram-on-tmpfs"])
def ram_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The fast tier's directory: beside the slow one (moves are renames and links), or on
    its own tmpfs (moves are copies across file systems, reads of ram are inline)."""
    if request.param == "one-fs":
        yield tmp_path / "ram"
        return
    mount = tmp_path / "ramfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", os.fspath(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount / "ram"
    finally:
        subprocess.run(["umount", "-l", os.fspath(mount)], check=False)


def test_tiers__eviction_demotes_and_rereads_promote(
    tmp_path: Path, ram_dir: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """Two tiers (ram: 4 blocks, disk: 32 blocks; admission to ram, promotion after 2 hits by
    default): filling ram demotes its older blocks into disk's directory; reading a demoted
    object again moves its blocks back up into ram's directory; every GET byte-exact."""
    ram, disk = ram_dir, tmp_path / "disk"
    config = tier_config(
        far, seaweed, redis_server, [("ram", ram, 4 * FILE), ("disk", disk, 32 * FILE)]
    )
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        a, b = os.urandom(4 * BLOCK), os.urandom(4 * BLOCK)
        client.put_object(Bucket=bucket, Key="a", Body=a)
        client.put_object(Bucket=bucket, Key="b", Body=b)
        assert _get(client, bucket, "a")[0] == a
        settled_status(gw)
        a_blocks = set(block_files(ram))
        assert len(a_blocks) == 4 and block_files(disk) == {}
        assert _get(client, bucket, "b")[0] == b
        settled_status(gw)
        b_blocks = set(block_files(ram))
        assert len(b_blocks) == 4 and not b_blocks & a_blocks
        assert set(block_files(disk)) == a_blocks  # demoted, not dropped
        for _ in range(3):  # hits in the lower tier promote a's blocks
            assert _get(client, bucket, "a")[0] == a
        status = settled_status(gw)
        assert set(block_files(ram)) == a_blocks
        assert set(block_files(disk)) == b_blocks
        assert status["tiers"][0]["promotions"] == 4
        assert status["tiers"][1]["demotions"] == 8
        far.mode = "reset"
        far.drop_connections()
        far.reset_counters()
        assert _get(client, bucket, "a")[0] == a
        assert _get(client, bucket, "b")[0] == b
        assert far.requests == 0


def test_tiers__admission_and_promotion_are_configurable(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    """Admission into the slower tier and promotion after one hit, set in the config file:
    a first read lands in disk, the next read moves it into ram."""
    ram, disk = tmp_path / "ram", tmp_path / "disk"
    config = tier_config(
        far, seaweed, redis_server, [("ram", ram, 8 * FILE), ("disk", disk, 32 * FILE)]
    ).replace("[cache]\n", "[cache]\nadmission_tier = 'disk'\npromote_after = 1\n", 1)
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        bucket = new_bucket(client)
        data = os.urandom(2 * BLOCK)
        client.put_object(Bucket=bucket, Key="k", Body=data)
        assert _get(client, bucket, "k")[0] == data
        settled_status(gw)
        assert len(block_files(disk)) == 2 and block_files(ram) == {}
        assert _get(client, bucket, "k")[0] == data
        settled_status(gw)
        assert len(block_files(ram)) == 2 and block_files(disk) == {}


# -- FLT-08 / FLT-09 (lite): bounded memory under slow clients ------------------------------------


def test_memory__slow_clients_of_big_objects_keep_rss_bounded(
    node: GatewayProcess, far: FaultProxy, s3_direct: Any
) -> None:
    """FLT-08/09 lite: a bandwidth-capped vendor and 10 parallel GETs of 32 MiB objects (five
    objects, two readers each) whose clients read 1 MiB, stall, then read on slowly → the
    gateway's RSS stays under 200 MiB (it reads no further ahead of its clients than its fetch
    window) and the bytes that arrive are exact."""
    client = node.client()
    bucket = new_bucket(client)
    size = 32 * MIB
    payload = os.urandom(size)
    s3_direct.put_object(Bucket=bucket, Key="m0", Body=payload)
    for n in range(1, 5):  # five objects (five sets of blocks), one upload
        s3_direct.copy_object(
            Bucket=bucket, Key=f"m{n}", CopySource={"Bucket": bucket, "Key": "m0"}
        )
    keys = [f"m{n % 5}" for n in range(10)]  # ten GETs, two per object
    clients = [node.client() for _ in keys]
    assert node.proc is not None
    pid = node.proc.pid
    far.bandwidth = 8 * MIB  # per connection and direction
    started = threading.Barrier(len(keys) + 1)
    release = threading.Event()
    prefixes: dict[int, bytes] = {}
    errors: list[BaseException] = []
    read_per_client = 3 * MIB

    def slow_reader(n: int) -> None:
        try:
            body = clients[n].get_object(Bucket=bucket, Key=keys[n])["Body"]
            got = bytearray(body.read(MIB))
            started.wait(30)
            release.wait(30)  # the client stalls: it reads nothing for a while
            while len(got) < read_per_client:  # then reads on, in small pieces
                got += body.read(64 * 1024)
            body.close()  # and goes away before the end
            prefixes[n] = bytes(got)
        except BaseException as error:
            errors.append(error)
            started.abort()

    threads = [threading.Thread(target=slow_reader, args=(n,)) for n in range(len(keys))]
    peak = rss_bytes(pid)
    stalled_samples = 0
    try:
        for thread in threads:
            thread.start()
        started.wait(30)

        def sampled_enough() -> bool:
            # A gateway that buffers the vendor's bytes grows by up to 10 x 32 MiB while its
            # clients stall, at the proxy's 8 MiB/s per connection (several per request).
            nonlocal peak, stalled_samples
            peak = max(peak, rss_bytes(pid))
            stalled_samples += 1
            return stalled_samples >= 100  # ~2 s of polls while every client stalls

        until(sampled_enough, timeout=10)
        release.set()

        def drained() -> bool:
            nonlocal peak
            peak = max(peak, rss_bytes(pid))
            return not any(thread.is_alive() for thread in threads)

        until(drained, timeout=60)
    finally:
        release.set()
        for thread in threads:
            thread.join(60)
        far.bandwidth = None
    assert errors == []
    assert peak < 200 * MIB, f"gateway RSS peaked at {peak / MIB:.0f} MiB"
    assert prefixes == {n: payload[:read_per_client] for n in range(len(keys))}
    # The gateway is still healthy and exact after its clients walked away mid-body.
    assert (
        hashlib.sha256(_get(client, bucket, "m3")[0]).digest() == hashlib.sha256(payload).digest()
    )
