"""Multipart uploads on the local-directory vendor: the happy path, S3's ETag rule, part reads and
every error CompleteMultipartUpload and friends can answer."""

from __future__ import annotations

import base64
import hashlib
import random
import zlib
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from router.errors import UpstreamError
from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.models import CompletedPart, Conditions, PutOptions
from tests.unit.router._local import (
    BUCKET,
    SMALL_PART,
    body,
    drain,
    files_under,
    get,
    md5_etag,
    put,
    split,
    tmp_files,
    vendor,
)

__all__ = ["vendor"]


def s3_multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


async def upload(
    vendor: LocalUpstream, key: str, parts: list[bytes], **options: Any
) -> tuple[str, list[CompletedPart]]:
    upload_id = await vendor.create_multipart_upload(BUCKET, key, PutOptions(**options))
    done = []
    for number, data in enumerate(parts, start=1):
        result = await vendor.upload_part(
            BUCKET, key, upload_id, number, body(*split(data, 5000)), len(data), PutOptions()
        )
        assert result.etag == md5_etag(data)
        done.append(CompletedPart(number, result.etag))
    return upload_id, done


async def expect(code: str, status: int, awaitable: Awaitable[object]) -> None:
    with pytest.raises(UpstreamError) as caught:
        await awaitable
    assert (caught.value.code, caught.value.status) == (code, status)


async def test_complete_multipart_upload__happy_path(vendor: LocalUpstream, tmp_path: Path) -> None:
    parts = [random.randbytes(SMALL_PART + 17), random.randbytes(SMALL_PART), b"tail"]
    upload_id, done = await upload(
        vendor, "mp", parts, content_type="video/mp4", user_metadata={"x": "1"}, tagging="t=v"
    )
    result = await vendor.complete_multipart_upload(BUCKET, "mp", upload_id, done)
    assert result.etag == s3_multipart_etag(parts)
    assert await get(vendor, "mp") == b"".join(parts)
    info = await vendor.head_object(BUCKET, "mp")
    assert (info.etag, info.size, info.parts_count) == (result.etag, sum(map(len, parts)), 3)
    assert (info.content_type, info.user_metadata, info.tag_count) == ("video/mp4", {"x": "1"}, 1)
    assert info.checksum_type == "FULL_OBJECT" and "CRC64NVME" in info.checksums
    # The upload is gone: no row, no part files, no temp files.
    assert (await vendor.list_multipart_uploads(BUCKET)).uploads == []
    await expect("NoSuchUpload", 404, vendor.list_parts(BUCKET, "mp", upload_id))
    assert not [p for p in files_under(tmp_path) if "uploads" in p.parts]
    assert tmp_files(tmp_path) == []


async def test_complete_multipart_upload__real_5mib_minimum(tmp_path: Path) -> None:
    upstream = LocalUpstream(LocalVendorSettings("local", tmp_path / "v"))
    try:
        await upstream.create_bucket(BUCKET)
        upload_id = await upstream.create_multipart_upload(BUCKET, "k", PutOptions())
        sizes = [5 * 1024 * 1024, 5 * 1024 * 1024 - 1, 10]
        done = []
        for number, size in enumerate(sizes, start=1):
            data = bytes([number]) * size
            part = await upstream.upload_part(
                BUCKET, "k", upload_id, number, body(data), size, PutOptions()
            )
            done.append(CompletedPart(number, part.etag))
        await expect(
            "EntityTooSmall", 400, upstream.complete_multipart_upload(BUCKET, "k", upload_id, done)
        )
        # Dropping the short middle part makes the last one the only small one: fine.
        result = await upstream.complete_multipart_upload(
            BUCKET, "k", upload_id, [done[0], done[2]]
        )
        assert result.etag.endswith('-2"')
        assert (await upstream.head_object(BUCKET, "k")).size == 5 * 1024 * 1024 + 10
    finally:
        await upstream.close()


async def test_get_object__part_number_of_multipart_object(vendor: LocalUpstream) -> None:
    parts = [b"a" * SMALL_PART, b"b" * (SMALL_PART + 5), b"c" * 3]
    upload_id, done = await upload(vendor, "mp", parts)
    await vendor.complete_multipart_upload(BUCKET, "mp", upload_id, done)
    offset = 0
    for number, data in enumerate(parts, start=1):
        stream = await vendor.get_object(BUCKET, "mp", part_number=number)
        total = sum(map(len, parts))
        assert stream.content_range == (offset, offset + len(data) - 1, total)
        assert await drain(stream) == data
        head = await vendor.head_object(BUCKET, "mp", part_number=number)
        assert (head.size, head.part_range) == (total, (offset, offset + len(data) - 1))
        offset += len(data)
    await expect("InvalidPartNumber", 416, vendor.get_object(BUCKET, "mp", part_number=4))
    await expect("InvalidPartNumber", 416, vendor.head_object(BUCKET, "mp", part_number=4))
    await expect("InvalidArgument", 400, vendor.get_object(BUCKET, "mp", part_number=10001))


async def test_upload_part__replaces_same_number(vendor: LocalUpstream, tmp_path: Path) -> None:
    upload_id, _ = await upload(vendor, "k", [b"first" * 300])
    again = await vendor.upload_part(BUCKET, "k", upload_id, 1, body(b"second"), 6, PutOptions())
    page = await vendor.list_parts(BUCKET, "k", upload_id)
    assert [(p.part_number, p.etag, p.size) for p in page.parts] == [(1, again.etag, 6)]
    part_files = [p for p in files_under(tmp_path) if "uploads" in p.parts]
    assert len(part_files) == 1  # the replaced part's file is gone
    await vendor.complete_multipart_upload(BUCKET, "k", upload_id, [CompletedPart(1, again.etag)])
    assert await get(vendor, "k") == b"second"


async def test_upload_part__errors(vendor: LocalUpstream, tmp_path: Path) -> None:
    upload_id = await vendor.create_multipart_upload(BUCKET, "k", PutOptions())
    for number in (0, 10001, -1):
        await expect(
            "InvalidArgument",
            400,
            vendor.upload_part(BUCKET, "k", upload_id, number, body(b"x"), 1, PutOptions()),
        )
    for bad_id, key in (("0" * 32, "k"), ("../../etc", "k"), (upload_id, "other"), ("", "k")):
        await expect(
            "NoSuchUpload",
            404,
            vendor.upload_part(BUCKET, key, bad_id, 1, body(b"x"), 1, PutOptions()),
        )
    digest = base64.b64encode(hashlib.md5(b"right").digest()).decode()
    await expect(
        "BadDigest",
        400,
        vendor.upload_part(
            BUCKET, "k", upload_id, 1, body(b"wrong"), 5, PutOptions(content_md5=digest)
        ),
    )
    assert (await vendor.list_parts(BUCKET, "k", upload_id)).parts == []
    assert tmp_files(tmp_path) == []


async def test_complete_multipart_upload__errors(vendor: LocalUpstream) -> None:
    parts = [b"1" * SMALL_PART, b"2" * SMALL_PART, b"3"]
    upload_id, done = await upload(vendor, "k", parts)
    complete = vendor.complete_multipart_upload
    await expect("InvalidPartOrder", 400, complete(BUCKET, "k", upload_id, done[::-1]))
    await expect("InvalidPartOrder", 400, complete(BUCKET, "k", upload_id, [done[0], done[0]]))
    wrong_etag = [done[0], CompletedPart(2, md5_etag(b"nope")), done[2]]
    await expect("InvalidPart", 400, complete(BUCKET, "k", upload_id, wrong_etag))
    missing = [*done, CompletedPart(7, done[0].etag)]
    await expect("InvalidPart", 400, complete(BUCKET, "k", upload_id, missing))
    small_first = [done[2], CompletedPart(4, done[0].etag)]
    await vendor.upload_part(BUCKET, "k", upload_id, 4, body(parts[0]), SMALL_PART, PutOptions())
    await expect(
        "EntityTooSmall", 400, complete(BUCKET, "k", upload_id, [CompletedPart(3, done[2].etag),
                                                                 small_first[1]])
    )  # fmt: skip
    await expect("MalformedXML", 400, complete(BUCKET, "k", upload_id, []))
    await expect("NoSuchUpload", 404, complete(BUCKET, "other", upload_id, done))
    await expect("NoSuchUpload", 404, complete(BUCKET, "k", "f" * 32, done))
    # None of the failures consumed the upload; quoted or bare ETags both work.
    bare = [CompletedPart(p.part_number, p.etag.strip('"')) for p in done]
    result = await complete(BUCKET, "k", upload_id, bare)
    assert result.etag == s3_multipart_etag(parts)
    await expect("NoSuchUpload", 404, complete(BUCKET, "k", upload_id, done))


async def test_abort_multipart_upload(vendor: LocalUpstream, tmp_path: Path) -> None:
    upload_id, done = await upload(vendor, "k", [b"x" * 10])
    await expect("NoSuchUpload", 404, vendor.abort_multipart_upload(BUCKET, "other", upload_id))
    await vendor.abort_multipart_upload(BUCKET, "k", upload_id)
    assert not [p for p in files_under(tmp_path) if "uploads" in p.parts]
    await expect("NoSuchUpload", 404, vendor.abort_multipart_upload(BUCKET, "k", upload_id))
    await expect(
        "NoSuchUpload", 404, vendor.complete_multipart_upload(BUCKET, "k", upload_id, done)
    )
    await expect("NoSuchUpload", 404, vendor.list_parts(BUCKET, "k", upload_id))


async def test_list_parts__pagination(vendor: LocalUpstream) -> None:
    upload_id, done = await upload(
        vendor, "k", [bytes([i]) * (i + 1) for i in range(7)], storage_class="GLACIER"
    )
    seen, marker = [], 0
    while True:
        page = await vendor.list_parts(
            BUCKET, "k", upload_id, max_parts=3, part_number_marker=marker
        )
        assert page.storage_class == "GLACIER"
        seen += [(p.part_number, p.etag, p.size) for p in page.parts]
        if not page.is_truncated:
            break
        assert page.next_part_number_marker is not None
        marker = page.next_part_number_marker
    assert seen == [(p.part_number, p.etag, i + 1) for i, p in enumerate(done)]


async def test_upload_part_copy__whole_and_ranged(vendor: LocalUpstream) -> None:
    await vendor.create_bucket("src")
    source = random.randbytes(3 * SMALL_PART)
    await put(vendor, "s", source, bucket="src")
    upload_id = await vendor.create_multipart_upload(BUCKET, "dst", PutOptions())
    whole = await vendor.upload_part_copy("src", "s", BUCKET, "dst", upload_id, 1)
    assert whole.etag == md5_etag(source)
    ranged = await vendor.upload_part_copy(
        "src", "s", BUCKET, "dst", upload_id, 2, byte_range=(10, 19)
    )
    assert ranged.etag == md5_etag(source[10:20])
    await vendor.complete_multipart_upload(
        BUCKET, "dst", upload_id, [CompletedPart(1, whole.etag), CompletedPart(2, ranged.etag)]
    )
    assert await get(vendor, "dst") == source + source[10:20]


async def test_upload_part_copy__errors(vendor: LocalUpstream) -> None:
    etag = (await put(vendor, "s", b"0123456789")).etag
    upload_id = await vendor.create_multipart_upload(BUCKET, "d", PutOptions())
    copy = vendor.upload_part_copy
    await expect(
        "InvalidRange", 416, copy(BUCKET, "s", BUCKET, "d", upload_id, 1, byte_range=(5, 10))
    )
    await expect(
        "InvalidArgument", 400, copy(BUCKET, "s", BUCKET, "d", upload_id, 1, byte_range=(5, 4))
    )
    await expect("NoSuchKey", 404, copy(BUCKET, "missing", BUCKET, "d", upload_id, 1))
    await expect("NoSuchUpload", 404, copy(BUCKET, "s", BUCKET, "d", "a" * 32, 1))
    await expect("InvalidArgument", 400, copy(BUCKET, "s", BUCKET, "d", upload_id, 0))
    matched = Conditions(if_none_match=etag)
    await expect(
        "PreconditionFailed",
        412,
        copy(BUCKET, "s", BUCKET, "d", upload_id, 1, source_conditions=matched),
    )
    assert (await vendor.list_parts(BUCKET, "d", upload_id)).parts == []


async def test_complete_multipart_upload__composite_checksum(vendor: LocalUpstream) -> None:
    parts = [b"p" * SMALL_PART, b"q" * 10]
    upload_id, done = await upload(vendor, "c", parts, checksum_algorithm="CRC32")
    listed = await vendor.list_parts(BUCKET, "c", upload_id)
    crcs = [zlib.crc32(p).to_bytes(4, "big") for p in parts]
    assert [p.checksums for p in listed.parts] == [
        {"CRC32": base64.b64encode(c).decode()} for c in crcs
    ]
    result = await vendor.complete_multipart_upload(BUCKET, "c", upload_id, done)
    composite = base64.b64encode(zlib.crc32(b"".join(crcs)).to_bytes(4, "big")).decode()
    assert (result.checksum_algorithm, result.checksum_value) == ("CRC32", f"{composite}-2")
    info = await vendor.head_object(BUCKET, "c")
    assert (info.checksums, info.checksum_type) == ({"CRC32": f"{composite}-2"}, "COMPOSITE")


async def test_list_multipart_uploads__order_prefix_and_markers(vendor: LocalUpstream) -> None:
    keys = ["b", "a", "dir/x", "dir/y", "b", "c", "a"]
    ids = [await vendor.create_multipart_upload(BUCKET, k, PutOptions()) for k in keys]
    expected = sorted(zip(keys, range(len(keys)), ids, strict=True))  # key, then initiation order
    everything = await vendor.list_multipart_uploads(BUCKET)
    assert [(u.key, u.upload_id) for u in everything.uploads] == [(k, i) for k, _, i in expected]

    rolled = await vendor.list_multipart_uploads(BUCKET, delimiter="/")
    assert rolled.common_prefixes == ["dir/"]
    assert [u.key for u in rolled.uploads] == ["a", "a", "b", "b", "c"]

    only_dir = await vendor.list_multipart_uploads(BUCKET, prefix="dir/")
    assert [u.key for u in only_dir.uploads] == ["dir/x", "dir/y"]

    seen: list[tuple[str, str]] = []
    prefixes: list[str] = []
    key_marker: str | None = None
    upload_marker: str | None = None
    while True:
        page = await vendor.list_multipart_uploads(
            BUCKET, delimiter="/", key_marker=key_marker, upload_id_marker=upload_marker,
            max_uploads=2,
        )  # fmt: skip
        seen += [(u.key, u.upload_id) for u in page.uploads]
        prefixes += page.common_prefixes
        if not page.is_truncated:
            break
        key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker
    assert prefixes == ["dir/"]
    assert seen == [(k, i) for k, _, i in expected if not k.startswith("dir/")]
