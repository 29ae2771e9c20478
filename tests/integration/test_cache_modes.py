"""Per PBucket / prefix cache rules end to end: freshness modes (immutable, revalidate,
max-age), write modes (through, around), a PBucket's own block size, and tier admission and
promotion as configured, against SeaweedFS behind the counting proxy."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.rig.cachegw import SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

PB = "pc-modes"
BIG_PB = "pc-modes-big"
RULES = f"""
[[cache.rule]]
pbucket = "{PB}"
prefix = "frozen/"
freshness = "immutable"

[[cache.rule]]
pbucket = "{PB}"
prefix = "live/"
freshness = "revalidate"

[[cache.rule]]
pbucket = "{PB}"
prefix = "aged/"
freshness = "max-age=600"

[[cache.rule]]
pbucket = "{PB}"
prefix = "wt/"
freshness = "max-age=600"

[[cache.rule]]
pbucket = "{PB}"
prefix = "cold/"
write_mode = "around"

[[cache.rule]]
pbucket = "{BIG_PB}"
block_size = 131072
"""


@pytest.fixture(scope="module")
def modes_gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("modes-gw")
    # The default is to revalidate every read (max_age = 0), so each rule below shows.
    config = far_config(
        far, seaweed, redis_server, work / "tier", max_age=0, write_mode="through", tail=RULES
    )
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        for name in (PB, BIG_PB):
            client.create_bucket(Bucket=name)
        yield gw


@pytest.fixture
def ms3(modes_gw: GatewayProcess, far: FaultProxy) -> Iterator[Any]:
    far.mode = "pass"
    yield modes_gw.client()
    far.mode = "pass"


def _get(client: Any, key: str, bucket: str = PB) -> tuple[bytes, str]:
    out = client.get_object(Bucket=bucket, Key=key)
    return out["Body"].read(), out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"]


def _metric(node: GatewayProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(node.endpoint + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_freshness__immutable_prefix_never_asks_the_vendor_again(
    ms3: Any, s3_direct: Any, far: FaultProxy
) -> None:
    ms3.put_object(Bucket=PB, Key="frozen/a", Body=b"v1")
    assert _get(ms3, "frozen/a")[0] == b"v1"
    s3_direct.put_object(Bucket=PB, Key="frozen/a", Body=b"v2 behind our back")
    far.reset_counters()
    assert _get(ms3, "frozen/a") == (b"v1", "hit")
    assert far.requests == 0  # no revalidation for immutable data
    ms3.put_object(Bucket=PB, Key="frozen/a", Body=b"v3")  # a write through PCache still counts
    assert _get(ms3, "frozen/a")[0] == b"v3"


def test_freshness__revalidate_prefix_sees_an_out_of_band_change_at_once(
    ms3: Any, s3_direct: Any, far: FaultProxy
) -> None:
    ms3.put_object(Bucket=PB, Key="live/a", Body=b"v1" * 1000)
    assert _get(ms3, "live/a")[0] == b"v1" * 1000
    far.reset_counters()
    assert _get(ms3, "live/a") == (b"v1" * 1000, "hit")  # unchanged: blocks stay cached
    assert far.requests == 1  # ... after one conditional HEAD
    s3_direct.put_object(Bucket=PB, Key="live/a", Body=b"v2")
    assert _get(ms3, "live/a")[0] == b"v2"


def test_freshness__max_age_prefix_trusts_its_metadata_meanwhile(
    ms3: Any, s3_direct: Any, far: FaultProxy
) -> None:
    ms3.put_object(Bucket=PB, Key="aged/a", Body=b"v1")
    assert _get(ms3, "aged/a")[0] == b"v1"
    s3_direct.put_object(Bucket=PB, Key="aged/a", Body=b"v2")
    far.reset_counters()
    assert _get(ms3, "aged/a") == (b"v1", "hit")  # within its max-age=600
    assert far.requests == 0
    # Keys no rule covers take the node default (here: revalidate every read).
    ms3.put_object(Bucket=PB, Key="plain/a", Body=b"v1")
    assert _get(ms3, "plain/a")[0] == b"v1"
    s3_direct.put_object(Bucket=PB, Key="plain/a", Body=b"v2")
    assert _get(ms3, "plain/a")[0] == b"v2"


def test_write_through__a_put_is_readable_with_the_vendor_gone(
    ms3: Any, modes_gw: GatewayProcess, far: FaultProxy
) -> None:
    data = os.urandom(200_000)  # four 64 KiB blocks, the last one short
    before = _metric(modes_gw, "pcache_cache_write_through_total", result="admitted")
    ms3.put_object(Bucket=PB, Key="wt/a", Body=data)
    until(lambda: _metric(modes_gw, "pcache_cache_write_through_total", result="admitted") > before)
    far.mode = "reset"
    far.drop_connections()
    out = ms3.get_object(Bucket=PB, Key="wt/a")
    assert out["Body"].read() == data
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "hit"
    # The metadata is the vendor's own, from a HEAD pinned to the new ETag.
    far.mode = "pass"
    head = ms3.head_object(Bucket=PB, Key="wt/a")
    assert head["ETag"] == out["ETag"] and head["ContentLength"] == len(data)


def test_write_around__a_put_under_an_around_prefix_is_not_cached(
    ms3: Any, modes_gw: GatewayProcess, far: FaultProxy
) -> None:
    before = _metric(modes_gw, "pcache_cache_write_through_total", result="admitted")
    ms3.put_object(Bucket=PB, Key="cold/a", Body=b"x" * 1000)
    ms3.put_object(Bucket=PB, Key="wt/after-cold", Body=b"y" * 1000)
    # Admissions run in order of the writes; once the later one is in, the earlier had its turn.
    until(
        lambda: (
            _metric(modes_gw, "pcache_cache_write_through_total", result="admitted") >= before + 1
        )
    )
    far.reset_counters()
    assert _get(ms3, "wt/after-cold") == (b"y" * 1000, "hit")
    assert _get(ms3, "cold/a") == (b"x" * 1000, "miss")
    assert far.requests >= 1


def test_block_size__a_pbucket_rule_cuts_its_own_blocks(
    ms3: Any, modes_gw: GatewayProcess, far: FaultProxy
) -> None:
    tier = modes_gw.workdir / "tier"

    def block_files() -> set[Path]:
        return {p for p in tier.rglob("*") if p.is_file() and p.relative_to(tier).parts[0] != "tmp"}

    data = os.urandom(3 * 131072 + 5)  # 128 KiB blocks here: 4 of them (64 KiB elsewhere: 7)
    before = block_files()
    s3 = modes_gw.client()
    ms3.put_object(Bucket=BIG_PB, Key="k", Body=data)
    until(lambda: len(block_files() - before) == 4)
    sizes = sorted(p.stat().st_size for p in block_files() - before)
    assert sizes[-1] - sizes[0] == 131072 - 5  # three full 128 KiB blocks and a 5-byte one
    got = s3.get_object(Bucket=BIG_PB, Key="k", Range="bytes=131070-262150")
    assert got["Body"].read() == data[131070:262151]


@pytest.fixture(scope="module")
def tiered_gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    """Two tiers: a small fast one (room for 4 blocks) above a bigger one that new blocks
    enter; two hits below promote a block."""
    work = tmp_path_factory.mktemp("tiered-gw")
    tail = f'\n[[cache.tier]]\nname = "disk"\ndir = "{work / "disk"}"\ncapacity = 67108864\n'
    extra = 'admission_tier = "disk"\npromote_after = 2\n'
    config = far_config(
        far,
        seaweed,
        redis_server,
        work / "ram",
        tier_capacity=4 * (65536 + 64),  # four 64 KiB blocks with their headers
        write_mode="through",
        cache_extra=extra,
        tail=tail,
    )
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        gw.client().create_bucket(Bucket="pc-tiers")
        yield gw


def _blocks(directory: Path) -> set[str]:
    if not directory.exists():
        return set()
    return {
        p.name
        for p in directory.rglob("*")
        if p.is_file() and p.relative_to(directory).parts[0] != "tmp"
    }


def test_tiers__admitted_below_promoted_when_hot_demoted_when_crowded(
    tiered_gw: GatewayProcess, far: FaultProxy
) -> None:
    s3 = tiered_gw.client()
    ram, disk = tiered_gw.workdir / "ram", tiered_gw.workdir / "disk"
    objects = {f"o{i}": os.urandom(65536) for i in range(6)}  # one full block each
    for key, data in objects.items():
        s3.put_object(Bucket="pc-tiers", Key=key, Body=data)
    until(lambda: len(_blocks(disk)) == 6)  # written through into the admission tier
    assert _blocks(ram) == set()

    def read(key: str) -> None:
        assert s3.get_object(Bucket="pc-tiers", Key=key)["Body"].read() == objects[key]

    first = sorted(objects)[:4]
    for key in first:
        read(key)
        read(key)  # the second hit below promotes it
    until(lambda: len(_blocks(ram)) == 4)
    assert len(_blocks(disk)) == 2  # promotion moves, it does not copy
    # Two more hot objects crowd the fast tier: its oldest blocks are demoted, not dropped.
    for key in sorted(objects)[4:]:
        read(key)
        read(key)
    until(lambda: len(_blocks(ram)) == 4 and len(_blocks(disk)) == 2)
    assert len(_blocks(ram) | _blocks(disk)) == 6
    far.reset_counters()
    for key in objects:
        read(key)
    assert far.requests == 0  # every block is still somewhere on this node
