"""Two worker processes' stores over the same tier directories (`cache.shard`), in one test
process: each indexes only its own blocks, reads the other's by path, and hands blocks it fetched
for the other over to it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.block_file import HEADER_SIZE, block_path
from cache.blocks import BlockId
from cache.shard import Shard
from cache.store import StoreSettings, TieredStore, TierSettings
from tests.unit.cache._helpers import block, payload

KIB = 1024
BLOCK = 4 * KIB


class Host:
    """The workers of one host, each reaching the others directly (in production: a socket)."""

    def __init__(self) -> None:
        self.stores: list[TieredStore] = []
        self.touches: list[tuple[int, BlockId]] = []

    async def adopt(self, owner: int, block_id: BlockId, tier: int, path: Path, size: int) -> bool:
        return await self.stores[owner].adopt(block_id, tier, path, size)

    async def invalidate(self, owner: int, block_id: BlockId) -> bool:
        return await self.stores[owner].invalidate(block_id)

    def touched(self, owner: int, block_id: BlockId) -> None:
        self.touches.append((owner, block_id))
        self.stores[owner].touch([block_id])


async def _host(root: Path, count: int, capacity: int = 64 * KIB) -> Host:
    host = Host()
    for index in range(count):
        store = await TieredStore.open(
            StoreSettings(tiers=(TierSettings(root, capacity // count),), shard=Shard(index, count))
        )
        store.peers = host
        host.stores.append(store)
    return host


def _owned_by(shard: Shard, n: int) -> Iterator[tuple[int, BlockId]]:
    """Block numbers (from 0) whose ids `shard` owns."""
    for i in range(1000):
        if shard.owns(block(i)):
            yield i, block(i)
            n -= 1
            if n == 0:
                return


def _read(store: TieredStore, opened: object) -> bytes:
    from cache.store import OpenBlock

    assert isinstance(opened, OpenBlock)
    try:
        return opened.pread(opened.size)
    finally:
        opened.close()


@pytest.mark.parametrize("count", [2, 3])
def test_shard__every_block_has_exactly_one_owner(count: int) -> None:
    shards = [Shard(i, count) for i in range(count)]
    for n in range(300):
        assert sum(s.owns(block(n)) for s in shards) == 1
    # and the split is roughly even
    owned = [sum(s.owns(block(n)) for n in range(3000)) for s in shards]
    assert min(owned) > 3000 / count * 0.85


@pytest.mark.parametrize(("index", "count"), [(0, 0), (2, 2), (-1, 2)])
def test_shard__rejects_a_worker_outside_the_count(index: int, count: int) -> None:
    with pytest.raises(ValueError):
        Shard(index, count)


async def test_put__a_block_fetched_by_a_non_owner_lands_in_the_owners_index(
    tmp_path: Path,
) -> None:
    host = await _host(tmp_path, 2)
    a, b = host.stores
    (n, bid), *_ = _owned_by(b.shard, 1)
    assert await a.put(bid, payload(n, BLOCK))
    assert bid in b.tiers[0]  # indexed by its owner
    assert bid not in a.tiers[0]  # never by the worker that fetched it
    assert b.stats()[0].used == HEADER_SIZE + BLOCK
    assert a.stats()[0].used == 0
    assert os.listdir(tmp_path / "tmp-w0") == []  # handed over, nothing left behind
    assert a.contains(bid) and b.contains(bid)
    assert _read(a, await a.open_block(bid)) == payload(n, BLOCK)
    assert host.touches == [(1, bid)]


async def test_put__owners_capacity_bounds_what_others_hand_over(tmp_path: Path) -> None:
    host = await _host(tmp_path, 2, capacity=2 * 4 * (HEADER_SIZE + BLOCK))  # 4 files each
    a, b = host.stores
    for n, bid in _owned_by(b.shard, 10):
        await a.put(bid, payload(n, BLOCK))
    assert b.stats()[0].used <= 4 * (HEADER_SIZE + BLOCK)
    assert b.stats()[0].blocks == 4
    files = [f for d in tmp_path.iterdir() if len(d.name) == 2 for f in d.iterdir()]
    assert len(files) == 4  # evicted files are gone from the shared directory too


async def test_open_block__a_corrupt_block_of_another_worker_is_a_miss_for_both(
    tmp_path: Path,
) -> None:
    host = await _host(tmp_path, 2)
    a, b = host.stores
    (n, bid), *_ = _owned_by(b.shard, 1)
    await b.put(bid, payload(n, BLOCK))
    path = block_path(tmp_path, bid)
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + 10] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert await a.open_block(bid) is None
    assert a.stats()[0].checksum_failures == 1
    assert not path.exists()
    assert await b.open_block(bid) is None
    assert bid not in b.tiers[0]  # the owner forgot it, so its capacity is free again
    assert b.stats()[0].used == 0


async def test_invalidate__by_a_non_owner_reaches_the_owner(tmp_path: Path) -> None:
    host = await _host(tmp_path, 2)
    a, b = host.stores
    (n, bid), *_ = _owned_by(b.shard, 1)
    await b.put(bid, payload(n, BLOCK))
    assert await a.invalidate(bid)
    assert bid not in b.tiers[0]
    assert not block_path(tmp_path, bid).exists()


async def test_adopt__refuses_a_path_outside_a_workers_temporary_directory(
    tmp_path: Path,
) -> None:
    host = await _host(tmp_path / "tier", 2)
    b = host.stores[1]
    (_, bid), *_ = _owned_by(b.shard, 1)
    stray = tmp_path / "elsewhere.tmp"
    stray.write_bytes(b"x" * 100)
    assert not await b.adopt(bid, 0, stray, 100)
    assert stray.exists()
    (_, other), *_ = _owned_by(host.stores[0].shard, 1)
    assert not await b.adopt(other, 0, tmp_path / "tier" / "tmp-w0" / "x.tmp", 100)


async def test_open__a_new_worker_count_moves_ownership_and_keeps_every_block(
    tmp_path: Path,
) -> None:
    host = await _host(tmp_path, 2, capacity=256 * KIB)
    ids = []
    for n in range(12):
        ids.append(block(n))
        await host.stores[0].put(block(n), payload(n, BLOCK))
    (tmp_path / "tmp-w1" / "left.tmp").write_bytes(b"half a block")
    alone = await TieredStore.open(StoreSettings(tiers=(TierSettings(tmp_path, 64 * KIB),)))
    assert all(bid in alone.tiers[0] for bid in ids)
    assert alone.stats()[0].blocks == 12
    assert os.listdir(tmp_path / "tmp-w1") == []  # a leftover of the old count is cleared
    three = await _host(tmp_path, 3, capacity=256 * KIB)
    assert sum(s.stats()[0].blocks for s in three.stores) == 12


async def test_open__a_worker_never_clears_another_workers_temporaries(tmp_path: Path) -> None:
    await _host(tmp_path, 2)
    (tmp_path / "tmp-w0" / "writing.tmp").write_bytes(b"in progress")
    await TieredStore.open(
        StoreSettings(tiers=(TierSettings(tmp_path, 32 * KIB),), shard=Shard(1, 2))
    )
    assert os.listdir(tmp_path / "tmp-w0") == ["writing.tmp"]


async def test_open_block__a_block_past_its_ttl_is_dropped_by_its_owner(tmp_path: Path) -> None:
    host = await _host(tmp_path, 2)
    a, b = host.stores
    (n, theirs), *_ = _owned_by(b.shard, 1)
    (m, mine), *_ = _owned_by(a.shard, 1)
    await a.put(theirs, payload(n, BLOCK))
    await a.put(mine, payload(m, BLOCK))
    old = time.time() - 100
    for bid in (theirs, mine):
        os.utime(block_path(tmp_path, bid), (old, old))
    cutoff = time.time() - 50
    assert not a.contains(theirs, cutoff) and not a.contains(mine, cutoff)
    assert a.contains(theirs) and a.contains(mine)  # no TTL: any age serves
    assert await a.open_block(theirs, cutoff) is None
    assert theirs not in b.tiers[0]  # the owner dropped it, so a fresh copy can be cached
    assert await a.open_block(mine, cutoff) is None
    assert mine not in a.tiers[0]
    assert a.stats()[0].expired == 2
    assert await a.put(theirs, payload(n, BLOCK)) and await a.put(mine, payload(m, BLOCK))
    assert _read(a, await a.open_block(theirs, cutoff)) == payload(n, BLOCK)
    assert _read(a, await a.open_block(mine, cutoff)) == payload(m, BLOCK)
