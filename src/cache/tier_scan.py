"""Rebuild a tier's index from its directory at start: the files are the truth (CAC-10, FLT-13).

Everything under the worker's temporary directory (`tmp/`, see `cache.shard`) is an unfinished
write or an evicted block waiting to move, from a process that is gone, so it is deleted. A block
file whose header is invalid, whose size does not match its header (torn), whose id does not
match its name, or (with `verify`) whose CRC fails is unlinked. Files whose names are not block
ids are left alone: a misconfigured tier directory must not cost anyone their files. Blocks
another worker owns are skipped: they are its to check.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cache.block_file import CorruptBlock, Opener, check, read_header
from cache.blocks import BLOCK_ID_HEX_LENGTH, BlockId
from cache.shard import SOLE, Shard

__all__ = ["ScanResult", "ScannedBlock", "scan_tier"]

_log = logging.getLogger("pcache.cache")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class ScannedBlock:
    block_id: BlockId
    file_size: int
    mtime_ns: int


@dataclass(slots=True)
class ScanResult:
    """What a scan found: intact blocks oldest first, and what it threw away."""

    blocks: list[ScannedBlock] = field(default_factory=list)
    tmp_removed: int = 0
    discarded: int = 0
    io_errors: int = 0


def _is_hex(name: str, length: int) -> bool:
    return len(name) == length and _HEX.issuperset(name)


def _clear_tmp(root: Path, shard: Shard, result: ScanResult) -> None:
    for name in shard.stale_tmp_dirs(os.listdir(root)):
        for entry in os.scandir(root / name):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                result.tmp_removed += 1


def _scan_file(path: Path, block_id: BlockId, *, verify: bool, opener: Opener) -> int:
    """The file size of an intact block; raises CorruptBlock or OSError."""
    if verify:
        return check(path, expected=block_id, opener=opener).file_size
    return read_header(path, expected=block_id, opener=opener).file_size


def scan_tier(root: Path, *, verify: bool, opener: Opener, shard: Shard = SOLE) -> ScanResult:
    """Create the tier's directories if needed, clear this worker's temporaries, and list the
    intact blocks it owns (other workers' blocks are theirs to check)."""
    (root / shard.tmp_dir).mkdir(parents=True, exist_ok=True)
    result = ScanResult()
    _clear_tmp(root, shard, result)
    for fan_out in os.scandir(root):
        if not (_is_hex(fan_out.name, 2) and fan_out.is_dir(follow_symlinks=False)):
            continue
        for entry in os.scandir(fan_out.path):
            name = entry.name
            if not (_is_hex(name, BLOCK_ID_HEX_LENGTH) and name.startswith(fan_out.name)):
                continue
            if not shard.owns(BlockId(name)):
                continue
            path = Path(entry.path)
            try:
                size = _scan_file(path, BlockId(name), verify=verify, opener=opener)
                mtime_ns = entry.stat(follow_symlinks=False).st_mtime_ns
            except CorruptBlock as error:
                _log.warning("discarding block file: %s", error)
                os.unlink(path)
                result.discarded += 1
                continue
            except OSError as error:
                # Unreadable now is not proof of corruption: leave the file, do not index it.
                _log.warning("cannot read block file %s: %s", path, error)
                result.io_errors += 1
                continue
            result.blocks.append(ScannedBlock(BlockId(name), size, mtime_ns))
    result.blocks.sort(key=lambda block: block.mtime_ns)
    return result
