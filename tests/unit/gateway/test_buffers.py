"""`read_exactly`: a block body gathered into one buffer, refused if its size is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.buffers import read_exactly


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@given(st.lists(st.binary(max_size=64), max_size=20))
async def test_read_exactly__joins_any_chunking(parts: list[bytes]) -> None:
    whole = b"".join(parts)
    assert await read_exactly(_chunks(parts), len(whole)) == whole


@pytest.mark.parametrize("size", [0, 5, 9])
async def test_read_exactly__refuses_a_short_or_long_body(size: int) -> None:
    with pytest.raises(ValueError):
        await read_exactly(_chunks([b"abc", b"def", b"g"]), size)
