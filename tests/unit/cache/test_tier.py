"""One tier on real files: index rebuild at open, capacity, watermark, corruption, I/O errors."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.block_file import HEADER_SIZE, PAYLOAD_OFFSET, TMP_DIR, block_path, write_block
from cache.tier import Move, Tier, TierOptions, VerifyReads
from tests.rig.tmpfs import mounted_tmpfs
from tests.unit.cache._helpers import (
    FakeClock,
    FlakyOpener,
    block,
    block_files,
    payload,
    tmp_files,
)

KIB = 1024


def _flip_payload_byte(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(PAYLOAD_OFFSET + 10)
        handle.write(b"\xff" if handle.read(1) != b"\xff" else b"\x00")


def test_tier__put_get_read_round_trip(tmp_path: Path) -> None:
    tier = Tier.open(tmp_path / "t0", 100 * KIB)
    assert tier.put(block(1), payload(1, 10 * KIB)).stored
    hit = tier.get(block(1))
    assert hit is not None
    assert hit.path == block_path(tier.root, block(1)) and hit.payload_length == 10 * KIB
    assert tier.read(block(1), 100, 50) == payload(1, 50)
    assert tier.get(block(2)) is None
    stats = tier.stats()
    assert (stats.blocks, stats.used, stats.hits, stats.misses) == (1, HEADER_SIZE + 10 * KIB, 2, 1)
    assert stats.in_service


def test_tier_open__discards_torn_corrupt_and_tmp_files(tmp_path: Path) -> None:
    """CAC-10 / FLT-13: a partial file, a flipped byte and a leftover .tmp never survive open;
    intact blocks are indexed; files that are not ours are left alone."""
    root = tmp_path / "t0"
    tier = Tier.open(root, 1024 * KIB)
    for n in range(4):
        assert tier.put(block(n), payload(n, 20 * KIB)).stored
    os.truncate(block_path(root, block(1)), HEADER_SIZE + 5 * KIB)  # torn by a crash
    _flip_payload_byte(block_path(root, block(2)))  # bit rot
    (root / TMP_DIR / "0123abcd.tmp").write_bytes(b"half a block")  # kill -9 mid-write
    (root / "README").write_text("not a block")

    reopened = Tier.open(root, 1024 * KIB)

    assert block(0) in reopened and block(3) in reopened
    assert block(1) not in reopened and block(2) not in reopened
    assert set(block_files(root)) == {block(0).hex, block(3).hex, "README"}
    assert tmp_files(root) == []
    assert reopened.stats().discarded_at_open == 2
    assert reopened.stats().used == 2 * (HEADER_SIZE + 20 * KIB)


def test_tier_open__without_verification_a_flipped_byte_is_caught_on_get(tmp_path: Path) -> None:
    """CAC-09: detected by the checksum on read, evicted (file gone), counted."""
    root = tmp_path / "t0"
    Tier.open(root, 1024 * KIB).put(block(1), payload(1, 50 * KIB))
    _flip_payload_byte(block_path(root, block(1)))
    tier = Tier.open(root, 1024 * KIB, TierOptions(verify_on_open=False))
    assert block(1) in tier

    assert tier.get(block(1)) is None

    assert block(1) not in tier
    assert not block_path(root, block(1)).exists()
    stats = tier.stats()
    assert (stats.checksum_failures, stats.blocks, stats.used, stats.io_errors) == (1, 0, 0, 0)
    assert tier.put(block(1), payload(1, 50 * KIB)).stored  # refetched bytes are cached again
    assert tier.read(block(1)) == payload(1, 50 * KIB)


def test_tier_get__verify_once_trusts_a_block_after_its_first_check(tmp_path: Path) -> None:
    tier = Tier.open(tmp_path / "t0", 1024 * KIB)
    tier.put(block(1), payload(1, 4 * KIB))
    assert tier.get(block(1), verify=VerifyReads.ONCE) is not None
    _flip_payload_byte(block_path(tier.root, block(1)))
    assert tier.get(block(1), verify=VerifyReads.ONCE) is not None  # the documented trade-off
    assert tier.get(block(1), verify=VerifyReads.ALWAYS) is None
    assert tier.stats().checksum_failures == 1


def test_tier_get__a_file_deleted_behind_our_back_is_a_miss(tmp_path: Path) -> None:
    tier = Tier.open(tmp_path / "t0", 1024 * KIB)
    tier.put(block(1), payload(1, 4 * KIB))
    os.unlink(block_path(tier.root, block(1)))
    assert tier.get(block(1)) is None
    assert block(1) not in tier and tier.stats().used == 0 and tier.stats().io_errors == 0


def test_tier_open__capacity_shrunk_since_last_run(tmp_path: Path) -> None:
    root = tmp_path / "t0"
    tier = Tier.open(root, 1024 * KIB)
    for n in range(10):
        tier.put(block(n), payload(n, 10 * KIB))
    smaller = Tier.open(root, 4 * (HEADER_SIZE + 10 * KIB))
    assert smaller.stats().blocks == 4
    assert len(block_files(root)) == 4


def test_tier_put__capacity_is_never_exceeded(tmp_path: Path) -> None:
    """Random admissions, hits and removals (seeded); after every step the index matches the
    files on disk and used <= capacity. Evicted blocks are handed back, detached in tmp/."""
    rng = random.Random(20241123)
    capacity = 200 * KIB
    tier = Tier.open(tmp_path / "t0", capacity)
    for _step in range(600):
        n = rng.randrange(60)
        action = rng.random()
        if action < 0.6:
            size = rng.choice([1, 500, 4 * KIB, 17 * KIB, 40 * KIB])
            admission = tier.put(block(n), payload(n, size))
            assert admission.stored
            for evicted in admission.evicted:
                assert evicted.path.parent == tier.root / TMP_DIR and evicted.path.exists()
                Tier.drop(evicted)
        elif action < 0.9:
            tier.get(block(n))
        else:
            tier.remove(block(n))
        stats = tier.stats()
        on_disk = block_files(tier.root)
        assert stats.used <= capacity
        assert stats.used == sum(on_disk.values())
        assert stats.blocks == len(on_disk)
        assert tmp_files(tier.root) == []
    assert tier.stats().evictions > 0


def test_tier_put__a_block_larger_than_the_tier_is_refused(tmp_path: Path) -> None:
    tier = Tier.open(tmp_path / "t0", 10 * KIB)
    tier.put(block(1), payload(1, KIB))
    admission = tier.put(block(2), payload(2, 10 * KIB))
    assert not admission.stored and admission.evicted == ()
    assert block(1) in tier and tier.stats().refused == 1


def test_tier_put__evicts_in_sieve_order(tmp_path: Path) -> None:
    size = HEADER_SIZE + KIB
    tier = Tier.open(tmp_path / "t0", 3 * size)
    for n in (1, 2, 3):
        tier.put(block(n), payload(n, KIB))
    tier.get(block(1))  # visited: survives the hand's first pass
    assert [d.block_id for d in tier.put(block(4), payload(4, KIB)).evicted] == [block(2)]


def test_tier_put__watermark_refuses_when_the_file_system_is_too_full(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    tier = Tier.open(tmp_path / "t0", 1024 * KIB, TierOptions(min_free_bytes=free * 2))
    assert not tier.put(block(1), payload(1, KIB)).stored
    assert tier.stats().refused == 1 and tier_files_empty(tier.root)


def tier_files_empty(root: Path) -> bool:
    return block_files(root) == {} and tmp_files(root) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A private 4 MiB tmpfs (FLT-11 in miniature); skipped where mounting is not allowed."""
    with mounted_tmpfs(tmp_path / "tmpfs", "4m") as mount:
        yield mount


def test_tier_put__watermark_evicts_to_keep_free_space(small_tmpfs: Path) -> None:
    """Capacity says 64 MiB but the file system has 4 MiB and must keep 1 MiB free: admissions
    evict instead of failing with ENOSPC, and nothing is refused or left in tmp/."""
    tier = Tier.open(small_tmpfs / "t0", 64 * 1024 * KIB, TierOptions(min_free_bytes=1024 * KIB))
    for n in range(20):
        admission = tier.put(block(n), payload(n, 256 * KIB))
        assert admission.stored
        for evicted in admission.evicted:
            Tier.drop(evicted)
        fs = os.statvfs(small_tmpfs)
        assert fs.f_bavail * fs.f_frsize >= 1024 * KIB - 256 * KIB  # within one block
    stats = tier.stats()
    assert stats.evictions > 0 and stats.refused == 0 and stats.io_errors == 0
    assert stats.blocks <= 12
    assert tmp_files(tier.root) == []


def test_tier_put__enospc_is_refused_and_not_held_against_the_device(tmp_path: Path) -> None:
    opener = FlakyOpener()
    tier = Tier.open(tmp_path / "t0", 1024 * KIB, opener=opener)
    opener.enospc_on_write = True
    for n in range(5):
        assert not tier.put(block(n), payload(n, KIB)).stored
    stats = tier.stats()
    assert (stats.io_errors, stats.refused, stats.in_service) == (5, 5, True)
    assert tmp_files(tier.root) == []
    opener.enospc_on_write = False
    assert tier.put(block(1), payload(1, KIB)).stored


def test_tier__out_of_service_after_consecutive_io_errors_then_retried(tmp_path: Path) -> None:
    """FLT-12 at unit level, through the I/O-error seam (we run as root, so permissions cannot
    make a directory unreadable): 3 consecutive EIOs take the tier out of service; it is skipped
    (misses, refused puts) until the cool-down passes; then it is on probation."""
    clock, opener = FakeClock(), FlakyOpener()
    options = TierOptions(max_io_errors=3, cooldown=30.0)
    tier = Tier.open(tmp_path / "t0", 1024 * KIB, options, clock=clock, opener=opener)
    for n in range(4):
        tier.put(block(n), payload(n, KIB))

    opener.eio_on_read = True
    for n in range(3):
        assert tier.get(block(n)) is None
    assert block(0) in tier  # an I/O error is not corruption: the block is kept
    assert tier.stats().io_errors == 3 and not tier.in_service()
    opener.eio_on_read = False
    calls = opener.calls
    assert tier.get(block(3)) is None  # out of service: not even tried
    assert not tier.put(block(9), payload(9, KIB)).stored
    assert opener.calls == calls

    clock.now += 30.0
    opener.eio_on_read = True
    assert tier.get(block(3)) is None  # back, on probation: one error takes it out again
    assert not tier.in_service()
    clock.now += 30.0
    opener.eio_on_read = False
    assert tier.get(block(3)) is not None  # a success restores the full allowance
    opener.eio_on_read = True
    assert tier.get(block(2)) is None
    assert tier.in_service()


def test_tier_adopt__across_file_systems_copies_and_consumes(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on its own file system")
    fast_root = shm / f"pcache-test-{os.getpid()}-{tmp_path.name}"
    try:
        fast = Tier.open(fast_root, 1024 * KIB)
        slow = Tier.open(tmp_path / "slow", 1024 * KIB)
        source = write_block(fast.root, block(1), payload(1, 30 * KIB))
        size = source.stat().st_size
        assert slow.adopt(source, block(1), size, move=Move.DEMOTE, consume=True).stored
        assert not source.exists()
        assert slow.read(block(1)) == payload(1, 30 * KIB)
        assert slow.stats().demotions == 1
    finally:
        with contextlib.suppress(FileNotFoundError):
            subprocess.run(["rm", "-rf", os.fspath(fast_root)], check=True)


def test_tier_open__unreadable_block_is_kept_but_not_indexed(tmp_path: Path) -> None:
    root = tmp_path / "t0"
    Tier.open(root, 1024 * KIB).put(block(1), payload(1, KIB))
    opener = FlakyOpener()
    opener.eio_on_read = True
    tier = Tier.open(root, 1024 * KIB, opener=opener)
    assert block(1) not in tier and block_path(root, block(1)).exists()
    assert tier.stats().io_errors == 1
