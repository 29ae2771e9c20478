"""Eviction policy of a tier: SIEVE (what `cache.tier` uses) against plain LRU, plus the cost of
checking block CRCs that every hit (and, by default, every tier open) pays.

Run from the repo root: `.venv/bin/python -m bench.cache_policy [--quick]`. Deterministic seeds.
Traces are count-based (every block the same size): Zipf popularity over 100k distinct blocks
with alpha 0.8 / 1.0 / 1.2, and a scan-resistance trace where the same hot Zipf(1.0) traffic is
interleaved with one-time sequential scans of blocks never seen again. For the scan trace the
hit ratio is over the hot requests only (scan requests miss under any policy).
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import tempfile
import time
import timeit
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Protocol

from cache.block_file import check, read_verified, write_block
from cache.blocks import BlockId
from cache.sieve import SievePolicy
from cache.tier import Tier, TierOptions

DISTINCT = 100_000
CACHE_FRACTIONS = (0.01, 0.05, 0.10)
ALPHAS = (0.8, 1.0, 1.2)
SCAN_EVERY = 20_000  # hot requests between two scans
SCAN_LENGTH = 20_000  # blocks per scan, each read once


class Policy(Protocol):
    def __len__(self) -> int: ...
    def insert(self, key: int) -> None: ...
    def access(self, key: int) -> bool: ...
    def evict(self) -> Hashable: ...


class LruPolicy:
    """Plain LRU over an OrderedDict: for comparison here only, never used by a tier."""

    def __init__(self) -> None:
        self._keys: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def insert(self, key: int) -> None:
        self._keys[key] = None

    def access(self, key: int) -> bool:
        if key not in self._keys:
            return False
        self._keys.move_to_end(key)
        return True

    def evict(self) -> int:
        return self._keys.popitem(last=False)[0]


def zipf_trace(alpha: float, length: int, seed: int) -> list[int]:
    """Block ids 0..DISTINCT-1, id k with probability proportional to 1 / (k + 1) ** alpha."""
    weights = itertools.accumulate(1.0 / (rank + 1) ** alpha for rank in range(DISTINCT))
    return random.Random(seed).choices(range(DISTINCT), cum_weights=list(weights), k=length)


def scan_trace(length: int, seed: int) -> tuple[list[int], list[bool]]:
    """Hot Zipf(1.0) requests with a scan of SCAN_LENGTH fresh ids after every SCAN_EVERY."""
    hot = iter(zipf_trace(1.0, length, seed))
    fresh = itertools.count(DISTINCT)
    trace: list[int] = []
    is_hot: list[bool] = []
    while len(trace) < length:
        chunk = list(itertools.islice(hot, SCAN_EVERY))
        if not chunk:
            break
        trace += chunk
        is_hot += [True] * len(chunk)
        trace += [next(fresh) for _ in range(SCAN_LENGTH)]
        is_hot += [False] * SCAN_LENGTH
    return trace, is_hot


def simulate(policy: Policy, trace: list[int], capacity: int) -> tuple[list[bool], float]:
    """Hit or miss for each request, and µs per request."""
    access, insert, evict = policy.access, policy.insert, policy.evict
    hits = [False] * len(trace)
    started = time.perf_counter()
    for position, key in enumerate(trace):
        if access(key):
            hits[position] = True
            continue
        if len(policy) >= capacity:
            evict()
        insert(key)
    elapsed = time.perf_counter() - started
    return hits, elapsed / len(trace) * 1e6


def _policies() -> Iterator[tuple[str, Policy]]:
    yield "SIEVE", SievePolicy[int]()
    yield "LRU", LruPolicy()


def policy_table(length: int) -> None:
    header = f"{'trace':<26}{'cache':>7}"
    header += "".join(f"{name + ' hit%':>12}{'µs/acc':>8}" for name, _ in _policies())
    print(header)
    traces: list[tuple[str, list[int], list[bool] | None]] = [
        (f"zipf alpha={alpha}", zipf_trace(alpha, length, seed=int(alpha * 10)), None)
        for alpha in ALPHAS
    ]
    scan, is_hot = scan_trace(length, seed=42)
    traces.append(("zipf 1.0 + scans (hot%)", scan, is_hot))
    for label, trace, counted in traces:
        for fraction in CACHE_FRACTIONS:
            capacity = int(DISTINCT * fraction)
            row = f"{label:<26}{fraction:>7.0%}"
            for _name, policy in _policies():
                hits, us = simulate(policy, trace, capacity)
                if counted is None:
                    ratio = sum(hits) / len(hits)
                else:
                    ratio = sum(h for h, c in zip(hits, counted, strict=True) if c) / sum(counted)
                row += f"{ratio:>12.1%}{us:>8.2f}"
            print(row)


def _ms(fn: object, number: int) -> float:
    assert callable(fn)
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e3


def verification_table(blocks: int) -> None:
    """What a CRC32C check costs per 8 MiB block, and a tier open with and without it (page
    cache warm: the CRC plus memory bandwidth; a cold device adds its read time)."""
    size = 8 << 20
    data = random.Random(1).randbytes(size)
    root = Path(tempfile.mkdtemp(prefix="pcache-bench-"))
    try:
        Tier.open(root, blocks * (size + 64) + 1)  # creates tmp/ and the layout
        ids = [BlockId.of("bench", "b", "k", "e", index) for index in range(blocks)]
        paths = [write_block(root, block_id, data) for block_id in ids]
        print(f"\n{'8 MiB block file':<34}{'ms':>8}")
        rows = (
            ("check() (CRC, chunked)", lambda: check(paths[0])),
            ("read_verified() whole block", lambda: read_verified(paths[0])),
            ("read_verified() 64 KiB slice", lambda: read_verified(paths[0], 0, 65536)),
        )
        for label, operation in rows:
            print(f"{label:<34}{_ms(operation, 10):>8.2f}")
        print(f"\n{f'Tier.open, {blocks} x 8 MiB':<34}{'ms':>8}")
        for label, verify in (("verify_on_open=True", True), ("verify_on_open=False", False)):
            options = TierOptions(verify_on_open=verify)
            ms = _ms(lambda o=options: Tier.open(root, blocks * (size + 64) + 1, o), 1)
            print(f"{label:<34}{ms:>8.1f}")
    finally:
        shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter traces (a smoke run)")
    args = parser.parse_args()
    length = 200_000 if args.quick else 1_000_000
    print(f"{DISTINCT} distinct blocks, {length} requests per trace\n")
    policy_table(length)
    verification_table(8 if args.quick else 64)


if __name__ == "__main__":
    main()
