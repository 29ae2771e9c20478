"""Block math: which blocks an object has, which bytes of them a range needs, and block ids.

Pure functions only. A block id is the one place that names a block, so the key function lives
here and nowhere else formats a block key.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

__all__ = [
    "BLOCK_ID_BYTES",
    "BLOCK_ID_HEX_LENGTH",
    "BlockId",
    "Slice",
    "block_count",
    "block_span",
    "blocks_for_range",
]

BLOCK_ID_BYTES = 32
BLOCK_ID_HEX_LENGTH = 2 * BLOCK_ID_BYTES
_HEX_DIGITS = frozenset("0123456789abcdef")
# A domain tag so a block id can never equal a sha256 some other part of PCache computes over
# similar fields; bump the suffix if the encoding below ever changes.
_DOMAIN = b"pcache/block-id/v1"
_LENGTH = struct.Struct(">Q")


def _field(text: str) -> bytes:
    """One length-prefixed field. Length-prefixing makes the encoding injective: ("a", "bc") and
    ("ab", "c") concatenate to the same text but never to the same bytes here. `surrogatepass`
    keeps the function total for any Python string (keys are decoded strictly upstream)."""
    raw = text.encode("utf-8", "surrogatepass")
    return _LENGTH.pack(len(raw)) + raw


@dataclass(frozen=True, slots=True)
class BlockId:
    """The name of one cached block: 64 lowercase hex characters (a sha256).

    It hashes who the bytes belong to (the target identity, the vendor bucket, the key), which
    version (the ETag) and which block (the index), so different tenants, targets or versions
    never share a block, and a file name never carries any part of a key.
    """

    hex: str

    def __post_init__(self) -> None:
        if len(self.hex) != BLOCK_ID_HEX_LENGTH or not _HEX_DIGITS.issuperset(self.hex):
            raise ValueError(f"not a block id: {self.hex!r}")

    @classmethod
    def of(
        cls, target: str, bucket: str, key: str, etag: str, index: int, *, block_size: int = 0
    ) -> BlockId:
        """The id of block `index` of the object version (`target`, `bucket`, `key`, `etag`).

        `block_size` (when given, as the gateway always does) is part of the id too: block 3 of
        8 MiB blocks and block 3 of 1 MiB blocks are different bytes, so a changed block size
        can never serve a block cut the old way.
        """
        if index < 0:
            raise ValueError(f"block index must be >= 0, got {index}")
        digest = hashlib.sha256(_DOMAIN)
        for text in (target, bucket, key, etag):
            digest.update(_field(text))
        digest.update(_LENGTH.pack(index))
        if block_size:
            digest.update(b"size" + _LENGTH.pack(block_size))
        return cls(digest.hexdigest())

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockId:
        """The id stored in a block file header (its 32 raw bytes)."""
        if len(raw) != BLOCK_ID_BYTES:
            raise ValueError(f"a block id is {BLOCK_ID_BYTES} bytes, got {len(raw)}")
        return cls(raw.hex())

    @property
    def raw(self) -> bytes:
        """The 32 bytes written into a block file header."""
        return bytes.fromhex(self.hex)

    def __str__(self) -> str:
        return self.hex


@dataclass(frozen=True, slots=True)
class Slice:
    """The part of one block a byte range needs: `length` bytes from `offset` inside block
    `index`."""

    index: int
    offset: int
    length: int


def _check_geometry(size: int, block_size: int) -> None:
    if size < 0:
        raise ValueError(f"object size must be >= 0, got {size}")
    if block_size <= 0:
        raise ValueError(f"block size must be > 0, got {block_size}")


def block_count(size: int, block_size: int) -> int:
    """How many blocks an object of `size` bytes has: an object smaller than a block is one
    block, and a 0-byte object has none (there is nothing to cache)."""
    _check_geometry(size, block_size)
    return -(-size // block_size)


def block_span(size: int, block_size: int, index: int) -> tuple[int, int]:
    """The inclusive object byte range (first, last) that block `index` holds. Every block is
    `block_size` long except the last, which holds what remains."""
    count = block_count(size, block_size)
    if not 0 <= index < count:
        raise IndexError(f"block {index} out of range for {count} blocks")
    first = index * block_size
    return first, min(first + block_size, size) - 1


def blocks_for_range(size: int, block_size: int, first: int, last: int) -> list[Slice]:
    """The slices that cover the inclusive byte range [first, last] of an object, in order.

    Only blocks that intersect the range appear; the slices are contiguous and their lengths sum
    to `last - first + 1`. The range must lie within the object (resolve suffix and open-ended
    HTTP ranges before calling).
    """
    _check_geometry(size, block_size)
    if not 0 <= first <= last < size:
        raise ValueError(f"range {first}-{last} is not within an object of {size} bytes")
    slices: list[Slice] = []
    for index in range(first // block_size, last // block_size + 1):
        block_first = index * block_size
        start = max(first, block_first)
        end = min(last, block_first + block_size - 1)
        slices.append(Slice(index, start - block_first, end - start + 1))
    return slices
