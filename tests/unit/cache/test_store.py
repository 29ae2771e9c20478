"""The tiered store on real directories: admission, demotion, promotion, invalidation, stats."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.block_file import HEADER_SIZE, PAYLOAD_OFFSET, block_path
from cache.store import StoreSettings, TieredStore, TierSettings
from cache.tier import Tier, TierOptions
from tests.unit.cache._helpers import (
    FakeClock,
    FlakyOpener,
    block,
    block_files,
    payload,
    tmp_files,
)

KIB = 1024
BLOCK = 8 * KIB
FILE = HEADER_SIZE + BLOCK


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs directory for the fastest tier when /dev/shm exists (so moves between tiers cross
    file systems and take the copy path), else a plain directory."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path / "fast"
        return
    directory = shm / f"pcache-test-{os.getpid()}-{tmp_path.name}"
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _store(*tiers: Tier, promote_after: int = 2) -> TieredStore:
    return TieredStore(tiers, promote_after=promote_after)


def _where(store: TieredStore, n: int) -> list[int]:
    return [index for index, tier in enumerate(store.tiers) if block(n) in tier]


async def test_store__put_get_read(tmp_path: Path) -> None:
    store = await TieredStore.open(StoreSettings((TierSettings(tmp_path / "t0", 10 * FILE),)))
    assert await store.put(block(1), payload(1, BLOCK))
    location = await store.get(block(1))
    assert location is not None
    assert (location.tier, location.payload_offset, location.size) == (0, PAYLOAD_OFFSET, BLOCK)
    with open(location.path, "rb") as handle:  # what the gateway's sendfile will do
        handle.seek(location.payload_offset + 100)
        assert handle.read(10) == payload(1, 10)
    assert await store.read(block(1), 5, 3) == payload(1, 3)
    assert await store.get(block(2)) is None
    assert (store.hits, store.misses) == (2, 1)
    (stats,) = store.stats()
    assert (stats.blocks, stats.used, stats.hits, stats.misses) == (1, FILE, 2, 1)


async def test_store__evictions_are_demoted_and_the_last_tier_drops(
    fast_dir: Path, tmp_path: Path
) -> None:
    store = _store(Tier.open(fast_dir, 2 * FILE), Tier.open(tmp_path / "t1", 3 * FILE))
    for n in range(8):
        assert await store.put(block(n), payload(n, BLOCK))
    fast, slow = store.stats()
    assert (fast.blocks, slow.blocks) == (2, 3)
    assert (fast.evictions, slow.demotions, slow.evictions) == (6, 6, 3)
    assert _where(store, 7) == [0] and _where(store, 5) == [1] and _where(store, 0) == []
    location = await store.get(block(3))
    assert location is not None and location.tier == 1
    assert await store.read(block(3)) == payload(3, BLOCK)
    for tier in store.tiers:
        assert tmp_files(tier.root) == []
        assert len(block_files(tier.root)) == tier.stats().blocks


async def test_store__a_block_hit_promote_after_times_moves_up(
    fast_dir: Path, tmp_path: Path
) -> None:
    store = _store(
        Tier.open(fast_dir, 2 * FILE), Tier.open(tmp_path / "t1", 10 * FILE), promote_after=2
    )
    for n in range(4):
        await store.put(block(n), payload(n, BLOCK))
    assert _where(store, 0) == [1]

    first = await store.get(block(0))
    assert first is not None and first.tier == 1
    second = await store.get(block(0))  # the second hit in tier 1 promotes it

    assert second is not None and second.tier == 0
    assert second.path == block_path(store.tiers[0].root, block(0)) and second.path.exists()
    assert not first.path.exists()
    assert _where(store, 0) == [0]
    fast, slow = store.stats()
    assert (fast.promotions, fast.blocks, slow.blocks) == (1, 2, 2)
    assert slow.demotions == 3  # two from the puts, one to make room for the promoted block
    assert await store.read(block(0)) == payload(0, BLOCK)


async def test_store__invalidate_removes_from_every_tier(tmp_path: Path) -> None:
    store = _store(Tier.open(tmp_path / "t0", 2 * FILE), Tier.open(tmp_path / "t1", 4 * FILE))
    for n in range(4):
        await store.put(block(n), payload(n, BLOCK))
    assert await store.invalidate(block(0)) and await store.invalidate(block(3))
    assert not await store.invalidate(block(0))
    assert await store.get(block(0)) is None and await store.get(block(3)) is None
    assert sum(stats.blocks for stats in store.stats()) == 2


async def test_store__corrupt_block_is_a_miss_then_refilled(tmp_path: Path) -> None:
    """CAC-09 at the store: detected, evicted, counted; the caller refetches and puts again."""
    store = _store(Tier.open(tmp_path / "t0", 4 * FILE))
    await store.put(block(1), payload(1, BLOCK))
    with open(block_path(store.tiers[0].root, block(1)), "r+b") as handle:
        handle.seek(PAYLOAD_OFFSET + BLOCK - 1)
        handle.write(b"\x00")
    assert await store.get(block(1)) is None
    assert store.stats()[0].checksum_failures == 1 and store.stats()[0].blocks == 0
    assert await store.put(block(1), payload(1, BLOCK))
    assert await store.read(block(1)) == payload(1, BLOCK)


async def test_store__put_falls_through_when_the_admission_tier_is_out_of_service(
    tmp_path: Path,
) -> None:
    opener, clock = FlakyOpener(), FakeClock()
    broken = Tier.open(
        tmp_path / "t0", 4 * FILE, TierOptions(max_io_errors=1), clock=clock, opener=opener
    )
    store = _store(broken, Tier.open(tmp_path / "t1", 4 * FILE))
    opener.enospc_on_write = True
    assert await store.put(block(1), payload(1, BLOCK))  # tier 0 full: stored one tier down
    assert _where(store, 1) == [1]
    opener.enospc_on_write = False
    opener.eio_on_read = True
    await store.put(block(2), payload(2, BLOCK))
    assert _where(store, 2) == [0]
    assert await store.get(block(2)) is None  # EIO: tier 0 goes out of service
    assert not broken.in_service()
    assert await store.put(block(3), payload(3, BLOCK))
    assert _where(store, 3) == [1]


async def test_store__put_of_a_block_held_lower_down_adds_no_copy(tmp_path: Path) -> None:
    store = _store(Tier.open(tmp_path / "t0", 1 * FILE), Tier.open(tmp_path / "t1", 4 * FILE))
    await store.put(block(1), payload(1, BLOCK))
    await store.put(block(2), payload(2, BLOCK))
    assert _where(store, 1) == [1]
    assert await store.put(block(1), payload(1, BLOCK))
    assert _where(store, 1) == [1] and _where(store, 2) == [0]


async def test_store__reopen_finds_the_blocks_again(tmp_path: Path) -> None:
    settings = StoreSettings(
        (TierSettings(tmp_path / "t0", 2 * FILE), TierSettings(tmp_path / "t1", 4 * FILE))
    )
    store = await TieredStore.open(settings)
    for n in range(5):
        await store.put(block(n), payload(n, BLOCK))
    reopened = await TieredStore.open(settings)
    assert [stats.blocks for stats in reopened.stats()] == [2, 3]
    for n in range(5):
        assert await reopened.read(block(n)) == payload(n, BLOCK)


async def test_store__concurrent_traffic_keeps_every_tier_within_capacity(
    fast_dir: Path, tmp_path: Path
) -> None:
    store = _store(
        Tier.open(fast_dir, 5 * FILE), Tier.open(tmp_path / "t1", 12 * FILE), promote_after=2
    )
    rng = random.Random(99)

    async def client(seed: int) -> None:
        local = random.Random(seed)
        for _ in range(40):
            n = local.randrange(30)
            if await store.get(block(n)) is None:
                await store.put(block(n), payload(n, local.choice([BLOCK, BLOCK // 2, 100])))

    await asyncio.gather(*(client(rng.randrange(1 << 30)) for _ in range(16)))
    for tier in store.tiers:
        stats = tier.stats()
        on_disk = block_files(tier.root)
        assert stats.used <= stats.capacity
        assert stats.used == sum(on_disk.values()) and stats.blocks == len(on_disk)
        assert tmp_files(tier.root) == []
    assert store.stats()[0].promotions > 0 and store.stats()[1].demotions > 0


def test_store_settings__validation(tmp_path: Path) -> None:
    tier = TierSettings(tmp_path, FILE)
    with pytest.raises(ValueError):
        StoreSettings(())
    with pytest.raises(ValueError):
        StoreSettings((tier,), admission_tier=1)
    with pytest.raises(ValueError):
        StoreSettings((tier,), promote_after=0)
