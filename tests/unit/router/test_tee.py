"""`Tee`: one body read once, to several readers, in bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from router.tee import Tee


async def _source(n: int, size: int = 10, fail_at: int | None = None) -> AsyncIterator[bytes]:
    for i in range(n):
        if fail_at == i:
            raise ValueError("bad body")
        yield bytes([i % 256]) * size


async def _collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


async def test_tee__every_reader_gets_every_byte() -> None:
    tee = Tee(_source(50), 3, depth=2)
    tee.start()
    got = await asyncio.gather(*(_collect(tee.reader(i)) for i in range(3)))
    expected = b"".join(bytes([i]) * 10 for i in range(50))
    assert got == [expected] * 3
    await tee.close()


async def test_tee__source_is_read_in_step_with_the_slowest_reader() -> None:
    read = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal read
        for i in range(100):
            read += 1
            yield bytes([i])

    tee = Tee(counted(), 2, depth=4)
    tee.start()
    fast = asyncio.ensure_future(_collect(tee.reader(0)))
    slow = tee.reader(1)
    for _ in range(500):  # let the pump and the fast reader run as far as they can
        await asyncio.sleep(0)
    assert read <= 4 + 2  # bounded: the slow reader's queue (depth) plus the chunks in hand
    rest = await _collect(slow)
    assert len(rest) == 100 and len(await fast) == 100
    await tee.close()


async def test_tee__a_dropped_reader_does_not_block_the_others() -> None:
    tee = Tee(_source(100), 2, depth=1)
    tee.start()
    gone = tee.reader(1)
    assert await gone.__anext__() == bytes([0]) * 10
    await gone.aclose()  # its upload failed: the reader is dropped
    assert len(await _collect(tee.reader(0))) == 1000
    await tee.close()


async def test_tee__a_stalled_reader_is_dropped_and_reported() -> None:
    stalled: list[int] = []
    tee = Tee(_source(20), 2, depth=1, stall=0.05)
    tee.on_stall(stalled.append)
    tee.start()
    assert len(await _collect(tee.reader(0))) == 200  # reader 1 never reads
    assert stalled == [1]
    await tee.close()


async def test_tee__a_source_error_reaches_every_reader_and_is_kept() -> None:
    tee = Tee(_source(10, fail_at=5), 2, depth=2)
    tee.start()
    results = await asyncio.gather(
        *(_collect(tee.reader(i)) for i in range(2)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)
    assert isinstance(tee.error, ValueError)
    await tee.close()


@pytest.mark.parametrize("readers", [1, 4])
async def test_tee__empty_body(readers: int) -> None:
    tee = Tee(_source(0), readers)
    tee.start()
    assert (
        await asyncio.gather(*(_collect(tee.reader(i)) for i in range(readers))) == [b""] * readers
    )
    await tee.close()
