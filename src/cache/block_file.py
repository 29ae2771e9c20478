"""The on-disk format of one block file: a fixed 64-byte header, then the payload.

Header (big-endian), `HEADER_SIZE` = `PAYLOAD_OFFSET` = 64 bytes:

    offset  size  field
         0     4  magic b"PCBK"
         4     2  format version (1)
         6     2  flags (0; reserved)
         8     8  payload length in bytes
        16     4  CRC32C (Castagnoli) of the payload
        20    32  block id (raw sha256 bytes; must match the file name)
        52    12  reserved (zero)

A block is published as `<root>/<id[:2]>/<id>`: written whole to `<root>/tmp/<random>.tmp`, then
`os.replace`d into place, so a reader sees either no file or a complete one. Names are the
fixed-length block id, never derived from an object key (CAC-17).

Durability defaults to no fsync at all: the cache holds copies, the vendor holds the data. A crash
can leave a renamed file whose data never reached the disk (zeros, a short file); the length check
and the CRC catch that on open or on read, and the block is simply a miss (FLT-13/FLT-14).

Errors: `CorruptBlock` for anything wrong with the bytes (bad magic, version, length, id or CRC);
`OSError` for the file system failing, which the caller accounts as an I/O error. The two are kept
apart on purpose: a corrupt block is evicted, a failing device is taken out of service.
"""

from __future__ import annotations

import contextlib
import enum
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from awscrt import checksums

from cache.blocks import BlockId

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "PAYLOAD_OFFSET",
    "TMP_DIR",
    "TMP_SUFFIX",
    "BlockHeader",
    "BytesLike",
    "CorruptBlock",
    "Durability",
    "Opener",
    "block_path",
    "check",
    "check_fd",
    "crc32c",
    "default_opener",
    "publish",
    "read_header",
    "read_verified",
    "sync_parent",
    "verify",
    "write_block",
    "write_temp",
]

MAGIC = b"PCBK"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">4sHHQI32s12x")
HEADER_SIZE = _HEADER.size
PAYLOAD_OFFSET = HEADER_SIZE
TMP_DIR = "tmp"
TMP_SUFFIX = ".tmp"
_VERIFY_CHUNK = 1 << 20  # bounded memory while checking a block we do not need to return

BytesLike = bytes | bytearray | memoryview
Opener = Callable[[str, int], int]
"""`(path, flags) -> fd`, like the `opener` of `open()`. The one I/O-error seam: tests inject a
failing opener to simulate EIO / ENOSPC; production uses `default_opener`."""


def default_opener(path: str, flags: int) -> int:
    """`os.open` with mode 0644 (block files are data, never executable)."""
    return os.open(path, flags, 0o644)


class CorruptBlock(Exception):
    """A block file's bytes are not what its header promises (torn, truncated or bit-rotted)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


class Durability(enum.Enum):
    """How hard a write tries to survive power loss (see the module docstring for the default)."""

    NONE = "none"  # no fsync: the checksum turns torn data into a miss
    FILE = "file"  # fsync the file before the rename: the bytes are on disk before the name is
    FULL = "full"  # also fsync the directory after the rename: the name survives power loss too


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A parsed, self-consistent header: the file is exactly `file_size` bytes long."""

    version: int
    payload_length: int
    crc32c: int
    block_id: BlockId

    @property
    def file_size(self) -> int:
        return HEADER_SIZE + self.payload_length


def crc32c(data: BytesLike, previous: int = 0) -> int:
    """CRC32C (Castagnoli) through awscrt, the C library the AWS SDKs use."""
    return int(checksums.crc32c(data, previous))


def block_path(root: Path, block_id: BlockId) -> Path:
    """`<root>/<id[:2]>/<id>`: 256-way fan-out keeps directories small."""
    return root / block_id.hex[:2] / block_id.hex


def _write_all(fd: int, data: BytesLike) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_temp(
    root: Path,
    block_id: BlockId,
    data: BytesLike,
    *,
    durability: Durability = Durability.NONE,
    opener: Opener = default_opener,
    tmp_dir: str = TMP_DIR,
) -> Path:
    """Write header + payload to a fresh `<root>/<tmp_dir>/<random>.tmp` and return its path.

    On failure the temporary file is removed and the `OSError` propagates.
    """
    data = memoryview(data).cast("B")  # lengths in bytes, whatever the buffer's item size
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(data), crc32c(data), block_id.raw)
    tmp = root / tmp_dir / f"{secrets.token_hex(16)}{TMP_SUFFIX}"
    fd = opener(os.fspath(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        _write_all(fd, header)
        _write_all(fd, data)
        if durability is not Durability.NONE:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def publish(
    root: Path, tmp: Path, block_id: BlockId, *, durability: Durability = Durability.NONE
) -> Path:
    """Rename a written temporary file into its final place (atomic; replaces an older copy)."""
    final = block_path(root, block_id)
    try:
        os.replace(tmp, final)
    except FileNotFoundError:
        if not tmp.exists():
            raise
        final.parent.mkdir(exist_ok=True)  # first block of this fan-out directory
        os.replace(tmp, final)
    if durability is Durability.FULL:
        sync_parent(final)
    return final


def sync_parent(path: Path) -> None:
    """fsync the directory holding `path`, so a rename into it survives power loss."""
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_block(
    root: Path,
    block_id: BlockId,
    data: BytesLike,
    *,
    durability: Durability = Durability.NONE,
    opener: Opener = default_opener,
) -> Path:
    """Write a block to a temporary file and publish it; returns the final path."""
    tmp = write_temp(root, block_id, data, durability=durability, opener=opener)
    try:
        return publish(root, tmp, block_id, durability=durability)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):  # a leftover .tmp is removed when the tier next opens
        os.unlink(path)


def _pread_exact(fd: int, length: int, offset: int, path: Path) -> bytes:
    """Read exactly `length` bytes, or raise CorruptBlock if the file ends first (it shrank)."""
    chunks: list[bytes] = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            raise CorruptBlock(path, "file ended before its declared length")
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _parse_header(fd: int, path: Path, expected: BlockId | None) -> BlockHeader:
    file_size = os.fstat(fd).st_size
    if file_size < HEADER_SIZE:
        raise CorruptBlock(path, f"truncated header ({file_size} bytes)")
    raw = _pread_exact(fd, HEADER_SIZE, 0, path)
    magic, version, _flags, length, crc, id_raw = _HEADER.unpack(raw)
    if magic != MAGIC:
        raise CorruptBlock(path, "bad magic")
    if version != FORMAT_VERSION:
        raise CorruptBlock(path, f"unknown format version {version}")
    if file_size != HEADER_SIZE + length:
        raise CorruptBlock(path, f"size {file_size} != header {HEADER_SIZE} + payload {length}")
    block_id = BlockId.from_bytes(id_raw)
    if expected is not None and block_id != expected:
        raise CorruptBlock(path, f"holds block {block_id}, expected {expected}")
    return BlockHeader(version, length, crc, block_id)


def read_header(
    path: Path, *, expected: BlockId | None = None, opener: Opener = default_opener
) -> BlockHeader:
    """Check magic, version, file length (and the id, when `expected` is given) without reading
    the payload: the cheap check of a tier scan with verification off."""
    fd = opener(os.fspath(path), os.O_RDONLY)
    try:
        return _parse_header(fd, path, expected)
    finally:
        os.close(fd)


def read_verified(
    path: Path,
    offset: int = 0,
    length: int | None = None,
    *,
    expected: BlockId | None = None,
    opener: Opener = default_opener,
) -> bytes:
    """Payload bytes [offset, offset + length) after checking the whole payload's CRC (CAC-09).

    The cost is one pass over the block (the whole payload is read even for a small slice: a CRC
    covers all of it). `length=None` means to the end of the payload.
    """
    fd = opener(os.fspath(path), os.O_RDONLY)
    try:
        header = _parse_header(fd, path, expected)
        if length is None:
            length = header.payload_length - offset
        if offset < 0 or length < 0 or offset + length > header.payload_length:
            raise ValueError(
                f"slice {offset}+{length} outside a {header.payload_length}-byte block"
            )
        payload = _pread_exact(fd, header.payload_length, PAYLOAD_OFFSET, path)
    finally:
        os.close(fd)
    if crc32c(payload) != header.crc32c:
        raise CorruptBlock(path, "payload CRC32C mismatch")
    if offset == 0 and length == header.payload_length:
        return payload
    return payload[offset : offset + length]


def verify(path: Path, *, expected: BlockId | None = None, opener: Opener = default_opener) -> bool:
    """Whether the block file is intact (header, length and payload CRC), reading it in bounded
    chunks. After `True`, the payload may be served with sendfile from `PAYLOAD_OFFSET`.

    `OSError` (including `FileNotFoundError` for a block evicted meanwhile) propagates: a failing
    read says nothing about the bytes.
    """
    try:
        check(path, expected=expected, opener=opener)
    except CorruptBlock:
        return False
    return True


def check(
    path: Path, *, expected: BlockId | None = None, opener: Opener = default_opener
) -> BlockHeader:
    """Like `verify`, but return the header or raise `CorruptBlock` with the reason."""
    fd = opener(os.fspath(path), os.O_RDONLY)
    try:
        return check_fd(fd, path, expected=expected)
    finally:
        os.close(fd)


def check_fd(fd: int, path: Path, *, expected: BlockId | None = None) -> BlockHeader:
    """`check` of a block file already open as `fd` (the caller keeps and closes it)."""
    header = _parse_header(fd, path, expected)
    buffer = bytearray(min(_VERIFY_CHUNK, header.payload_length))
    crc = 0
    position = 0
    while position < header.payload_length:
        view = memoryview(buffer)[: min(len(buffer), header.payload_length - position)]
        got = os.preadv(fd, [view], PAYLOAD_OFFSET + position)
        if got == 0:
            raise CorruptBlock(path, "file ended before its declared length")
        crc = crc32c(view[:got], crc)
        position += got
    if crc != header.crc32c:
        raise CorruptBlock(path, "payload CRC32C mismatch")
    return header
