"""Shared helpers for the local-directory vendor tests (a fixture and body/read shortcuts)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.models import ObjectStream, PutOptions, PutResult

BUCKET = "bkt"
SMALL_PART = 1024  # min_part_size in most multipart tests, so fixtures stay small


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


async def put(
    vendor: LocalUpstream,
    key: str,
    data: bytes,
    bucket: str = BUCKET,
    **options: Any,
) -> PutResult:
    return await vendor.put_object(
        bucket,
        key,
        body(*split(data, 7919)),
        len(data),
        PutOptions(**options),
    )


async def drain(stream: ObjectStream) -> bytes:
    return b"".join([chunk async for chunk in stream.body])


async def get(vendor: LocalUpstream, key: str, bucket: str = BUCKET, **kwargs: Any) -> bytes:
    return await drain(await vendor.get_object(bucket, key, **kwargs))


def files_under(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, names in os.walk(root) for f in names]


def tmp_files(root: Path) -> list[Path]:
    return [p for p in files_under(root) if p.parent.name == "tmp"]


def blob_files(root: Path) -> list[Path]:
    return [p for p in files_under(root) if p.parent.parent.name == "blobs"]


_ALLOWED_NAME = re.compile(
    r"([0-9a-f]{32}(\.tmp)?|[0-9a-f]{64}|[0-9a-f]{2}|buckets|blobs|uploads|tmp|trash"
    r"|(index|buckets)\.db(-wal|-shm|-journal)?)\Z"
)


def names_not_from_keys(root: Path) -> list[str]:
    """Every directory and file name under root that is not a hash, random name or fixed name."""
    bad = []
    for directory, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            if not _ALLOWED_NAME.match(name):
                bad.append(os.path.join(directory, name))
    return bad


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
async def vendor(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(
        LocalVendorSettings("local", tmp_path / "vendor", min_part_size=SMALL_PART)
    )
    await upstream.create_bucket(BUCKET)
    yield upstream
    await upstream.close()


def chunked(data: bytes, size: int) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))
