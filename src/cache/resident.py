"""Small checked block payloads kept in process memory, each with the stamp of its file.

A warm hit of a small block otherwise costs open, fstat, pread and close of its file. On a tier
that trusts a checked stamp (tmpfs by default), the payload of a small block is kept once it has
been checked and read, with the file's stamp (inode, mtime ns, size) at that moment:

- an own block is then served from memory with no system call: its bytes passed the CRC when
  they were read, and the tier's index drops them together with the block (eviction, demotion,
  purge, invalidation), so they are served exactly as long as the block is cached. A cache TTL
  compares against the stamp's mtime. A file changed behind the tier's back is not read at all,
  so it cannot be served (CAC-09 holds: only checked bytes leave);
- another worker's block (`cache.shard`) costs one `stat` a second: its owner may evict it at
  any time, so the bytes are served only while the file still has the stamp they were read
  under, looked at again at most `tier.FOREIGN_RECHECK` seconds after it was last seen.

Bounded by a byte budget, least recently used first out. Not thread-safe: the owning tier calls
it under its lock.
"""

from __future__ import annotations

from collections import OrderedDict

from cache.blocks import BlockId

__all__ = ["RESIDENT_BLOCK_MAX", "RESIDENT_BUDGET", "Resident", "Stamp"]

#: (inode, mtime ns, size) of a block file
Stamp = tuple[int, int, int]

#: blocks up to this payload size may be resident (a 4 KiB object is one such block)
RESIDENT_BLOCK_MAX = 64 * 1024
#: default bytes of payload one tier keeps resident per process
RESIDENT_BUDGET = 32 * 1024 * 1024


class Resident:
    def __init__(self, budget: int = RESIDENT_BUDGET, block_max: int = RESIDENT_BLOCK_MAX) -> None:
        self._budget = budget
        self._block_max = min(block_max, budget)
        self._entries: OrderedDict[BlockId, tuple[Stamp, bytes]] = OrderedDict()
        self._used = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def used(self) -> int:
        """Payload bytes held."""
        return self._used

    def wants(self, payload_length: int) -> bool:
        """Whether a payload of this size would be kept."""
        return 0 < payload_length <= self._block_max

    def get(self, block_id: BlockId) -> tuple[Stamp, bytes] | None:
        found = self._entries.get(block_id)
        if found is not None:
            self._entries.move_to_end(block_id)
        return found

    def put(self, block_id: BlockId, stamp: Stamp, payload: bytes) -> None:
        if not self.wants(len(payload)):
            return
        self.drop(block_id)
        self._entries[block_id] = (stamp, payload)
        self._used += len(payload)
        while self._used > self._budget:
            _, (_, old) = self._entries.popitem(last=False)
            self._used -= len(old)

    def drop(self, block_id: BlockId) -> None:
        found = self._entries.pop(block_id, None)
        if found is not None:
            self._used -= len(found[1])

    def clear(self) -> None:
        self._entries.clear()
        self._used = 0
