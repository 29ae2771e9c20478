"""Whether a directory lives in memory (tmpfs, ramfs): reads there cannot stall on a device.

The store reads blocks of such tiers on the event loop (an `open` + `pread` of a few KiB costs
microseconds), saving the thread-pool round trip that dominates a small hit. Any other file
system, however fast it usually is, may block for a device's latency, so it stays in threads.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MEMORY_FILE_SYSTEMS", "file_system_type", "is_memory_backed"]

MEMORY_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs"})
_MOUNTS = Path("/proc/self/mounts")


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash in octal (\040 ...).
    return field.encode().decode("unicode_escape") if "\\" in field else field


def file_system_type(directory: str | os.PathLike[str], mounts: str | None = None) -> str | None:
    """The type of the file system holding `directory` (the longest mount point above its real
    path), or None when the mount table cannot be read."""
    if mounts is None:
        try:
            mounts = _MOUNTS.read_text()
        except OSError:
            return None
    real = os.path.realpath(directory)
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape(fields[1])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def is_memory_backed(directory: str | os.PathLike[str], mounts: str | None = None) -> bool:
    return file_system_type(directory, mounts) in MEMORY_FILE_SYSTEMS
