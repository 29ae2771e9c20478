"""Give big buffers back to the kernel as soon as they are freed.

Block-sized buffers (8 MiB by default) come and go on every cold read. glibc serves an
allocation that large with its own mmap, but after the first one is freed it raises its mmap
threshold to match (up to 32 MiB), so later block buffers come from the heap and their pages stay
in the process after they are freed: measured, a gateway's RSS settled 40-70 MiB higher after a
few cold 256 MiB reads. Fixing the threshold at 1 MiB keeps every such buffer an mmap of its own.
Anything but glibc (or no ctypes) is left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

__all__ = ["GC_THRESHOLD", "MMAP_THRESHOLD", "return_big_buffers", "tune_gc"]

log = logging.getLogger("pcache.node")

MMAP_THRESHOLD = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def return_big_buffers() -> bool:
    """Apply the fixed threshold to this process; True if glibc took it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not applied:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; heap buffers may stay resident")
    return applied


#: allocations between young-generation collections (CPython's default is 700)
GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """Once the node is up: what it built at start moves out of the collector's sight, and young
    collections run every GC_THRESHOLD allocations instead of every 700. A request allocates a
    few hundred objects that reference counting frees; the default made the collector run every
    couple of requests, scanning live objects to find almost no cycles."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, older, oldest)
