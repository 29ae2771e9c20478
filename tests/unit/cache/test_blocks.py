"""Block math: ids are injective over their fields; range → slices covers exactly the range."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.blocks import (
    BLOCK_ID_HEX_LENGTH,
    BlockId,
    Slice,
    block_count,
    block_span,
    blocks_for_range,
)

texts = st.text(max_size=12)


def test_block_id__fixed_length_lowercase_hex() -> None:
    block = BlockId.of("aws:acct-1", "bucket", "a/very/long/" + "k" * 2000, '"etag"', 7)
    assert len(block.hex) == BLOCK_ID_HEX_LENGTH
    assert block.hex == block.hex.lower()
    assert BlockId.from_bytes(block.raw) == block
    assert str(block) == block.hex


def test_block_id__concatenation_does_not_collide() -> None:
    assert BlockId.of("t", "ab", "c", "e", 0) != BlockId.of("t", "a", "bc", "e", 0)
    assert BlockId.of("t1", "b", "k", "e", 0) != BlockId.of("t", "1b", "k", "e", 0)
    assert BlockId.of("t", "b", "k", "e1", 0) != BlockId.of("t", "b", "k", "e", 1)


@given(
    st.tuples(texts, texts, texts, texts, st.integers(0, 2**40)),
    st.tuples(texts, texts, texts, texts, st.integers(0, 2**40)),
)
def test_block_id__distinct_fields_give_distinct_ids(
    a: tuple[str, str, str, str, int], b: tuple[str, str, str, str, int]
) -> None:
    assert (BlockId.of(*a) == BlockId.of(*b)) == (a == b)


def test_block_id__tenants_targets_and_versions_never_share() -> None:
    base = BlockId.of("https://s3.amazonaws.com|acct-1", "b", "k", '"e1"', 0)
    assert base != BlockId.of("https://s3.amazonaws.com|acct-2", "b", "k", '"e1"', 0)
    assert base != BlockId.of("https://oss.aliyuncs.com|acct-1", "b", "k", '"e1"', 0)
    assert base != BlockId.of("https://s3.amazonaws.com|acct-1", "b", "k", '"e2"', 0)


def test_block_id__block_size_is_part_of_the_id() -> None:
    """Block 1 cut at 1 MiB is not block 1 cut at 8 MiB: a changed block size never reuses."""
    ids = {BlockId.of("t", "b", "k", '"e"', 1, block_size=size) for size in (0, 1 << 20, 8 << 20)}
    assert len(ids) == 3


@pytest.mark.parametrize("text", ["", "g" * 64, "A" * 64, "0" * 63, "../" + "0" * 61])
def test_block_id__rejects_non_ids(text: str) -> None:
    with pytest.raises(ValueError):
        BlockId(text)


def test_block_count__small_and_empty_objects() -> None:
    assert block_count(0, 8) == 0
    assert block_count(1, 8) == 1
    assert block_count(8, 8) == 1
    assert block_count(9, 8) == 2
    assert block_span(9, 8, 1) == (8, 8)
    assert blocks_for_range(5, 8, 0, 4) == [Slice(0, 0, 5)]
    with pytest.raises(IndexError):
        block_span(0, 8, 0)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[int, int, int, int]:
    size = draw(st.integers(1, 5000))
    block_size = draw(st.integers(1, 600))
    first = draw(st.integers(0, size - 1))
    last = draw(st.integers(first, size - 1))
    return size, block_size, first, last


@given(ranges())
def test_blocks_for_range__covers_exactly_the_range(case: tuple[int, int, int, int]) -> None:
    size, block_size, first, last = case
    slices = blocks_for_range(size, block_size, first, last)
    assert sum(s.length for s in slices) == last - first + 1
    position = first
    for previous, current in itertools.pairwise(slices):
        assert current.index == previous.index + 1  # ordered, no block skipped or repeated
    for piece in slices:
        block_first, block_last = block_span(size, block_size, piece.index)
        assert piece.length > 0
        assert piece.offset >= 0 and block_first + piece.offset + piece.length - 1 <= block_last
        assert block_first + piece.offset == position  # contiguous with the previous slice
        position += piece.length
    assert position == last + 1
    touched = {
        i
        for i in range(block_count(size, block_size))
        if _intersects(size, block_size, i, first, last)
    }
    assert {piece.index for piece in slices} == touched


def _intersects(size: int, block_size: int, index: int, first: int, last: int) -> bool:
    block_first, block_last = block_span(size, block_size, index)
    return block_first <= last and first <= block_last


@given(st.integers(0, 10_000), st.integers(1, 700))
def test_block_span__blocks_tile_the_object(size: int, block_size: int) -> None:
    expected_first = 0
    for index in range(block_count(size, block_size)):
        first, last = block_span(size, block_size, index)
        assert first == expected_first and last >= first
        assert last - first + 1 <= block_size
        expected_first = last + 1
    assert expected_first == size


@pytest.mark.parametrize(("first", "last"), [(-1, 3), (3, 2), (0, 10)])
def test_blocks_for_range__rejects_ranges_outside_the_object(first: int, last: int) -> None:
    with pytest.raises(ValueError):
        blocks_for_range(10, 4, first, last)
