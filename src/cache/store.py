"""`TieredStore`: several tiers, fastest first, behind one async interface.

- `put` admits a block into the admission tier (or, if that tier refuses, the next one down).
  What a tier evicts is demoted one tier down; the last tier drops it. A demotion may evict in
  turn, so demotions cascade.
- `get` looks in every tier, fastest first, and verifies the block (see `VerifyReads`). A block
  hit `promote_after` times in tier i > 0 is promoted to tier i - 1 *before* `get` returns, in the
  same worker thread: copied (or hard-linked) up, then removed below, so the returned location is
  the new one and a failed promotion changes nothing. Simple, and the copy runs in the thread
  pool, never on the event loop; the cost lands on the one hit that crosses the threshold.
- `invalidate` removes a block from every tier.

Every file operation runs in a thread pool (`run_in_executor`); the event loop never blocks.

A returned `BlockLocation` may go away afterwards (evicted or promoted by another request):
open `path` and treat `FileNotFoundError` as a miss; once open, a later eviction does not disturb
the reader. Block ids name immutable bytes (the id hashes the ETag), so a race that leaves a second
copy in another tier wastes space but can never serve wrong bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cache.block_file import PAYLOAD_OFFSET, BytesLike, Opener, block_path, default_opener
from cache.blocks import BlockId
from cache.health import Clock
from cache.shard import SOLE, Peers, Shard
from cache.tier import (
    Deferred,
    Detached,
    Move,
    Tier,
    TierOpen,
    TierOptions,
    TierStats,
    VerifyReads,
)

__all__ = ["BlockLocation", "OpenBlock", "StoreSettings", "TierSettings", "TieredStore"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TierSettings:
    directory: str | os.PathLike[str]
    capacity: int
    options: TierOptions = field(default_factory=TierOptions)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The tiered store's settings (filled from config by the gateway). Tiers fastest first."""

    tiers: tuple[TierSettings, ...]
    admission_tier: int = 0
    promote_after: int = 2  # hits in a lower tier before a block moves up one tier
    #: CRC pass on every hit of a disk tier, on the first hit only in a memory tier (CAC-09)
    verify_reads: VerifyReads = VerifyReads.ONCE_IN_MEMORY
    #: this worker's share of the tiers when several processes share them (`cache.shard`);
    #: each tier's capacity here is already this worker's part
    shard: Shard = SOLE

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a tiered store needs at least one tier")
        if not 0 <= self.admission_tier < len(self.tiers):
            raise ValueError(f"admission_tier {self.admission_tier} is not a tier index")
        if self.promote_after < 1:
            raise ValueError(f"promote_after must be >= 1, got {self.promote_after}")


@dataclass(slots=True)
class OpenBlock:
    """A verified block, open for serving: payload bytes are `[payload_offset, + size)` of `fd`,
    or `data` itself for a resident block (`cache.resident`; then `fd` is -1). The holder must
    `close()` it (idempotent)."""

    fd: int
    size: int  # payload bytes
    tier: int
    #: the tier is memory-backed: a pread of it may run on the event loop
    inline: bool
    payload_offset: int = PAYLOAD_OFFSET
    data: bytes | None = None

    def pread(self, length: int, offset: int = 0) -> bytes:
        """`length` payload bytes from payload `offset` (a blocking read unless resident)."""
        if self.data is not None:
            return self.data[offset : offset + length]
        return os.pread(self.fd, length, self.payload_offset + offset)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


@dataclass(frozen=True, slots=True)
class BlockLocation:
    """Where a verified block's payload is: sendfile `[payload_offset + offset, length]` of
    `path`."""

    tier: int
    path: Path
    payload_offset: int
    size: int  # payload bytes


class TieredStore:
    """The node's block cache over its tiers. Build it with `TieredStore.open`."""

    def __init__(
        self,
        tiers: Sequence[Tier],
        *,
        admission_tier: int = 0,
        promote_after: int = 2,
        verify_reads: VerifyReads = VerifyReads.ALWAYS,
        executor: Executor | None = None,
        shard: Shard = SOLE,
    ) -> None:
        if not tiers or not 0 <= admission_tier < len(tiers) or promote_after < 1:
            raise ValueError("need >= 1 tier, a valid admission tier and promote_after >= 1")
        self._tiers = tuple(tiers)
        self._admission_tier = admission_tier
        self._promote_after = promote_after
        self._verify_reads = verify_reads
        self._executor = executor
        self.shard = shard
        #: set by the gateway when other workers share the tiers; without it a block another
        #: worker owns is read when present but never written
        self.peers: Peers | None = None
        self._counter_lock = threading.Lock()
        self.hits = 0  # gets and reads served by some tier
        self.misses = 0  # gets and reads no tier could serve

    @classmethod
    async def open(
        cls,
        settings: StoreSettings,
        *,
        executor: Executor | None = None,
        clock: Clock = time.monotonic,
        opener: Opener = default_opener,
    ) -> TieredStore:
        """Open every tier (scanning and, if configured, verifying its files) off the loop."""
        loop = asyncio.get_running_loop()
        tiers = [
            await loop.run_in_executor(
                executor,
                functools.partial(
                    Tier.open,
                    spec.directory,
                    spec.capacity,
                    spec.options,
                    clock=clock,
                    opener=opener,
                    shard=settings.shard,
                ),
            )
            for spec in settings.tiers
        ]
        return cls(
            tiers,
            admission_tier=settings.admission_tier,
            promote_after=settings.promote_after,
            verify_reads=settings.verify_reads,
            executor=executor,
            shard=settings.shard,
        )

    @property
    def tiers(self) -> tuple[Tier, ...]:
        return self._tiers

    async def _in_thread(self, function: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def get(self, block_id: BlockId) -> BlockLocation | None:
        """A verified block's location, or None (a miss). May promote the block first."""
        return await self._in_thread(functools.partial(self._get, block_id))

    async def open_block(
        self, block_id: BlockId, written_after: float | None = None
    ) -> OpenBlock | None:
        """Open a verified block for serving (sendfile / pread), or None (a miss).

        `written_after` (wall-clock seconds) is a cache TTL: an older block is dropped (by its
        owner) and is a miss.

        A block in a memory-backed tier that needs no check is opened right here on the event
        loop (microseconds); anything else (a first CRC pass, a promotion, a device) runs in a
        worker thread.
        """
        if not self.shard.owns(block_id):
            return await self._open_foreign(block_id, written_after)
        for tier in self._tiers:
            if block_id in tier:
                if tier.memory_backed:
                    opened = self._open(block_id, check_allowed=False, written_after=written_after)
                    if not isinstance(opened, Deferred):
                        return opened
                break
        result = await self._in_thread(
            functools.partial(self._open, block_id, check_allowed=True, written_after=written_after)
        )
        return None if isinstance(result, Deferred) else result

    async def read(
        self, block_id: BlockId, offset: int = 0, length: int | None = None
    ) -> bytes | None:
        """A verified slice of a block's payload, for callers that cannot sendfile (TLS, peers)."""
        return await self._in_thread(functools.partial(self._read, block_id, offset, length))

    async def put(self, block_id: BlockId, data: BytesLike) -> bool:
        """Cache a block; False when no tier could store it (the caller serves it anyway)."""
        if not self.shard.owns(block_id):
            return await self._put_foreign(block_id, data)
        return await self._in_thread(functools.partial(self._put, block_id, data))

    async def invalidate(self, block_id: BlockId) -> bool:
        """Remove a block from every tier; True if some tier held it."""
        if not self.shard.owns(block_id):
            if self.peers is None:
                return False
            return await self.peers.invalidate(self.shard.owner(block_id), block_id)
        return await self._in_thread(functools.partial(self._invalidate, block_id))

    def contains(self, block_id: BlockId, written_after: float | None = None) -> bool:
        """Whether some tier indexes the block (memory only: no I/O, no verification), to
        label a response hit / miss / partial before its body is read. Another worker's block,
        or one under a cache TTL (`written_after`), costs a stat per tier."""
        if not self.shard.owns(block_id):
            return any(tier.has_file(block_id, written_after) for tier in self._tiers)
        if written_after is not None:
            return any(
                block_id in tier and tier.has_file(block_id, written_after) for tier in self._tiers
            )
        return any(block_id in tier for tier in self._tiers)

    # Another worker's side of the handoff (cache.shard) ----------------------------------------

    async def adopt(self, block_id: BlockId, tier: int, path: Path, file_size: int) -> bool:
        """Take in a block another worker of this host fetched for us (it wrote the file in its
        temporary directory of tier `tier`); the file is gone afterwards either way."""
        if not (
            self.shard.owns(block_id)
            and 0 <= tier < len(self._tiers)
            and self._tiers[tier].is_handoff_file(path)
        ):
            return False
        return await self._in_thread(
            functools.partial(self._adopt, block_id, tier, path, file_size)
        )

    def touch(self, block_ids: Sequence[BlockId]) -> None:
        """Other workers served these blocks: count the hits (eviction order, promotion)."""
        for block_id in block_ids:
            if self.shard.owns(block_id):
                for tier in self._tiers:
                    if tier.touch(block_id):
                        break

    def stats(self) -> tuple[TierStats, ...]:
        """Per-tier counters, fastest tier first (cheap: no I/O)."""
        return tuple(tier.stats() for tier in self._tiers)

    def _count(self, *, hit: bool) -> None:
        with self._counter_lock:  # worker threads race on `+=`
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    async def _open_foreign(
        self, block_id: BlockId, written_after: float | None
    ) -> OpenBlock | None:
        owner = self.shard.owner(block_id)
        for index, tier in enumerate(self._tiers):
            opened: TierOpen | Deferred | None = Deferred.CHECK
            if tier.memory_backed:  # as for own blocks: the event loop may open a tmpfs file
                opened = tier.open_foreign(
                    block_id,
                    verify=self._verify_reads,
                    check_allowed=False,
                    written_after=written_after,
                )
            if opened is Deferred.CHECK:
                opened = await self._in_thread(
                    functools.partial(
                        tier.open_foreign,
                        block_id,
                        verify=self._verify_reads,
                        written_after=written_after,
                    )
                )
            if opened is Deferred.EXPIRED:
                if self.peers is not None:  # its owner drops it, so a fresh copy can be cached
                    await self.peers.invalidate(owner, block_id)
                break
            if isinstance(opened, TierOpen):
                self._count(hit=True)
                if self.peers is not None:
                    self.peers.touched(owner, block_id)
                return _open_block(opened, index, tier.memory_backed)
        self._count(hit=False)
        return None

    async def _put_foreign(self, block_id: BlockId, data: BytesLike) -> bool:
        if self.peers is None:
            return False
        tier = self._admission_tier
        written = await self._in_thread(
            functools.partial(self._tiers[tier].write_foreign, block_id, data)
        )
        if written is None:
            return False
        path, file_size = written
        try:
            adopted = await self.peers.adopt(
                self.shard.owner(block_id), block_id, tier, path, file_size
            )
        finally:
            # Adopted: renamed away already. Refused or unreachable owner: not cached.
            await self._in_thread(functools.partial(_unlink_missing_ok, path))
        return adopted

    # The blocking halves, run in the executor --------------------------------------------------

    def _adopt(self, block_id: BlockId, tier: int, path: Path, file_size: int) -> bool:
        if any(block_id in t for t in self._tiers):
            _unlink_missing_ok(path)
            return True
        admission = self._tiers[tier].adopt(
            path, block_id, file_size, move=Move.ADMIT, consume=True
        )
        self._settle(tier, admission.evicted)
        return admission.stored

    def _get(self, block_id: BlockId) -> BlockLocation | None:
        for index, tier in enumerate(self._tiers):
            hit = tier.get(block_id, verify=self._verify_reads)
            if hit is None:
                continue
            if index > 0 and hit.hits >= self._promote_after and self._promote(index, block_id):
                index -= 1
                path = block_path(self._tiers[index].root, block_id)
            else:
                path = hit.path
            self._count(hit=True)
            return BlockLocation(index, path, PAYLOAD_OFFSET, hit.payload_length)
        self._count(hit=False)
        return None

    def _open(
        self, block_id: BlockId, *, check_allowed: bool, written_after: float | None = None
    ) -> OpenBlock | Deferred | None:
        for index, tier in enumerate(self._tiers):
            opened = tier.open_block(
                block_id,
                verify=self._verify_reads,
                check_allowed=check_allowed,
                written_after=written_after,
            )
            if opened is None:
                continue
            if isinstance(opened, Deferred):
                return opened
            if index > 0 and opened.hits >= self._promote_after:
                if not check_allowed:
                    _close_fd(opened)
                    return Deferred.CHECK
                if self._promote(index, block_id):
                    _close_fd(opened)
                    # Served from its new place; the copy there is checked like any other.
                    return self._open(block_id, check_allowed=True, written_after=written_after)
            self._count(hit=True)
            return _open_block(opened, index, tier.memory_backed)
        self._count(hit=False)
        return None

    def _read(self, block_id: BlockId, offset: int, length: int | None) -> bytes | None:
        for tier in self._tiers:
            data = tier.read(block_id, offset, length)
            if data is not None:
                self._count(hit=True)
                return data
        self._count(hit=False)
        return None

    def _put(self, block_id: BlockId, data: BytesLike) -> bool:
        if any(block_id in tier for tier in self._tiers):
            return True
        for index in range(self._admission_tier, len(self._tiers)):
            admission = self._tiers[index].put(block_id, data)
            self._settle(index, admission.evicted)
            if admission.stored:
                return True
        return False

    def _promote(self, index: int, block_id: BlockId) -> bool:
        """Copy a block up one tier, then remove it below. False leaves it where it was."""
        lower, upper = self._tiers[index], self._tiers[index - 1]
        source = block_path(lower.root, block_id)
        try:
            file_size = source.stat().st_size
        except OSError:
            return False
        admission = upper.adopt(source, block_id, file_size, move=Move.PROMOTE, consume=False)
        if admission.stored:
            lower.remove(block_id)
        self._settle(index - 1, admission.evicted)
        return admission.stored

    def _settle(self, index: int, evicted: Sequence[Detached]) -> None:
        """Demote what tier `index` evicted into the tier below, cascading; the last tier drops."""
        pending = deque((index, detached) for detached in evicted)  # oldest first: keeps age order
        while pending:
            source, detached = pending.popleft()
            if source + 1 >= len(self._tiers):
                Tier.drop(detached)
                continue
            admission = self._tiers[source + 1].adopt(
                detached.path, detached.block_id, detached.file_size, move=Move.DEMOTE, consume=True
            )
            pending.extend((source + 1, more) for more in admission.evicted)

    def _invalidate(self, block_id: BlockId) -> bool:
        removed = [tier.remove(block_id) for tier in self._tiers]
        return any(removed)


def _unlink_missing_ok(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _open_block(opened: TierOpen, tier: int, memory_backed: bool) -> OpenBlock:
    if opened.data is not None:
        return OpenBlock(-1, opened.payload_length, tier, True, data=opened.data)
    return OpenBlock(opened.fd, opened.payload_length, tier, memory_backed)


def _close_fd(opened: TierOpen) -> None:
    if opened.fd >= 0:
        os.close(opened.fd)
