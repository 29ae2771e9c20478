"""Shared helpers for the cache tests: block ids, a steppable clock, and the I/O-error seam."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from cache.block_file import TMP_DIR, default_opener
from cache.blocks import BlockId


def block(n: int) -> BlockId:
    return BlockId.of("test-target", "bucket", f"key-{n}", '"etag"', 0)


def payload(n: int, size: int) -> bytes:
    return bytes([n % 251]) * size


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyOpener:
    """The one I/O-error seam (an `Opener`): real `os.open`, except that reads can be made to
    fail with EIO and writes can be pointed at /dev/full, whose writes fail with ENOSPC."""

    def __init__(self) -> None:
        self.eio_on_read = False
        self.enospc_on_write = False
        self.calls = 0

    def __call__(self, path: str, flags: int) -> int:
        self.calls += 1
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
        if self.eio_on_read and not writing:
            raise OSError(errno.EIO, "injected EIO", path)
        if self.enospc_on_write and writing:
            return os.open("/dev/full", os.O_WRONLY)
        return default_opener(path, flags)


def block_files(root: Path) -> dict[str, int]:
    """Published block files under a tier root (name → size), `tmp/` excluded."""
    found: dict[str, int] = {}
    for directory, _dirs, files in os.walk(root):
        if Path(directory) == root / TMP_DIR:
            continue
        for name in files:
            found[name] = os.path.getsize(os.path.join(directory, name))
    return found


def tmp_files(root: Path) -> list[str]:
    return sorted(os.listdir(root / TMP_DIR))
