"""The default free-space watermark (FLT-11): a tier whose capacity is larger than its file
system stops short of filling it, with no option set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.block_file import HEADER_SIZE, TMP_DIR
from cache.tier import DEFAULT_MIN_FREE_RATIO, Tier, TierOptions
from tests.rig.tmpfs import mounted_tmpfs
from tests.unit.cache._helpers import block, payload

KIB = 1024


@pytest.fixture
def tmpfs_4m(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tmpfs", "4m") as mount:
        yield mount


def _free(path: Path) -> int:
    fs = os.statvfs(path)
    return fs.f_bavail * fs.f_frsize


def test_tier_watermark__on_by_default_so_a_small_file_system_never_fills(tmpfs_4m: Path) -> None:
    """64 MiB of capacity on a 4 MiB tmpfs, default options: every admission is stored (by
    evicting), the file system keeps the default share free (within one block), and nothing is
    refused for ENOSPC."""
    assert TierOptions().min_free_ratio == DEFAULT_MIN_FREE_RATIO > 0
    tier = Tier.open(tmpfs_4m / "t0", 64 * 1024 * KIB)
    size = 128 * KIB
    floor = int(DEFAULT_MIN_FREE_RATIO * 4 * 1024 * KIB)
    for n in range(60):  # 7.5 MiB of blocks through a 4 MiB file system
        admission = tier.put(block(n), payload(n, size))
        assert admission.stored, n
        for evicted in admission.evicted:
            Tier.drop(evicted)
        assert _free(tmpfs_4m) >= floor - (HEADER_SIZE + size)
    stats = tier.stats()
    assert stats.refused == 0 and stats.io_errors == 0 and stats.evictions > 0
    assert stats.used <= 4 * 1024 * KIB - floor
    assert list((tier.root / TMP_DIR).iterdir()) == []


def test_tier_full__enospc_gives_back_room_so_caching_goes_on(tmpfs_4m: Path) -> None:
    """Watermark off (`min_free_ratio=0`): the file system fills until a write fails with
    ENOSPC. That block is refused without a temporary file left behind, not held against the
    device, and the tier evicts a block's worth, so later admissions are stored again instead
    of every one failing from then on."""
    tier = Tier.open(tmpfs_4m / "t0", 64 * 1024 * KIB, TierOptions(min_free_ratio=0.0))
    stored: list[bool] = []
    for n in range(60):
        admission = tier.put(block(n), payload(n, 128 * KIB))
        for evicted in admission.evicted:
            Tier.drop(evicted)
        stored.append(admission.stored)
        assert list((tier.root / TMP_DIR).iterdir()) == []
    first_refusal = stored.index(False)
    after = stored[first_refusal + 1 :]
    assert after and sum(after) >= len(after) // 2, stored
    stats = tier.stats()
    assert stats.in_service and stats.refused == stored.count(False)
    files = [p for p in tier.root.rglob("*") if p.is_file()]
    assert all(p.relative_to(tier.root).parts[0] != TMP_DIR for p in files)
    assert stats.used == sum(p.stat().st_size for p in files)
