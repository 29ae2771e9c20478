"""Small helpers shared by the S3Upstream tests: bodies as async iterators, reading streams."""

from __future__ import annotations

import base64
import zlib
from collections.abc import AsyncIterator

from router.models import ObjectStream


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(stream: ObjectStream) -> bytes:
    return b"".join([chunk async for chunk in stream.body])


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-per-256 bytes (no os.urandom: reproducible failures)."""
    block = bytes((i * 31 + seed) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]
