"""Several worker processes on one host share its tier directories: each owns a shard of the
block ids.

A block belongs to worker `int(id[-8:], 16) % count`. Only the owner indexes it, counts it
against its capacity (the tier's capacity divided by `count`) and evicts, promotes or demotes it,
so no two processes ever disagree about a file. Every worker may *read* any block: the path is a
pure function of the id (`block_file.block_path`), and a file is immutable once renamed into place
and stays readable through an open descriptor after an eviction unlinks it. A worker that fetched a
block it does not own writes it in its own temporary directory and asks the owner to adopt it
(rename into place, with the owner's capacity accounting).

Layout: blocks live where a single process would put them, so changing the worker count moves
ownership only (each worker indexes what it owns at the next start, nothing is lost or left
behind). Temporary files are per worker (`tmp-w<i>/`), because a starting worker clears its own
temporaries and must not delete another's half-written block; worker 0 also clears `tmp/` and the
directories of workers beyond `count`, left by an earlier run with a different count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cache.block_file import TMP_DIR
from cache.blocks import BlockId

__all__ = ["SOLE", "Peers", "Shard"]


@dataclass(frozen=True, slots=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"worker {self.index} of {self.count} is not a shard")

    def owner(self, block_id: BlockId) -> int:
        return 0 if self.count == 1 else int(block_id.hex[-8:], 16) % self.count

    def owns(self, block_id: BlockId) -> bool:
        return self.count == 1 or self.owner(block_id) == self.index

    @property
    def tmp_dir(self) -> str:
        return TMP_DIR if self.count == 1 else f"{TMP_DIR}-w{self.index}"

    def stale_tmp_dirs(self, names: list[str]) -> list[str]:
        """Of a tier root's entries, the temporary directories this worker clears at start."""
        mine = {self.tmp_dir}
        if self.index == 0:
            mine.add(TMP_DIR)
            for name in names:
                suffix = name.removeprefix(f"{TMP_DIR}-w")
                if suffix != name and suffix.isdigit() and int(suffix) >= self.count:
                    mine.add(name)
        return sorted(n for n in names if n in mine)


#: a process alone with its tiers
SOLE = Shard()


class Peers(Protocol):
    """How a worker reaches the other workers of its host (the gateway provides it)."""

    async def adopt(self, owner: int, block_id: BlockId, tier: int, path: Path, size: int) -> bool:
        """Ask `owner` to take the block file at `path` into tier `tier`; True if it did."""

    async def invalidate(self, owner: int, block_id: BlockId) -> bool:
        """Ask `owner` to drop a block; True if it held it."""

    def touched(self, owner: int, block_id: BlockId) -> None:
        """Tell `owner`, eventually and in batches, that this worker served its block."""
