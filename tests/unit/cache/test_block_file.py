"""The block file format: round trip, slices, and every way the bytes can be wrong (CAC-09/10)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cache.block_file import (
    HEADER_SIZE,
    PAYLOAD_OFFSET,
    CorruptBlock,
    Durability,
    block_path,
    check,
    read_header,
    read_verified,
    verify,
    write_block,
)
from cache.blocks import BlockId

BLOCK = BlockId.of("target", "bucket", "key", '"etag"', 0)
OTHER = BlockId.of("target", "bucket", "key", '"etag"', 1)
DATA = os.urandom(300_000)


def _root(tmp_path: Path) -> Path:
    (tmp_path / "tmp").mkdir()
    return tmp_path


@pytest.mark.parametrize("durability", list(Durability))
def test_write_block__round_trip(tmp_path: Path, durability: Durability) -> None:
    path = write_block(_root(tmp_path), BLOCK, DATA, durability=durability)
    assert path == tmp_path / BLOCK.hex[:2] / BLOCK.hex
    assert path.stat().st_size == HEADER_SIZE + len(DATA)
    assert read_verified(path) == DATA
    assert read_verified(path, 1000, 5000, expected=BLOCK) == DATA[1000:6000]
    assert read_verified(path, len(DATA), 0) == b""
    assert verify(path, expected=BLOCK)
    header = read_header(path)
    assert (header.block_id, header.payload_length, header.file_size) == (
        BLOCK,
        len(DATA),
        HEADER_SIZE + len(DATA),
    )
    assert os.listdir(tmp_path / "tmp") == []  # nothing left behind


def test_write_block__payload_offset_is_where_the_bytes_are(tmp_path: Path) -> None:
    """What the gateway's sendfile relies on: [payload_offset + offset, length] is the payload."""
    path = write_block(_root(tmp_path), BLOCK, DATA)
    with open(path, "rb") as handle:
        handle.seek(PAYLOAD_OFFSET + 77)
        assert handle.read(1000) == DATA[77:1077]


def test_write_block__replaces_an_older_copy(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_block(root, BLOCK, b"old")
    path = write_block(root, BLOCK, b"new bytes")
    assert read_verified(path) == b"new bytes"


def test_write_block__empty_payload(tmp_path: Path) -> None:
    path = write_block(_root(tmp_path), BLOCK, b"")
    assert read_verified(path) == b""
    assert verify(path)


def _flip(path: Path, position: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(position)
        byte = handle.read(1)
        handle.seek(position)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.mark.parametrize("position", [PAYLOAD_OFFSET, PAYLOAD_OFFSET + 123_456, -1])
def test_read_verified__flipped_payload_byte_is_corrupt(tmp_path: Path, position: int) -> None:
    """CAC-09: one flipped bit anywhere in the payload fails the CRC, even for a slice that
    does not include it."""
    path = write_block(_root(tmp_path), BLOCK, DATA)
    _flip(path, position % path.stat().st_size)
    with pytest.raises(CorruptBlock, match="CRC32C"):
        read_verified(path, 0, 10)
    assert not verify(path)


@pytest.mark.parametrize(
    ("position", "reason"),
    [(0, "magic"), (5, "version"), (15, "size"), (17, "CRC32C"), (20, "holds block")],
)
def test_check__flipped_header_byte_is_corrupt(tmp_path: Path, position: int, reason: str) -> None:
    path = write_block(_root(tmp_path), BLOCK, DATA)
    _flip(path, position)
    with pytest.raises(CorruptBlock, match=reason):
        check(path, expected=BLOCK)


def test_check__truncated_file_is_corrupt(tmp_path: Path) -> None:
    """CAC-10: a torn write (the file shorter than its header says) is detected by length."""
    path = write_block(_root(tmp_path), BLOCK, DATA)
    os.truncate(path, HEADER_SIZE + 1000)
    with pytest.raises(CorruptBlock, match="size"):
        read_header(path)
    with pytest.raises(CorruptBlock, match="size"):
        read_verified(path)
    os.truncate(path, 10)
    with pytest.raises(CorruptBlock, match="truncated header"):
        check(path)


def test_check__a_file_renamed_to_another_id_is_corrupt(tmp_path: Path) -> None:
    root = _root(tmp_path)
    path = write_block(root, BLOCK, DATA)
    wrong = block_path(root, OTHER)
    wrong.parent.mkdir(exist_ok=True)
    os.rename(path, wrong)
    with pytest.raises(CorruptBlock, match="holds block"):
        read_verified(wrong, expected=OTHER)
    assert verify(wrong)  # without an expectation, the file itself is intact


def test_verify__missing_file_is_an_os_error_not_corruption(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        verify(block_path(tmp_path, BLOCK))


def test_write_block__tmpfs(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    root = shm / f"pcache-test-{os.getpid()}-{tmp_path.name}"
    (root / "tmp").mkdir(parents=True)
    try:
        path = write_block(root, BLOCK, DATA)
        assert read_verified(path, 5, 10) == DATA[5:15]
    finally:
        for directory, _dirs, files in os.walk(root, topdown=False):
            for name in files:
                os.unlink(os.path.join(directory, name))
            os.rmdir(directory)
