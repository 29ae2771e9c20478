"""`VerifyReads.ONCE_IN_MEMORY` (the store's default): a CRC pass on every hit of a tier on a
device, where media corruption keeps a file's (inode, mtime, size) stamp; once per stamp on a
memory-backed tier, where the inline sendfile path needs it (CAC-09)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache.block_file import PAYLOAD_OFFSET, block_path
from cache.store import StoreSettings, TierSettings
from cache.tier import Deferred, Tier, TierOpen, VerifyReads
from tests.rig.tmpfs import mounted_tmpfs
from tests.unit.cache._helpers import block, payload

KIB = 1024
ONCE_IN_MEMORY = VerifyReads.ONCE_IN_MEMORY


def _rot(path: Path) -> None:
    """Flip a payload byte the way a failing medium does: no write through the file system is
    visible, so inode, size and mtime stay as they were."""
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(PAYLOAD_OFFSET + 10)
        byte = handle.read(1)
        handle.seek(PAYLOAD_OFFSET + 10)
        handle.write(bytes([byte[0] ^ 0x01]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def _open(tier: Tier, n: int, *, check_allowed: bool = True) -> TierOpen | Deferred | None:
    opened = tier.open_block(block(n), verify=ONCE_IN_MEMORY, check_allowed=check_allowed)
    if isinstance(opened, TierOpen) and opened.fd >= 0:
        os.close(opened.fd)
    return opened


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tmpfs", "4m") as mount:
        yield mount


def test_verify_reads__the_store_default_checks_disk_hits_every_time() -> None:
    assert StoreSettings((TierSettings("/nowhere", 1),)).verify_reads is ONCE_IN_MEMORY


def test_verify_reads__bit_rot_on_a_disk_tier_is_caught_after_the_first_check(
    tmp_path: Path,
) -> None:
    tier = Tier.open(tmp_path / "t0", 1024 * KIB)
    assert not tier.memory_backed
    tier.put(block(1), payload(1, 4 * KIB))
    assert isinstance(_open(tier, 1), TierOpen)  # checked, stamped
    assert _open(tier, 1, check_allowed=False) is Deferred.CHECK  # a disk hit is always checked
    _rot(block_path(tier.root, block(1)))
    assert _open(tier, 1) is None
    assert tier.get(block(1), verify=ONCE_IN_MEMORY) is None
    assert tier.stats().checksum_failures == 1


def test_verify_reads__a_memory_tier_trusts_a_checked_stamp(tmpfs: Path) -> None:
    """The trade-off on tmpfs: after the first check a hit opens inline (no thread), and a
    change that keeps the stamp is not looked for; one that changes it is. (A block too big to
    be resident: a small one is not read from its file again, see test_resident.)"""
    Tier.open(tmpfs / "t0", 1024 * KIB).put(block(1), payload(1, 128 * KIB))
    tier = Tier.open(tmpfs / "t0", 1024 * KIB)  # a restart: the file is not known to be sound
    assert tier.memory_backed
    assert _open(tier, 1, check_allowed=False) is Deferred.CHECK  # never checked yet
    assert isinstance(_open(tier, 1), TierOpen)
    assert isinstance(_open(tier, 1, check_allowed=False), TierOpen)  # inline from now on
    path = block_path(tier.root, block(1))
    with open(path, "r+b") as handle:  # an ordinary write: the stamp changes
        handle.seek(PAYLOAD_OFFSET + 10)
        handle.write(b"\xff" if handle.read(1) != b"\xff" else b"\x00")
    assert _open(tier, 1) is None
    assert tier.stats().checksum_failures == 1
