"""Resident payloads (`cache.resident`): a warm hit of a small block on a trusted tier is served
from memory after one `stat`, and only while the file is exactly the one its bytes came from."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.block_file import PAYLOAD_OFFSET, block_path, default_opener
from cache.resident import Resident
from cache.shard import Shard
from cache.tier import FOREIGN_RECHECK, Tier, TierOpen, TierOptions, VerifyReads
from tests.rig.tmpfs import mounted_tmpfs
from tests.unit.cache._helpers import FakeClock, block, payload

KIB = 1024
ONCE_IN_MEMORY = VerifyReads.ONCE_IN_MEMORY


class CountingOpener:
    def __init__(self) -> None:
        self.opens = 0

    def __call__(self, path: str, flags: int) -> int:
        self.opens += 1
        return default_opener(path, flags)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tmpfs", "4m") as mount:
        yield mount


def _read(opened: object) -> bytes:
    assert isinstance(opened, TierOpen)
    if opened.data is not None:
        assert opened.fd == -1
        return opened.data
    try:
        return os.pread(opened.fd, opened.payload_length, PAYLOAD_OFFSET)
    finally:
        os.close(opened.fd)


def test_resident__a_checked_small_block_is_served_without_opening_its_file(tmpfs: Path) -> None:
    opener = CountingOpener()
    tier = Tier.open(tmpfs / "t0", 1024 * KIB, opener=opener)
    data = os.urandom(4 * KIB)
    tier.put(block(1), data)
    assert _read(tier.open_block(block(1), verify=ONCE_IN_MEMORY)) == data  # checked, read
    opens = opener.opens
    for _ in range(3):
        opened = tier.open_block(block(1), verify=ONCE_IN_MEMORY, check_allowed=False)
        assert isinstance(opened, TierOpen) and opened.data == data
    assert opener.opens == opens
    assert tier.stats().hits == 4


def test_resident__a_file_changed_behind_the_tier_is_never_read(tmpfs: Path) -> None:
    """Bit rot or a stray write on the file of a resident block: what is served stays the bytes
    that passed the CRC (the file is not read again while the block is cached)."""
    opener = CountingOpener()
    tier = Tier.open(tmpfs / "t0", 1024 * KIB, opener=opener)
    tier.put(block(1), payload(1, 4 * KIB))
    _read(tier.open_block(block(1), verify=ONCE_IN_MEMORY))
    path = block_path(tier.root, block(1))
    with open(path, "r+b") as handle:
        handle.seek(PAYLOAD_OFFSET + 10)
        handle.write(b"\xff")
    opens = opener.opens
    assert _read(tier.open_block(block(1), verify=ONCE_IN_MEMORY)) == payload(1, 4 * KIB)
    assert opener.opens == opens


def test_resident__an_evicted_block_is_a_miss(tmpfs: Path) -> None:
    tier = Tier.open(tmpfs / "t0", 1024 * KIB)
    tier.put(block(1), payload(1, 4 * KIB))
    _read(tier.open_block(block(1), verify=ONCE_IN_MEMORY))
    assert tier.remove(block(1))
    assert tier.open_block(block(1), verify=ONCE_IN_MEMORY) is None


def test_resident__a_cache_ttl_still_expires_the_block(tmpfs: Path) -> None:
    tier = Tier.open(tmpfs / "t0", 1024 * KIB)
    tier.put(block(1), payload(1, 4 * KIB))
    _read(tier.open_block(block(1), verify=ONCE_IN_MEMORY))
    written = block_path(tier.root, block(1)).stat().st_mtime
    assert tier.open_block(block(1), verify=ONCE_IN_MEMORY, written_after=written + 1) is None
    assert tier.stats().expired == 1


def test_resident__every_read_checked_means_nothing_resident(tmp_path: Path) -> None:
    """A disk tier under ONCE_IN_MEMORY checks every hit: its bytes are never kept."""
    opener = CountingOpener()
    tier = Tier.open(tmp_path / "t0", 1024 * KIB, opener=opener)
    tier.put(block(1), payload(1, 4 * KIB))
    opens = opener.opens
    for _ in range(2):
        opened = tier.open_block(block(1), verify=ONCE_IN_MEMORY)
        assert isinstance(opened, TierOpen) and opened.data is None
        _read(opened)
    assert opener.opens == opens + 2


def test_resident__big_blocks_and_a_zero_budget_stay_on_file(tmpfs: Path) -> None:
    tier = Tier.open(tmpfs / "t0", 2048 * KIB, options=TierOptions(resident_bytes=0))
    tier.put(block(1), payload(1, 4 * KIB))
    big = Tier.open(tmpfs / "t1", 2048 * KIB)
    big.put(block(2), payload(2, 1024 * KIB))
    for t, n in ((tier, 1), (big, 2)):
        for _ in range(2):
            opened = t.open_block(block(n), verify=ONCE_IN_MEMORY)
            assert isinstance(opened, TierOpen) and opened.data is None
            _read(opened)


def test_resident__another_workers_block_is_served_from_memory_while_its_file_stands(
    tmpfs: Path,
) -> None:
    owner = Tier.open(tmpfs / "t0", 1024 * KIB, shard=Shard(0, 2))
    opener, clock = CountingOpener(), FakeClock()
    other = Tier.open(tmpfs / "t0", 1024 * KIB, shard=Shard(1, 2), opener=opener, clock=clock)
    data = os.urandom(2 * KIB)
    owner.put(block(1), data)
    assert _read(other.open_foreign(block(1), verify=ONCE_IN_MEMORY)) == data
    opens = opener.opens
    opened = other.open_foreign(block(1), verify=ONCE_IN_MEMORY, check_allowed=False)
    assert isinstance(opened, TierOpen) and opened.data == data and opener.opens == opens
    path = block_path(owner.root, block(1))
    with open(path, "r+b") as handle:  # a write changes the stamp ...
        handle.seek(PAYLOAD_OFFSET + 10)
        handle.write(bytes([data[10] ^ 0xFF]))
    clock.now += FOREIGN_RECHECK  # ... seen at the next look: checked again, and caught
    assert other.open_foreign(block(1), verify=ONCE_IN_MEMORY) is None
    assert other.stats().checksum_failures == 1


def test_resident__another_workers_evicted_block_is_a_miss(tmpfs: Path) -> None:
    owner = Tier.open(tmpfs / "t0", 1024 * KIB, shard=Shard(0, 2))
    clock = FakeClock()
    other = Tier.open(tmpfs / "t0", 1024 * KIB, shard=Shard(1, 2), clock=clock)
    owner.put(block(1), payload(1, 2 * KIB))
    _read(other.open_foreign(block(1), verify=ONCE_IN_MEMORY))
    assert owner.remove(block(1))  # the owner drops it: the file is gone
    # Within the recheck window the checked bytes are still served (right for the id) ...
    assert _read(other.open_foreign(block(1), verify=ONCE_IN_MEMORY)) == payload(1, 2 * KIB)
    clock.now += FOREIGN_RECHECK  # ... and not after it
    assert other.open_foreign(block(1), verify=ONCE_IN_MEMORY) is None


def test_resident__budget_keeps_the_most_recently_used() -> None:
    resident = Resident(budget=10 * KIB, block_max=4 * KIB)
    stamp = (1, 2, 3)
    for n in range(3):
        resident.put(block(n), stamp, payload(n, 4 * KIB))
    assert resident.used <= 10 * KIB and len(resident) == 2
    assert resident.get(block(0)) is None and resident.get(block(2)) is not None
    resident.put(block(9), stamp, payload(9, 4 * KIB + 1))  # too big: not kept
    assert resident.get(block(9)) is None
    resident.drop(block(2))
    assert resident.get(block(2)) is None and resident.used == 4 * KIB


def test_resident__a_block_this_tier_wrote_needs_no_check_before_its_first_hit(
    tmpfs: Path,
) -> None:
    """The bytes were in hand when the file was written: the first hit, even from the event
    loop, opens nothing (small block) or checks nothing (big one)."""
    opener = CountingOpener()
    tier = Tier.open(tmpfs / "t0", 2048 * KIB, opener=opener)
    small, big = os.urandom(2 * KIB), os.urandom(1024 * KIB)
    tier.put(block(1), small)
    tier.put(block(2), big)
    opens = opener.opens
    first = tier.open_block(block(1), verify=ONCE_IN_MEMORY, check_allowed=False)
    assert isinstance(first, TierOpen) and first.data == small and opener.opens == opens
    opened = tier.open_block(block(2), verify=ONCE_IN_MEMORY, check_allowed=False)
    assert isinstance(opened, TierOpen) and opened.data is None  # not Deferred.CHECK
    assert _read(opened) == big


def test_resident__a_small_unchecked_block_is_checked_inline_on_the_event_loop(
    tmpfs: Path,
) -> None:
    """After a restart nothing is known to be sound: a small block is checked by the caller
    (no worker thread), and a corrupt one is still caught."""
    Tier.open(tmpfs / "t0", 1024 * KIB).put(block(1), payload(1, 4 * KIB))
    Tier.open(tmpfs / "t0", 1024 * KIB).put(block(2), payload(2, 4 * KIB))
    tier = Tier.open(tmpfs / "t0", 1024 * KIB)
    opened = tier.open_block(block(1), verify=ONCE_IN_MEMORY, check_allowed=False)
    assert _read(opened) == payload(1, 4 * KIB)
    path = block_path(tier.root, block(2))
    with open(path, "r+b") as handle:
        handle.seek(PAYLOAD_OFFSET + 10)
        handle.write(b"\xff")
    assert tier.open_block(block(2), verify=ONCE_IN_MEMORY, check_allowed=False) is None
    assert tier.stats().checksum_failures == 1
