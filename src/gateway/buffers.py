"""Block-sized bodies gathered without heap churn.

A block (8 MiB by default) read from a vendor or from another worker arrives in many small
chunks. Keeping them in a list and joining at the end puts megabytes of short-lived chunks on
the heap per block, and after a few cold big reads a worker's RSS stayed tens of MiB higher.
Here the chunks are copied into one buffer of the final size as they come (a buffer that big is
its own mmap, see `gateway.malloc_tune`, so it leaves the process when freed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["read_exactly"]


async def read_exactly(chunks: AsyncIterator[bytes], size: int) -> bytes:
    """Exactly `size` bytes from `chunks`; ValueError if they are more or fewer."""
    buffer = bytearray(size)
    got = 0
    async for chunk in chunks:
        end = got + len(chunk)
        if end > size:
            raise ValueError(f"body longer than {size} bytes")
        buffer[got:end] = chunk
        got = end
    if got != size:
        raise ValueError(f"body ended after {got} of {size} bytes")
    return bytes(buffer)
