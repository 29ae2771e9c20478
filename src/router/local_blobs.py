"""Blob files of the local-directory vendor: writing a body to a temp file while hashing it, and
reading byte spans back as an async body that owns its open file descriptor.

Blocking calls run through a `Runner` (the vendor's thread pool); nothing here holds a whole body.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import weakref
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

from awscrt import checksums as crt

from router.errors import UpstreamError

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "DEFAULT_CHECKSUM",
    "READ_CHUNK",
    "BlobBody",
    "BlobWriter",
    "Checksummer",
    "Runner",
    "Spooled",
    "composite_checksum",
    "copy_span",
    "feed",
    "new_checksummer",
]

T = TypeVar("T")
P = ParamSpec("P")


class Runner(Protocol):
    """Runs a blocking call off the event loop (the vendor's thread pool)."""

    def __call__(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...


READ_CHUNK = 256 * 1024
# Chunks from the client are gathered up to this much before one thread hop writes them: fewer
# hops for tiny chunks, and memory stays bounded by it.
WRITE_BATCH = 1024 * 1024
DEFAULT_CHECKSUM = "CRC64NVME"


class Checksummer(Protocol):
    def update(self, data: bytes) -> None: ...
    def digest(self) -> bytes: ...


class _Crc:
    """CRC32 / CRC32C / CRC64NVME, big-endian bytes as in x-amz-checksum-* (base64 of those)."""

    def __init__(self, fn: Callable[[bytes, int], int], width: int):
        self._fn = fn
        self._width = width
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _zlib_crc32(data: bytes, value: int) -> int:
    return zlib.crc32(data, value)


_CRCS: dict[str, tuple[Callable[[bytes, int], int], int]] = {
    "CRC32": (_zlib_crc32, 4),
    "CRC32C": (crt.crc32c, 4),
    "CRC64NVME": (crt.crc64nvme, 8),
}
_HASHES = {"SHA1": "sha1", "SHA256": "sha256"}
CHECKSUM_ALGORITHMS = frozenset(_CRCS) | frozenset(_HASHES)


def new_checksummer(algorithm: str) -> Checksummer:
    name = algorithm.upper()
    if name in _CRCS:
        fn, width = _CRCS[name]
        return _Crc(fn, width)
    if name in _HASHES:
        return hashlib.new(_HASHES[name])
    raise UpstreamError("InvalidRequest", 400)


def composite_checksum(algorithm: str, part_values: list[str]) -> str:
    """S3's multipart COMPOSITE checksum: the algorithm over the concatenated binary part checksums,
    base64, then `-N` (AWS "Checking object integrity", multipart uploads)."""
    summer = new_checksummer(algorithm)
    summer.update(b"".join(base64.b64decode(v) for v in part_values))
    return f"{base64.b64encode(summer.digest()).decode()}-{len(part_values)}"


@dataclass(frozen=True, slots=True)
class Spooled:
    """A fully written temp file and what was computed while writing it."""

    path: Path
    size: int
    md5: bytes
    checksum: str | None  # base64, for the algorithm the writer was given


class BlobWriter:
    """A temp file being filled from another thread; every write hashes as it goes.

    A lock serialises write/finish/discard, so a discard issued after a cancelled await waits for
    the in-flight write instead of closing the descriptor under it.
    """

    def __init__(self, path: Path, fd: int, checksum: Checksummer | None, *, md5: bool):
        self.path = path
        self._fd = fd
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._checksum = checksum
        self._size = 0
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls, path: Path, checksum: Checksummer | None = None, *, md5: bool = True
    ) -> BlobWriter:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        return cls(path, os.open(path, flags, 0o644), checksum, md5=md5)

    @property
    def size(self) -> int:
        return self._size

    def write_all(self, chunks: Iterable[bytes]) -> None:
        with self._lock:
            for chunk in chunks:
                self._write(chunk)

    def _write(self, chunk: bytes) -> None:
        if self._fd < 0:
            raise OSError("blob writer is closed")
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._md5 is not None:
            self._md5.update(chunk)
        if self._checksum is not None:
            self._checksum.update(chunk)
        self._size += len(chunk)

    def finish(self) -> Spooled:
        # No fsync: the local vendor is for development and single nodes (see the module docstring
        # of router.local_upstream); rename still makes the swap atomic.
        with self._lock:
            os.close(self._fd)
            self._fd = -1
        checksum = self._checksum
        return Spooled(
            path=self.path,
            size=self._size,
            md5=self._md5.digest() if self._md5 is not None else b"",
            checksum=base64.b64encode(checksum.digest()).decode() if checksum else None,
        )

    def discard(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.path.unlink(missing_ok=True)


async def feed(body: AsyncIterator[bytes], writer: BlobWriter, run: Runner) -> None:
    """Drain `body` into `writer`, batching chunks so memory stays under about WRITE_BATCH."""
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in body:
        if not chunk:
            continue
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= WRITE_BATCH:
            batch, pending, pending_size = pending, [], 0
            await run(writer.write_all, batch)
    if pending:
        await run(writer.write_all, pending)


def copy_span(src_fd: int, first: int, length: int, writer: BlobWriter) -> None:
    """Copy `length` bytes at `first` of an open blob into `writer` (blocking; run in a thread)."""
    offset, end = first, first + length
    while offset < end:
        data = os.pread(src_fd, min(WRITE_BATCH, end - offset), offset)
        if not data:
            raise UpstreamError("InternalError", 500)  # the blob is shorter than its index row
        writer.write_all((data,))
        offset += len(data)


class BlobBody:
    """An async body reading `length` bytes at `offset` of an open blob in READ_CHUNK reads.

    It owns the descriptor from the moment it is built, so an overwrite that renames a new blob
    in and unlinks this one does not disturb a read in progress (POSIX unlink semantics), and a
    body closed without being iterated (or simply dropped) still closes it.
    """

    def __init__(self, fd: int, offset: int, length: int, run: Runner):
        self._fd = fd
        self._offset = offset
        self._remaining = length
        self._run = run
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, os.close, fd)

    def __aiter__(self) -> BlobBody:
        return self

    async def __anext__(self) -> bytes:
        if self._remaining <= 0:
            self._close()
            raise StopAsyncIteration
        data = await self._run(self._read, min(READ_CHUNK, self._remaining))
        if not data:
            closed = not self._finalizer.alive
            self._close()
            if closed:  # closed by aclose() while this read was queued
                raise StopAsyncIteration
            raise UpstreamError("InternalError", 500)  # blob truncated under its index row
        self._offset += len(data)
        self._remaining -= len(data)
        if self._remaining <= 0:
            self._close()  # a consumer that stops at content_length never asks again
        return data

    def _read(self, size: int) -> bytes:
        with self._lock:
            if not self._finalizer.alive:
                return b""
            return os.pread(self._fd, size, self._offset)

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        # Waits for a read still running in a worker thread, then closes exactly once.
        with self._lock:
            self._finalizer()
