"""The fixed mmap threshold: a freed block-sized buffer leaves the process (glibc)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

SCRIPT = """
import sys
from gateway.malloc_tune import return_big_buffers

def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

if sys.argv[1] == "tuned":
    assert return_big_buffers()
first = bytearray(8 << 20)  # glibc raises its dynamic threshold when this mmap is freed
del first
base = rss_kib()
for _ in range(8):
    buf = bytearray(8 << 20)  # touched: every page resident
    del buf
print(rss_kib() - base)
"""


def _growth_kib(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_return_big_buffers__freed_block_buffers_do_not_stay_resident() -> None:
    assert _growth_kib("tuned") < 2048


def test_tune_gc__young_collections_are_rarer_and_start_up_objects_frozen() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc; from gateway.malloc_tune import GC_THRESHOLD, tune_gc\n"
            "kept = [object() for _ in range(1000)]\n"
            "tune_gc()\n"
            "print(gc.get_threshold()[0] == GC_THRESHOLD, gc.get_freeze_count() >= 1000)",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == ["True", "True"]
