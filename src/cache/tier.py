"""One tier: a directory of block files, a byte capacity and an in-memory index with SIEVE order.

Thread-safe and blocking: `TieredStore` calls it from a thread pool. The lock guards only the
index; writing and checksumming a block happen outside it, and the cheap metadata steps (rename
into place, detach an evicted file) inside, so the index and the files never disagree for another
thread: an indexed block always has its file.

Capacity counts whole files (64-byte header + payload) and is never exceeded: admission first
evicts until the new block fits. Evicted blocks are *detached* (renamed into `tmp/`) and handed to
the caller, who moves them one tier down or drops them; a crash before that just deletes them at
the next open. A free-space watermark (`min_free_bytes`, `min_free_ratio` of the file system;
5 % is kept free by default) makes admission evict more, or refuse when even an empty tier would
not keep it (FLT-11). A write that still meets ENOSPC (watermark off, or concurrent writers) is
refused and evicts a block's worth, so the tier does not stay full and refuse everything after.

No failure here reaches a client: a block that cannot be stored is refused (`stored=False`), a
corrupt one is a miss that evicts it (CAC-09), an I/O error is a miss that counts against the
device (`IoHealth`).

Start-up cost of `verify_on_open` (the default): every byte of the tier is read once. Measured
with `python -m bench.cache_policy` (page cache warm, so CRC32C plus memory bandwidth): 64 blocks x
8 MiB open in ~95 ms verified and ~4 ms with headers only, i.e. ~1.1 ms per 8 MiB block, about
5-7 GB/s. A cold device adds its read time: a 1 TB SSD tier at 2 GB/s takes ~8 minutes, so turn it
off for big tiers and rely on the per-hit check (`VerifyReads.ALWAYS` costs the same ~1.1 ms per
8 MiB hit, paid in a worker thread).
"""

from __future__ import annotations

import collections
import contextlib
import enum
import errno
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cache.block_file import (
    HEADER_SIZE,
    TMP_SUFFIX,
    BytesLike,
    CorruptBlock,
    Durability,
    Opener,
    block_path,
    check,
    check_fd,
    default_opener,
    publish,
    read_verified,
    sync_parent,
    write_temp,
)
from cache.blocks import BlockId
from cache.fs_kind import is_memory_backed
from cache.health import Clock, IoHealth
from cache.resident import RESIDENT_BLOCK_MAX, RESIDENT_BUDGET, Resident
from cache.resident import Stamp as ResidentStamp
from cache.shard import SOLE, Shard
from cache.sieve import SievePolicy
from cache.tier_scan import scan_tier

__all__ = [
    "DEFAULT_MIN_FREE_RATIO",
    "Admission",
    "Deferred",
    "Detached",
    "Move",
    "Tier",
    "TierHit",
    "TierOpen",
    "TierOptions",
    "TierStats",
    "VerifyReads",
]

_log = logging.getLogger("pcache.cache")
_T = TypeVar("_T")
# A full file system says nothing about the device's health: count it, never trip the breaker.
_NOT_THE_DEVICE = frozenset({errno.ENOSPC, errno.EDQUOT})
_FOREIGN_CHECKED_MAX = 4096
#: seconds a resident block of another worker is served before its file is looked at again: its
#: owner may have evicted it meanwhile (the bytes stay right for its id; a purge reaches every
#: worker's reads within this time)
FOREIGN_RECHECK = 1.0
#: a block this small is CRC-checked by whoever asks, even the event loop (microseconds; a hop
#: to a worker thread costs more)
INLINE_CHECK_MAX = RESIDENT_BLOCK_MAX
#: share of a tier's file system kept free unless `TierOptions.min_free_ratio` says otherwise
DEFAULT_MIN_FREE_RATIO = 0.05


class VerifyReads(enum.Enum):
    """When a hit checks the payload CRC before it is served."""

    ALWAYS = "always"  # every hit: one pass over the block, catches any later bit flip (CAC-09)
    ONCE = "once"  # the first hit per process; later hits trust the file (cheaper sendfile)
    #: ONCE on memory-backed tiers (tmpfs, ramfs), ALWAYS on tiers on a device. Media
    #: corruption on a disk leaves a file's (inode, mtime, size) stamp as it was, so only a CRC
    #: pass can see it; a memory tier's pages do not rot between two reads (ECC's job).
    ONCE_IN_MEMORY = "once_in_memory"


class Move(enum.Enum):
    """Why a block enters a tier; promotions and demotions are counted by the receiving tier."""

    ADMIT = "admit"
    PROMOTE = "promote"
    DEMOTE = "demote"


@dataclass(frozen=True, slots=True)
class TierOptions:
    """Per-tier settings besides directory and capacity (filled from config by the gateway)."""

    min_free_bytes: int = 0
    #: Keep this share of the file system free (JuiceFS keeps 10 %). On by default: a tier
    #: whose capacity exceeds its file system (or shares one with other data) must stop short of
    #: filling it, not run into ENOSPC and then refuse every block (FLT-11). 0 turns it off.
    min_free_ratio: float = DEFAULT_MIN_FREE_RATIO
    verify_on_open: bool = True
    durability: Durability = Durability.NONE
    max_io_errors: int = 3  # consecutive I/O errors that take the tier out of service
    cooldown: float = 30.0  # seconds out of service before it is tried again
    #: payload bytes of small checked blocks this process keeps in memory (`cache.resident`)
    resident_bytes: int = RESIDENT_BUDGET


@dataclass(frozen=True, slots=True)
class TierStats:
    directory: str
    capacity: int
    used: int
    blocks: int
    hits: int
    misses: int
    evictions: int
    promotions: int  # blocks promoted into this tier
    demotions: int  # blocks demoted into this tier
    checksum_failures: int
    io_errors: int
    refused: int  # admissions that could not be stored
    discarded_at_open: int
    in_service: bool
    expired: int = 0  # blocks dropped at a read because they were older than a cache TTL


@dataclass(frozen=True, slots=True)
class Detached:
    """An evicted block, out of the index, whose file waits in its tier's `tmp/` to be moved one
    tier down (`Tier.adopt`) or dropped (`Tier.drop`)."""

    block_id: BlockId
    path: Path
    file_size: int


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether a block is now in the tier, and the blocks evicted to make room for it."""

    stored: bool
    evicted: tuple[Detached, ...] = ()


@dataclass(frozen=True, slots=True)
class TierHit:
    path: Path
    payload_length: int
    hits: int  # hits since the block entered this tier (drives promotion)


_REFUSED = Admission(stored=False)
_STORED = Admission(stored=True)


@dataclass(frozen=True, slots=True)
class TierOpen:
    """A block file opened for serving: the caller owns `fd` and must close it. Open, it stays
    readable even if the block is evicted meanwhile (the inode outlives the name). A resident
    block (`cache.resident`) comes as its payload bytes instead, with `fd` -1."""

    fd: int
    payload_length: int
    hits: int
    data: bytes | None = None


class Deferred(enum.Enum):
    """`open_block(check_allowed=False)` needs work (a CRC pass, a promotion) that must not run
    on the caller's thread: ask again from a worker thread."""

    CHECK = "check"
    #: (another worker's block) older than the caller's `written_after`: its owner must drop it
    EXPIRED = "expired"


#: (inode, mtime ns, size) of a block file when its CRC last passed: any write to the file
#: changes it, so a block tampered with after its check is checked again (CAC-09)
Stamp = ResidentStamp


class _Entry:
    __slots__ = ("file_size", "hits", "stamp", "verified")

    def __init__(self, file_size: int) -> None:
        self.file_size = file_size
        self.hits = 0
        self.verified = False
        self.stamp: Stamp | None = None


class _NoRoom(Exception):
    """Even evicting every block would not make the new one fit."""


def _older_than(stamp: Stamp, written_after: float | None) -> bool:
    """Whether the file a stamp was taken of was written before a cache TTL's cut-off."""
    return written_after is not None and stamp[1] < written_after * 1e9


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):  # leftovers in tmp/ are removed at the next open
        os.unlink(path)


class Tier:
    """One directory of block files; use `Tier.open`."""

    def __init__(
        self,
        root: Path,
        capacity: int,
        options: TierOptions,
        *,
        clock: Clock,
        opener: Opener,
        shard: Shard = SOLE,
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"tier capacity must be > 0, got {capacity}")
        self._root = root
        self._root_name = os.fspath(root)
        self._shard = shard
        self._tmp = root / shard.tmp_dir
        #: other workers' blocks this worker has checked (`VerifyReads.ONCE`): the file's stamp
        #: and when (clock seconds) the file was last seen with it; bounded
        self._foreign_checked: collections.OrderedDict[BlockId, tuple[Stamp, float]] = (
            collections.OrderedDict()
        )
        self._capacity = capacity
        self._options = options
        self._opener = opener
        self._lock = threading.Lock()
        self._resident = Resident(options.resident_bytes)
        self._clock = clock
        self._index: dict[BlockId, _Entry] = {}
        self._policy: SievePolicy[BlockId] = SievePolicy()
        self._health = IoHealth(
            max_errors=options.max_io_errors, cooldown=options.cooldown, clock=clock
        )
        self._used = 0
        #: on tmpfs / ramfs: reading it cannot stall on a device (see `cache.fs_kind`)
        self.memory_backed = False
        self._hits = self._misses = self._evictions = 0
        self._promotions = self._demotions = 0
        self._checksum_failures = self._refused = self._discarded_at_open = 0
        self._expired = 0

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        capacity: int,
        options: TierOptions | None = None,
        *,
        clock: Clock = time.monotonic,
        opener: Opener = default_opener,
        shard: Shard = SOLE,
    ) -> Tier:
        """Open (creating if needed) a tier and rebuild its index from the files on disk (the
        ones this worker owns, see `cache.shard`).

        Blocks beyond `capacity` (it shrank since the last run) are deleted oldest first.
        """
        options = options or TierOptions()
        tier = cls(Path(directory), capacity, options, clock=clock, opener=opener, shard=shard)
        scan = scan_tier(tier._root, verify=options.verify_on_open, opener=opener, shard=shard)
        tier.memory_backed = is_memory_backed(tier._root)
        tier._discarded_at_open = scan.discarded
        for _ in range(scan.io_errors):
            tier._health.failure()
        for block in scan.blocks:  # oldest first, so SIEVE's queue starts in age order
            tier._index[block.block_id] = _Entry(block.file_size)
            tier._policy.insert(block.block_id)
            tier._used += block.file_size
        while tier._used > capacity:
            victim = tier._policy.evict()
            tier._used -= tier._index.pop(victim).file_size
            _unlink_quietly(block_path(tier._root, victim))
        return tier

    @property
    def root(self) -> Path:
        return self._root

    @property
    def capacity(self) -> int:
        return self._capacity

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._index

    def in_service(self) -> bool:
        with self._lock:
            return self._health.available()

    def _trusts_checked_files(self, verify: VerifyReads) -> bool:
        """Whether a block whose CRC passed before is served again without a new pass."""
        if verify is VerifyReads.ONCE_IN_MEMORY:
            return self.memory_backed
        return verify is VerifyReads.ONCE

    # Reads ------------------------------------------------------------------------------------

    def get(self, block_id: BlockId, *, verify: VerifyReads = VerifyReads.ALWAYS) -> TierHit | None:
        """Find a block and (per `verify`) check its CRC; None is a miss. Counts a hit."""
        with self._lock:
            if not self._health.available():
                return None
            entry = self._index.get(block_id)
            if entry is None:
                self._misses += 1
                return None
            checked = not self._trusts_checked_files(verify) or not entry.verified
            payload_length = entry.file_size - HEADER_SIZE
        path = block_path(self._root, block_id)
        if checked:
            header = self._guarded(
                block_id, lambda: check(path, expected=block_id, opener=self._opener)
            )
            if header is None:
                return None
        with self._lock:
            return self._record_hit(block_id, path, payload_length, verified=checked)

    def open_block(
        self,
        block_id: BlockId,
        *,
        verify: VerifyReads = VerifyReads.ONCE,
        check_allowed: bool = True,
        written_after: float | None = None,
    ) -> TierOpen | Deferred | None:
        """Open a block for serving (sendfile or pread); None is a miss. Counts a hit.

        A block whose file was written before `written_after` (wall-clock seconds: a cache TTL)
        is removed and is a miss.

        `ONCE` checks the CRC the first time and again whenever the file's stamp (inode, mtime,
        size) changed since; `ALWAYS` on every open; `ONCE_IN_MEMORY` is `ONCE` on a
        memory-backed tier and `ALWAYS` on any other. With `check_allowed=False` (the event loop
        asking) a needed check is not run: `Deferred.CHECK` says to retry in a thread.
        """
        with self._lock:
            if not self._health.available():
                return None
            entry = self._index.get(block_id)
            if entry is None:
                self._misses += 1
                return None
            trusted = entry.stamp if self._trusts_checked_files(verify) else None
            payload_length = entry.file_size - HEADER_SIZE
            resident = self._resident.get(block_id) if trusted is not None else None
        if resident is not None and resident[0] == trusted:
            served = self._open_resident(block_id, resident, written_after)
            if served is not None:
                return served
        # A string path: pathlib's joins cost more than the open on a warm 4 KiB hit.
        name = self._block_name(block_id)
        fd = self._guarded(block_id, lambda: self._opener(name, os.O_RDONLY))
        if fd is None:
            return None
        try:
            status = self._guarded(block_id, lambda: os.fstat(fd))
            if status is None:
                os.close(fd)
                return None
            if written_after is not None and status.st_mtime < written_after:
                os.close(fd)
                with self._lock:
                    self._misses += 1
                    self._expired += 1
                    self._remove_locked(block_id)
                return None
            stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
            checked = stamp != trusted
            if checked:
                if not check_allowed and not self._checks_inline(payload_length):
                    os.close(fd)
                    return Deferred.CHECK
                path = Path(name)
                if self._guarded(block_id, lambda: check_fd(fd, path, expected=block_id)) is None:
                    os.close(fd)
                    return None
            payload = self._resident_payload(fd, payload_length, verify)
            with self._lock:
                hits = self._count_hit(block_id, verified=checked)
                entry = self._index.get(block_id)
                if hits is not None and checked and entry is not None:
                    entry.stamp = stamp
                if payload is not None:
                    self._resident.put(block_id, stamp, payload)
        except BaseException:
            os.close(fd)
            raise
        if hits is None:
            os.close(fd)
            return None
        return TierOpen(fd, payload_length, hits)

    def _open_resident(
        self,
        block_id: BlockId,
        resident: tuple[Stamp, bytes],
        written_after: float | None,
    ) -> TierOpen | None:
        """A hit from resident bytes, or None to take the ordinary path (a cache TTL may have
        passed: the file's own check decides). No system call: the bytes were checked when they
        were read, and the index, which drops them with the block, still holds the block."""
        stamp, data = resident
        if _older_than(stamp, written_after):
            return None
        with self._lock:
            hits = self._count_hit(block_id, verified=False)
        if hits is None:
            return None
        return TierOpen(-1, len(data), hits, data)

    def _resident_payload(self, fd: int, payload_length: int, verify: VerifyReads) -> bytes | None:
        """The payload to keep resident, read from the checked open file; None if it should not
        be kept (too big, or a tier whose every read is checked)."""
        if not (self._trusts_checked_files(verify) and self._resident.wants(payload_length)):
            return None
        data = os.pread(fd, payload_length, HEADER_SIZE)
        return data if len(data) == payload_length else None

    def read(self, block_id: BlockId, offset: int = 0, length: int | None = None) -> bytes | None:
        """Payload bytes of a block after a full CRC check (for paths that cannot sendfile)."""
        with self._lock:
            if not self._health.available():
                return None
            if block_id not in self._index:
                self._misses += 1
                return None
        path = block_path(self._root, block_id)
        data = self._guarded(
            block_id,
            lambda: read_verified(path, offset, length, expected=block_id, opener=self._opener),
        )
        if data is not None:
            with self._lock:
                self._record_hit(block_id, path, len(data), verified=True)
        return data

    def _record_hit(
        self, block_id: BlockId, path: Path, payload_length: int, *, verified: bool
    ) -> TierHit | None:
        hits = self._count_hit(block_id, verified=verified)
        return None if hits is None else TierHit(path, payload_length, hits)

    def _count_hit(self, block_id: BlockId, *, verified: bool) -> int | None:
        """Account a hit; the block's hits in this tier, or None if it was evicted meanwhile."""
        entry = self._index.get(block_id)
        if entry is None:  # evicted while we were checking it: its path may be gone
            self._misses += 1
            return None
        entry.verified = entry.verified or verified
        entry.hits += 1
        self._hits += 1
        self._policy.access(block_id)
        return entry.hits

    def _checks_inline(self, payload_length: int) -> bool:
        """Whether a check may run on the caller's thread even when that is the event loop."""
        return self.memory_backed and payload_length <= INLINE_CHECK_MAX

    def _block_name(self, block_id: BlockId) -> str:
        """`block_path` as a string, for the hot paths."""
        hex_id = block_id.hex
        return f"{self._root_name}/{hex_id[:2]}/{hex_id}"

    def _guarded(self, block_id: BlockId, operation: Callable[[], _T]) -> _T | None:
        """Run a read of a block file, turning every failure into a miss that is accounted for."""
        try:
            result = operation()
        except CorruptBlock as error:
            _log.warning("corrupt block evicted: %s", error)
            with self._lock:
                self._checksum_failures += 1
                self._remove_locked(block_id)
            return None
        except FileNotFoundError:
            with self._lock:  # deleted behind our back: forget it, unless it was just re-added
                self._misses += 1
                if not block_path(self._root, block_id).exists():
                    self._remove_locked(block_id)
            return None
        except OSError as error:
            _log.warning("I/O error reading block %s: %s", block_id, error)
            with self._lock:
                self._io_error_locked(error)
            return None
        with self._lock:
            self._health.success()
        return result

    # Blocks another worker owns (cache.shard): by path, outside the index ----------------------

    def open_foreign(
        self,
        block_id: BlockId,
        *,
        verify: VerifyReads,
        check_allowed: bool = True,
        written_after: float | None = None,
    ) -> TierOpen | Deferred | None:
        """Open a block another worker owns; None is a miss. Checked like an own block (`verify`),
        with the stamps of checked files kept here. A corrupt file is unlinked: its owner then
        meets a missing file and forgets the block."""
        with self._lock:
            if not self._health.available():
                return None
            checked = (
                self._foreign_checked.get(block_id) if self._trusts_checked_files(verify) else None
            )
            trusted = checked[0] if checked is not None else None
            resident = self._resident.get(block_id) if checked is not None else None
        name = self._block_name(block_id)
        if checked is not None and resident is not None and resident[0] == checked[0]:
            seen = checked[1]
            served = self._open_foreign_resident(block_id, name, resident, seen, written_after)
            if served is not None:
                return served
        try:
            fd = self._opener(name, os.O_RDONLY)
        except FileNotFoundError:
            with self._lock:
                self._misses += 1
            return None
        except OSError as error:
            _log.warning("I/O error reading block %s: %s", block_id, error)
            with self._lock:
                self._io_error_locked(error)
            return None
        try:
            status = os.fstat(fd)
            if written_after is not None and status.st_mtime < written_after:
                os.close(fd)
                with self._lock:
                    self._misses += 1
                    self._expired += 1
                return Deferred.EXPIRED
            stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
            if stamp != trusted:
                if not check_allowed and not self._checks_inline(status.st_size - HEADER_SIZE):
                    os.close(fd)
                    return Deferred.CHECK
                check_fd(fd, Path(name), expected=block_id)
            payload = self._resident_payload(fd, status.st_size - HEADER_SIZE, verify)
            with self._lock:
                self._saw_foreign_locked(block_id, stamp)
                if payload is not None:
                    self._resident.put(block_id, stamp, payload)
        except CorruptBlock as error:
            os.close(fd)
            _log.warning("corrupt block removed: %s", error)
            _unlink_quietly(Path(name))
            with self._lock:
                self._checksum_failures += 1
            return None
        except OSError as error:
            os.close(fd)
            _log.warning("I/O error reading block %s: %s", block_id, error)
            with self._lock:
                self._io_error_locked(error)
            return None
        with self._lock:
            self._hits += 1
        return TierOpen(fd, status.st_size - HEADER_SIZE, 0)

    def _open_foreign_resident(
        self,
        block_id: BlockId,
        name: str,
        resident: tuple[Stamp, bytes],
        seen: float,
        written_after: float | None,
    ) -> TierOpen | None:
        """As `_open_resident`, for another worker's block: served while its file still has the
        stamp the bytes were read under, looked at (one `stat`) when it was last `seen` at least
        `FOREIGN_RECHECK` seconds ago. None takes the ordinary path (which also accounts a
        vanished file as a miss)."""
        stamp, data = resident
        if _older_than(stamp, written_after):
            return None
        if self._clock() - seen >= FOREIGN_RECHECK:
            try:
                status = os.stat(name)
            except OSError:
                return None
            if (status.st_ino, status.st_mtime_ns, status.st_size) != stamp:
                return None
            with self._lock:
                self._saw_foreign_locked(block_id, stamp)
        with self._lock:
            self._hits += 1
        return TierOpen(-1, len(data), 0, data)

    def _saw_foreign_locked(self, block_id: BlockId, stamp: Stamp) -> None:
        """Another worker's block file is checked (or seen unchanged) with `stamp`, now."""
        self._foreign_checked[block_id] = (stamp, self._clock())
        self._foreign_checked.move_to_end(block_id)
        while len(self._foreign_checked) > _FOREIGN_CHECKED_MAX:
            self._foreign_checked.popitem(last=False)

    def has_file(self, block_id: BlockId, written_after: float | None = None) -> bool:
        """Whether a block file exists here (written after `written_after`, if given): a stat,
        no check, no index (another worker's block, or an own block under a cache TTL)."""
        try:
            status = os.stat(self._block_name(block_id))
        except OSError:
            return False
        return written_after is None or status.st_mtime >= written_after

    def write_foreign(self, block_id: BlockId, data: BytesLike) -> tuple[Path, int] | None:
        """Write a block another worker owns into this worker's temporary directory, for the
        owner to `adopt`; None if it cannot be written (the block is then simply not cached)."""
        with self._lock:
            if not self._health.available():
                return None
        try:
            tmp = self._write_temp(block_id, data)
        except OSError as error:
            _log.warning("cannot write block %s: %s", block_id, error)
            return None
        return tmp, HEADER_SIZE + memoryview(data).nbytes

    def _write_temp(self, block_id: BlockId, data: BytesLike) -> Path:
        """A new block file in this worker's temporary directory (OSError if it cannot be)."""
        return write_temp(
            self._root,
            block_id,
            data,
            durability=self._options.durability,
            opener=self._opener,
            tmp_dir=self._shard.tmp_dir,
        )

    def touch(self, block_id: BlockId) -> bool:
        """Another worker served this block: count the hit toward eviction order and promotion."""
        with self._lock:
            entry = self._index.get(block_id)
            if entry is None:
                return False
            entry.hits += 1
            self._policy.access(block_id)
            return True

    def is_handoff_file(self, path: Path) -> bool:
        """Whether `path` is where another worker of this host writes blocks for their owner."""
        return path.parent.parent == self._root and path.parent.name.startswith("tmp")

    # Writes -----------------------------------------------------------------------------------

    def put(self, block_id: BlockId, data: BytesLike) -> Admission:
        """Store a block, evicting as needed. Never raises for I/O: `stored=False` instead."""
        file_size = HEADER_SIZE + memoryview(data).nbytes
        with self._lock:
            if block_id in self._index:
                return _STORED
            if not self._admissible_locked(file_size, pending=file_size):
                self._refused += 1
                return _REFUSED
        try:
            tmp = self._write_temp(block_id, data)
        except OSError as error:
            _log.warning("cannot write block %s: %s", block_id, error)
            with self._lock:
                self._io_error_locked(error)
                self._refused += 1
                # The file system is full although the watermark let the write start (it is
                # off, or other writers got there first): give back room for the next block,
                # or every later admission would fail the same way.
                freed = self._evict_locked(file_size) if error.errno in _NOT_THE_DEVICE else ()
            return Admission(stored=False, evicted=freed) if freed else _REFUSED
        # These bytes are the ones just written: the block needs no check before its first hit
        # (and a small one is resident from the start).
        written = os.stat(tmp)
        stamp = (written.st_ino, written.st_mtime_ns, written.st_size)
        small = self._resident.wants(file_size - HEADER_SIZE)
        return self._install(
            block_id, tmp, file_size, Move.ADMIT, (stamp, bytes(data) if small else None)
        )

    def adopt(
        self, source: Path, block_id: BlockId, file_size: int, *, move: Move, consume: bool
    ) -> Admission:
        """Take a block file from another tier: renamed or hard-linked when both tiers share a
        file system, copied otherwise. With `consume`, `source` is gone afterwards whatever
        happens (a demotion that is refused is a drop)."""
        with self._lock:
            present = block_id in self._index
            admissible = present or self._admissible_locked(file_size, pending=file_size)
            if not admissible:
                self._refused += 1
        if present or not admissible:
            if consume:
                _unlink_quietly(source)
            return _STORED if present else _REFUSED
        tmp = self._tmp / f"{secrets.token_hex(16)}{TMP_SUFFIX}"
        try:
            self._bring(source, tmp, consume=consume)
        except FileNotFoundError:  # the source was evicted or removed meanwhile: nothing to move
            _unlink_quietly(tmp)
            return _REFUSED
        except OSError as error:
            _log.warning("cannot move block %s into %s: %s", block_id, self._root, error)
            _unlink_quietly(tmp)
            if consume:
                _unlink_quietly(source)
            with self._lock:
                self._io_error_locked(error)
                self._refused += 1
            return _REFUSED
        return self._install(block_id, tmp, file_size, move)

    def _bring(self, source: Path, tmp: Path, *, consume: bool) -> None:
        try:
            if consume:
                os.rename(source, tmp)
            else:
                os.link(source, tmp)
            return
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        with open(source, "rb") as src, open(tmp, "xb", opener=self._opener) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            if self._options.durability is not Durability.NONE:
                dst.flush()
                os.fsync(dst.fileno())
            # A block's age is its file's mtime (cache TTL, scan order): a move keeps it.
            written = os.fstat(src.fileno())
            os.utime(dst.fileno(), ns=(written.st_atime_ns, written.st_mtime_ns))
        if consume:
            _unlink_quietly(source)

    def _install(
        self,
        block_id: BlockId,
        tmp: Path,
        file_size: int,
        move: Move,
        written: tuple[Stamp, bytes | None] | None = None,
    ) -> Admission:
        """Make room and rename a written temporary file into place, under the lock. `written`:
        the file's stamp and payload when this process wrote them (trusted as checked)."""
        with self._lock:
            if block_id in self._index:
                _unlink_quietly(tmp)
                return _STORED
            try:
                evicted = self._make_room_locked(file_size)
            except _NoRoom:
                _unlink_quietly(tmp)
                self._refused += 1
                return _REFUSED
            try:
                final = publish(self._root, tmp, block_id)
            except OSError as error:
                _unlink_quietly(tmp)
                self._io_error_locked(error)
                self._refused += 1
                return Admission(stored=False, evicted=evicted)
            entry = self._index[block_id] = _Entry(file_size)
            if written is not None:
                entry.stamp, entry.verified = written[0], True
                if written[1] is not None:
                    self._resident.put(block_id, written[0], written[1])
            self._policy.insert(block_id)
            self._used += file_size
            if move is Move.PROMOTE:
                self._promotions += 1
            elif move is Move.DEMOTE:
                self._demotions += 1
            self._health.success()
        if self._options.durability is Durability.FULL:
            self._sync_name(final)
        return Admission(stored=True, evicted=evicted)

    def _sync_name(self, final: Path) -> None:
        try:
            sync_parent(final)
        except OSError as error:  # the block is published; only its durability is in doubt
            with self._lock:
                self._io_error_locked(error)

    # Room -------------------------------------------------------------------------------------

    def _admissible_locked(self, file_size: int, *, pending: int) -> bool:
        """Could the block fit, evicting everything if need be? Cheap pre-check before a write."""
        return (
            self._health.available()
            and file_size <= self._capacity
            and self._disk_shortfall(pending) <= self._used
        )

    def _disk_shortfall(self, pending: int) -> int:
        """Bytes to free so that, after `pending` more bytes land, the file system keeps its
        watermark. The watermark is approximate: evicted files free their space only once they
        leave this file system."""
        options = self._options
        if options.min_free_bytes <= 0 and options.min_free_ratio <= 0:
            return 0
        try:
            fs = os.statvfs(self._root)
        except OSError:
            return 0
        floor = max(options.min_free_bytes, int(options.min_free_ratio * fs.f_blocks * fs.f_frsize))
        return floor - (fs.f_bavail * fs.f_frsize - pending)

    def _make_room_locked(self, file_size: int) -> tuple[Detached, ...]:
        need = max(self._used + file_size - self._capacity, self._disk_shortfall(0), 0)
        if need > self._used:
            raise _NoRoom
        return self._evict_locked(need)

    def _evict_locked(self, need: int) -> tuple[Detached, ...]:
        """Evict in SIEVE order until `need` bytes of blocks are out of the index (or none
        is left); the evicted files wait in `tmp/` for the caller (`Detached`)."""
        evicted: list[Detached] = []
        freed = 0
        while freed < need and self._index:
            victim = self._policy.evict()
            size = self._index.pop(victim).file_size
            self._resident.drop(victim)
            self._used -= size
            freed += size
            self._evictions += 1
            detached = self._detach_locked(victim, size)
            if detached is not None:
                evicted.append(detached)
        return tuple(evicted)

    def _detach_locked(self, block_id: BlockId, file_size: int) -> Detached | None:
        parked = self._tmp / f"{secrets.token_hex(16)}{TMP_SUFFIX}"
        try:
            os.rename(block_path(self._root, block_id), parked)
        except FileNotFoundError:
            return None
        except OSError as error:  # left in place, unindexed: the next open indexes it again
            self._io_error_locked(error)
            return None
        return Detached(block_id, parked, file_size)

    # Removal ----------------------------------------------------------------------------------

    def remove(self, block_id: BlockId) -> bool:
        """Delete a block from this tier (invalidation, or after promoting it upward)."""
        with self._lock:
            return self._remove_locked(block_id)

    def _remove_locked(self, block_id: BlockId) -> bool:
        entry = self._index.pop(block_id, None)
        self._resident.drop(block_id)
        if entry is None:
            return False
        self._policy.remove(block_id)
        self._used -= entry.file_size
        try:
            os.unlink(block_path(self._root, block_id))
        except FileNotFoundError:
            pass
        except OSError as error:
            self._io_error_locked(error)
        return True

    @staticmethod
    def drop(detached: Detached) -> None:
        """Delete an evicted block that no lower tier takes."""
        _unlink_quietly(detached.path)

    def _io_error_locked(self, error: OSError) -> None:
        self._health.failure(counts_against_device=error.errno not in _NOT_THE_DEVICE)

    # Stats ------------------------------------------------------------------------------------

    def stats(self) -> TierStats:
        with self._lock:
            return TierStats(
                directory=os.fspath(self._root),
                capacity=self._capacity,
                used=self._used,
                blocks=len(self._index),
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
                promotions=self._promotions,
                demotions=self._demotions,
                checksum_failures=self._checksum_failures,
                io_errors=self._health.errors,
                refused=self._refused,
                discarded_at_open=self._discarded_at_open,
                in_service=self._health.available(),
                expired=self._expired,
            )
