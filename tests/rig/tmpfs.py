"""A private tmpfs of a given size for tests that need a file system to fill up (FLT-11)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["mounted_tmpfs"]


@contextlib.contextmanager
def mounted_tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """Mount a `size` (e.g. "4m") tmpfs on `directory` (created), unmount on exit. Skips the
    test where mounting is not allowed (not root, no CAP_SYS_ADMIN); CI runs as root."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", os.fspath(directory)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield directory
    finally:
        # Lazy: a gateway that still holds a file open must not keep the mount alive.
        subprocess.run(["umount", "-l", os.fspath(directory)], check=False)
