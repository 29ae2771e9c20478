"""The local-directory vendor against S3's behaviour as a client sees it: objects, keys, ranges,
conditionals, copy, tagging and buckets. Multipart and listing have their own modules."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.errors import NotModified, UpstreamError
from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.models import ByteRange, Conditions, PutOptions
from tests.unit.router._local import (
    BUCKET,
    blob_files,
    body,
    drain,
    files_under,
    get,
    md5_etag,
    names_not_from_keys,
    open_fds,
    put,
    rss_bytes,
    tmp_files,
    vendor,
)

__all__ = ["vendor"]  # the fixture, imported for pytest

EMPTY_ETAG = '"d41d8cd98f00b204e9800998ecf8427e"'
TEN = b"0123456789"


def assert_error(error: pytest.ExceptionInfo[UpstreamError], code: str, status: int) -> None:
    assert (error.value.code, error.value.status) == (code, status)


# -- round trips ---------------------------------------------------------------------------------
async def test_put_object__empty_body(vendor: LocalUpstream) -> None:
    result = await put(vendor, "empty", b"")
    assert result.etag == EMPTY_ETAG
    stream = await vendor.get_object(BUCKET, "empty")
    assert (stream.content_length, stream.content_range) == (0, None)
    assert await drain(stream) == b""
    info = await vendor.head_object(BUCKET, "empty")
    assert (info.size, info.etag) == (0, EMPTY_ETAG)


async def test_put_object__1mib_round_trip(vendor: LocalUpstream) -> None:
    data = random.randbytes(1024 * 1024)
    result = await put(vendor, "one-mib", data)
    assert result.etag == md5_etag(data)
    stream = await vendor.get_object(BUCKET, "one-mib")
    assert stream.content_length == len(data)
    assert await drain(stream) == data
    assert (await vendor.head_object(BUCKET, "one-mib")).size == len(data)


async def test_put_object__64mib_streamed_with_bounded_memory(vendor: LocalUpstream) -> None:
    chunk = random.randbytes(64 * 1024)
    count = 1024  # 64 MiB
    baseline = rss_bytes()
    peak = baseline

    async def generate() -> AsyncIterator[bytes]:
        nonlocal peak
        for i in range(count):
            if i % 64 == 0:
                peak = max(peak, rss_bytes())
            yield chunk

    result = await vendor.put_object(BUCKET, "big", generate(), len(chunk) * count, PutOptions())
    expected = hashlib.md5()
    for _ in range(count):
        expected.update(chunk)
    assert result.etag == f'"{expected.hexdigest()}"'

    stream = await vendor.get_object(BUCKET, "big")
    received, total = hashlib.md5(), 0
    async for piece in stream.body:
        received.update(piece)
        total += len(piece)
        if total % (4 * 1024 * 1024) == 0:
            peak = max(peak, rss_bytes())
    assert (total, received.hexdigest()) == (len(chunk) * count, expected.hexdigest())
    assert peak - baseline < 32 * 1024 * 1024


async def test_put_object__stores_crc64nvme_by_default(vendor: LocalUpstream) -> None:
    await put(vendor, "hello", b"hello")
    info = await vendor.head_object(BUCKET, "hello")
    assert info.checksums == {"CRC64NVME": "M3eFcAZSQlc="}  # versitygw's known value
    assert info.checksum_type == "FULL_OBJECT"
    await put(vendor, "hw", b"hello world")
    assert (await vendor.head_object(BUCKET, "hw")).checksums == {"CRC64NVME": "jSnVw/bqjr4="}


async def test_put_object__requested_checksum_is_computed_or_kept(vendor: LocalUpstream) -> None:
    computed = await put(vendor, "c32", b"hello world", checksum_algorithm="crc32")
    assert (computed.checksum_algorithm, computed.checksum_value) == ("CRC32", "DUoRhQ==")
    assert (await vendor.head_object(BUCKET, "c32")).checksums == {"CRC32": "DUoRhQ=="}
    # A value the gateway already verified is stored as given.
    kept = await put(vendor, "sha", b"x", checksum_algorithm="SHA256", checksum_value="given==")
    assert kept.checksum_value == "given=="
    assert (await vendor.head_object(BUCKET, "sha")).checksums == {"SHA256": "given=="}


async def test_put_object__metadata_round_trip(vendor: LocalUpstream) -> None:
    await put(
        vendor,
        "meta",
        b"{}",
        content_type="application/json",
        content_encoding="gzip",
        content_disposition='attachment; filename="x.json"',
        content_language="fr",
        cache_control="max-age=60",
        expires="Thu, 01 Dec 2094 16:00:00 GMT",
        user_metadata={"colour": "bleu ciel", "naïve": "café"},
        storage_class="STANDARD_IA",
        tagging="a=1&b=two%20words",
    )
    info = await vendor.head_object(BUCKET, "meta")
    assert info.content_type == "application/json"
    assert info.content_encoding == "gzip"
    assert info.content_disposition == 'attachment; filename="x.json"'
    assert info.content_language == "fr"
    assert info.cache_control == "max-age=60"
    assert info.expires == "Thu, 01 Dec 2094 16:00:00 GMT"
    assert info.user_metadata == {"colour": "bleu ciel", "naïve": "café"}
    assert info.storage_class == "STANDARD_IA"
    assert info.tag_count == 2
    assert await vendor.get_object_tagging(BUCKET, "meta") == [("a", "1"), ("b", "two words")]
    assert info.last_modified.microsecond == 0  # whole seconds, as S3 reports it


async def test_put_object__overwrite_replaces_blob(vendor: LocalUpstream, tmp_path: Path) -> None:
    await put(vendor, "k", b"one")
    await put(vendor, "k", b"two!")
    assert await get(vendor, "k") == b"two!"
    assert len(blob_files(tmp_path)) == 1  # the old blob was removed after commit


async def test_put_object__persists_across_instances(tmp_path: Path) -> None:
    settings = LocalVendorSettings("local", tmp_path / "v")
    first = LocalUpstream(settings)
    await first.create_bucket("b")
    await put(first, "k", b"kept", bucket="b")
    await first.close()
    second = LocalUpstream(settings)
    try:
        assert await get(second, "k", bucket="b") == b"kept"
        assert [b.name for b in await second.list_buckets()] == ["b"]
    finally:
        await second.close()


# -- keys are not paths --------------------------------------------------------------------------
DISTINCT_KEYS = [
    "\u00e9",  # NFC é
    "e\u0301",  # NFD é
    "A",
    "a",
    "b",
    "a/../b",
    "a/b",
    "a//b",
    "a/./b",
    "..",
    ".",
    "k" * 1024,
    "k" * 1023,
    "\u00e9" * 512,  # 1024 bytes of two-byte characters
    "a\x00b",
    "a",
    " ",
    '"',
    "$",
    "%",
    "&",
    "'",
    "<",
    ">",
    "_ _",
    "\ufffd",
    "\U0001f600",
]


async def test_put_object__keys_stay_distinct(vendor: LocalUpstream) -> None:
    keys = list(dict.fromkeys(DISTINCT_KEYS))
    for i, key in enumerate(keys):
        await put(vendor, key, f"value {i}".encode())
    for i, key in enumerate(keys):
        assert await get(vendor, key) == f"value {i}".encode(), repr(key)
    page = await vendor.list_objects(BUCKET)
    assert [e.key for e in page.entries] == sorted(keys, key=lambda k: k.encode())
    with pytest.raises(UpstreamError) as missing:
        await vendor.head_object(BUCKET, "a\x00")
    assert_error(missing, "NoSuchKey", 404)


async def test_put_object__key_over_1024_bytes_is_rejected(vendor: LocalUpstream) -> None:
    with pytest.raises(UpstreamError) as caught:
        await put(vendor, "k" * 1025, b"x")
    assert_error(caught, "KeyTooLongError", 400)
    with pytest.raises(UpstreamError) as surrogate:
        await put(vendor, "bad\ud800", b"x")
    assert_error(surrogate, "InvalidArgument", 400)


HOSTILE_KEYS = [
    "../../etc/passwd",
    "/abs",
    "/etc/passwd",
    "..",
    "../",
    ".",
    "a/a/a/../../../../../etc/passwd",
    "..\\..\\windows",
    "%2e%2e/%2e%2e/x",
    "index.db",
    "buckets.db",
    "tmp/x",
]


async def test_put_object__hostile_keys_never_touch_the_filesystem(tmp_path: Path) -> None:
    root = tmp_path / "vendor"
    upstream = LocalUpstream(LocalVendorSettings("local", root))
    try:
        await upstream.create_bucket("../../b")
        for key in HOSTILE_KEYS:
            await put(upstream, key, key.encode(), bucket="../../b")
            upload = await upstream.create_multipart_upload("../../b", key, PutOptions())
            await upstream.upload_part("../../b", key, upload, 1, body(b"p"), 1, PutOptions())
        for key in HOSTILE_KEYS:
            assert await get(upstream, key, bucket="../../b") == key.encode()
    finally:
        await upstream.close()
    everything = {p.resolve() for p in tmp_path.rglob("*")}
    assert all(p.is_relative_to(root.resolve()) for p in everything)
    assert names_not_from_keys(root) == []


# -- interrupted and invalid writes --------------------------------------------------------------
class BodyFailed(Exception):
    pass


async def failing_body(chunks: int, chunk: bytes = b"x" * 300_000) -> AsyncIterator[bytes]:
    for _ in range(chunks):
        yield chunk
    raise BodyFailed


async def test_put_object__interrupted_body_leaves_nothing(
    vendor: LocalUpstream, tmp_path: Path
) -> None:
    await put(vendor, "k", b"old version")
    blobs_before = blob_files(tmp_path)
    for key in ("k", "new"):
        with pytest.raises(BodyFailed):
            await vendor.put_object(BUCKET, key, failing_body(5), 10**7, PutOptions())
    assert await get(vendor, "k") == b"old version"
    with pytest.raises(UpstreamError) as missing:
        await vendor.head_object(BUCKET, "new")
    assert_error(missing, "NoSuchKey", 404)
    assert tmp_files(tmp_path) == []
    assert blob_files(tmp_path) == blobs_before


async def test_put_object__cancelled_mid_body_leaves_nothing(
    vendor: LocalUpstream, tmp_path: Path
) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 600_000
        started.set()
        await asyncio.sleep(3600)  # a hung client body; the test cancels it
        yield b""

    task = asyncio.create_task(vendor.put_object(BUCKET, "slow", slow(), 10**8, PutOptions()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tmp_files(tmp_path) == []
    assert blob_files(tmp_path) == []


async def test_put_object__length_mismatch_is_incomplete_body(
    vendor: LocalUpstream, tmp_path: Path
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await vendor.put_object(BUCKET, "short", body(b"abc"), 4, PutOptions())
    assert_error(caught, "IncompleteBody", 400)
    assert tmp_files(tmp_path) == [] and blob_files(tmp_path) == []


async def test_put_object__content_md5(vendor: LocalUpstream, tmp_path: Path) -> None:
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    assert (await put(vendor, "ok", b"data", content_md5=good)).etag == md5_etag(b"data")
    with pytest.raises(UpstreamError) as bad:
        await put(vendor, "bad", b"other", content_md5=good)
    assert_error(bad, "BadDigest", 400)
    with pytest.raises(UpstreamError) as malformed:
        await put(vendor, "bad", b"other", content_md5="YWJyYWNhZGFicmE=")
    assert_error(malformed, "InvalidDigest", 400)
    assert tmp_files(tmp_path) == []
    with pytest.raises(UpstreamError):
        await vendor.head_object(BUCKET, "bad")


async def test_put_object__conditional_writes(vendor: LocalUpstream) -> None:
    created = await put(vendor, "c", b"1", if_none_match="*")
    with pytest.raises(UpstreamError) as exists:
        await put(vendor, "c", b"2", if_none_match="*")
    assert_error(exists, "PreconditionFailed", 412)
    updated = await put(vendor, "c", b"3", if_match=created.etag)
    with pytest.raises(UpstreamError) as stale:
        await put(vendor, "c", b"4", if_match=created.etag)
    assert_error(stale, "PreconditionFailed", 412)
    with pytest.raises(UpstreamError) as missing:
        await put(vendor, "absent", b"5", if_match=updated.etag)
    assert_error(missing, "NoSuchKey", 404)
    assert await get(vendor, "c") == b"3"


async def test_put_object__concurrent_if_none_match_has_one_winner(vendor: LocalUpstream) -> None:
    async def attempt(i: int) -> bool:
        try:
            await put(vendor, "race", str(i).encode(), if_none_match="*")
        except UpstreamError as error:
            assert error.status == 412
            return False
        return True

    wins = await asyncio.gather(*(attempt(i) for i in range(12)))
    assert sum(wins) == 1


async def test_put_object__bad_tagging_is_rejected(vendor: LocalUpstream) -> None:
    with pytest.raises(UpstreamError) as duplicate:
        await put(vendor, "t", b"x", tagging="a=1&a=2")
    assert_error(duplicate, "InvalidTag", 400)
    many = "&".join(f"k{i}=v" for i in range(11))
    with pytest.raises(UpstreamError) as too_many:
        await put(vendor, "t", b"x", tagging=many)
    assert_error(too_many, "BadRequest", 400)


# -- reads: ranges, conditionals, concurrent overwrite -------------------------------------------
@pytest.mark.parametrize(
    ("data", "byte_range", "content", "content_range"),
    [
        (TEN, ByteRange(0, None), TEN, (0, 9, 10)),
        (TEN, ByteRange(1, 10), TEN[1:], (1, 9, 10)),
        (TEN, ByteRange(suffix=1000), TEN, (0, 9, 10)),
        (TEN, ByteRange(suffix=1), b"9", (9, 9, 10)),
        (TEN + b"A", ByteRange(4, None), b"456789A", (4, 10, 11)),
        (TEN + b"A", ByteRange(suffix=7), b"456789A", (4, 10, 11)),
    ],
)
async def test_get_object__range(
    vendor: LocalUpstream,
    data: bytes,
    byte_range: ByteRange,
    content: bytes,
    content_range: tuple[int, int, int],
) -> None:
    await put(vendor, "r", data)
    stream = await vendor.get_object(BUCKET, "r", byte_range=byte_range)
    assert (stream.content_length, stream.content_range) == (len(content), content_range)
    assert await drain(stream) == content


@pytest.mark.parametrize(
    ("data", "byte_range"),
    [
        (TEN, ByteRange(10, None)),
        (TEN, ByteRange(100, None)),
        (TEN, ByteRange(suffix=0)),
        (TEN, ByteRange(5, 3)),
        (TEN + b"A", ByteRange(40, 50)),
        (b"", ByteRange(0, None)),
        (b"", ByteRange(suffix=5)),
    ],
)
async def test_get_object__unsatisfiable_range(
    vendor: LocalUpstream, data: bytes, byte_range: ByteRange
) -> None:
    await put(vendor, "r", data)
    fds = open_fds()
    with pytest.raises(UpstreamError) as caught:
        await vendor.get_object(BUCKET, "r", byte_range=byte_range)
    assert_error(caught, "InvalidRange", 416)
    assert caught.value.extra == {"ActualObjectSize": str(len(data))}
    assert open_fds() == fds  # the blob opened for the read was closed again


async def test_get_object__conditionals(vendor: LocalUpstream) -> None:
    etag = (await put(vendor, "c", b"conditional")).etag
    info = await vendor.head_object(BUCKET, "c")
    later = info.last_modified + timedelta(seconds=5)
    earlier = info.last_modified - timedelta(seconds=5)
    assert await get(vendor, "c", conditions=Conditions(if_match=etag)) == b"conditional"
    for call in (vendor.get_object, vendor.head_object):
        with pytest.raises(UpstreamError) as failed:
            await call(BUCKET, "c", conditions=Conditions(if_match='"bogus"'))
        assert_error(failed, "PreconditionFailed", 412)
        with pytest.raises(NotModified) as not_modified:
            await call(BUCKET, "c", conditions=Conditions(if_none_match=etag))
        assert not_modified.value.info is not None and not_modified.value.info.etag == etag
        with pytest.raises(NotModified):
            await call(BUCKET, "c", conditions=Conditions(if_modified_since=later))
        with pytest.raises(UpstreamError) as unmodified:
            await call(BUCKET, "c", conditions=Conditions(if_unmodified_since=earlier))
        assert_error(unmodified, "PreconditionFailed", 412)
    # If-Match match wins over a failing If-Unmodified-Since.
    both = Conditions(if_match=etag, if_unmodified_since=earlier)
    assert await get(vendor, "c", conditions=both) == b"conditional"
    with pytest.raises(NotModified):
        await vendor.get_object(BUCKET, "c", conditions=Conditions(if_none_match="*"))


async def test_get_object__missing(vendor: LocalUpstream) -> None:
    with pytest.raises(UpstreamError) as caught:
        await vendor.get_object(BUCKET, "nope", conditions=Conditions(if_match="*"))
    assert_error(caught, "NoSuchKey", 404)


async def test_get_object__overwrite_during_read_keeps_old_bytes(vendor: LocalUpstream) -> None:
    old = random.randbytes(2 * 1024 * 1024)
    await put(vendor, "k", old)
    stream = await vendor.get_object(BUCKET, "k")
    first = await anext(stream.body)
    await put(vendor, "k", b"new")
    await vendor.delete_object(BUCKET, "k")
    rest = [chunk async for chunk in stream.body]
    assert first + b"".join(rest) == old


async def test_get_object__aclose_without_reading_closes_blob(vendor: LocalUpstream) -> None:
    await put(vendor, "k", b"x" * 1000)
    fds = open_fds()
    stream = await vendor.get_object(BUCKET, "k")
    assert open_fds() == fds + 1
    await stream.aclose()
    assert open_fds() == fds
    partial = await vendor.get_object(BUCKET, "k", byte_range=ByteRange(0, 10))
    assert await drain(partial) == b"x" * 11
    assert open_fds() == fds  # reading to the end closes too


async def test_get_object__part_number_on_single_part_object(vendor: LocalUpstream) -> None:
    await put(vendor, "single", TEN)
    stream = await vendor.get_object(BUCKET, "single", part_number=1)
    assert stream.content_range == (0, 9, 10)
    assert await drain(stream) == TEN
    with pytest.raises(UpstreamError) as beyond:
        await vendor.get_object(BUCKET, "single", part_number=2)
    assert_error(beyond, "InvalidPartNumber", 416)
    with pytest.raises(UpstreamError) as zero:
        await vendor.head_object(BUCKET, "single", part_number=0)
    assert_error(zero, "InvalidArgument", 400)
    with pytest.raises(UpstreamError) as both:
        await vendor.get_object(BUCKET, "single", part_number=1, byte_range=ByteRange(0, 1))
    assert_error(both, "InvalidRequest", 400)


# -- delete, copy, tagging ------------------------------------------------------------------------
async def test_delete_object__removes_row_and_blob(vendor: LocalUpstream, tmp_path: Path) -> None:
    await put(vendor, "k", b"x")
    await vendor.delete_object(BUCKET, "k")
    await vendor.delete_object(BUCKET, "k")  # a missing key is fine, as in S3
    assert blob_files(tmp_path) == []
    with pytest.raises(UpstreamError) as caught:
        await vendor.get_object(BUCKET, "k")
    assert_error(caught, "NoSuchKey", 404)


async def test_copy_object__metadata_copy_and_replace(vendor: LocalUpstream) -> None:
    src = await put(
        vendor,
        "src",
        b"payload",
        content_type="text/plain",
        user_metadata={"m": "1"},
        tagging="t=1",
        storage_class="STANDARD_IA",
    )
    copied = await vendor.copy_object(
        BUCKET, "src", BUCKET, "copy", options=PutOptions(), replace_metadata=False
    )
    assert copied.etag == src.etag
    info = await vendor.head_object(BUCKET, "copy")
    assert (info.content_type, info.user_metadata) == ("text/plain", {"m": "1"})
    assert info.storage_class == "STANDARD"  # the storage class is not copied, as in S3
    assert info.checksums == (await vendor.head_object(BUCKET, "src")).checksums
    assert await vendor.get_object_tagging(BUCKET, "copy") == [("t", "1")]
    assert await get(vendor, "copy") == b"payload"

    options = PutOptions(content_type="application/x", user_metadata={"n": "2"}, tagging="u=2")
    await vendor.copy_object(
        BUCKET, "src", BUCKET, "replaced", options=options, replace_metadata=True
    )
    info = await vendor.head_object(BUCKET, "replaced")
    assert (info.content_type, info.user_metadata) == ("application/x", {"n": "2"})
    assert await vendor.get_object_tagging(BUCKET, "replaced") == [("t", "1")]
    await vendor.copy_object(
        BUCKET, "src", BUCKET, "retagged", options=options, replace_metadata=False,
        replace_tagging=True,
    )  # fmt: skip
    assert await vendor.get_object_tagging(BUCKET, "retagged") == [("u", "2")]
    assert (await vendor.head_object(BUCKET, "retagged")).user_metadata == {"m": "1"}


async def test_copy_object__copy_survives_source_overwrite(vendor: LocalUpstream) -> None:
    await vendor.create_bucket("other")
    await put(vendor, "src", b"original")
    await vendor.copy_object(
        BUCKET, "src", "other", "dst", options=PutOptions(), replace_metadata=False
    )
    await put(vendor, "src", b"changed")
    await vendor.delete_object(BUCKET, "src")
    assert await get(vendor, "dst", bucket="other") == b"original"


async def test_copy_object__onto_itself(vendor: LocalUpstream) -> None:
    await put(vendor, "self", b"x", user_metadata={"a": "1"})
    with pytest.raises(UpstreamError) as caught:
        await vendor.copy_object(
            BUCKET, "self", BUCKET, "self", options=PutOptions(), replace_metadata=False
        )
    assert_error(caught, "InvalidRequest", 400)
    await vendor.copy_object(
        BUCKET, "self", BUCKET, "self", options=PutOptions(user_metadata={"b": "2"}),
        replace_metadata=True,
    )  # fmt: skip
    assert (await vendor.head_object(BUCKET, "self")).user_metadata == {"b": "2"}
    assert await get(vendor, "self") == b"x"


async def test_copy_object__source_conditions_and_errors(vendor: LocalUpstream) -> None:
    etag = (await put(vendor, "src", b"x")).etag
    for conditions in (
        Conditions(if_match='"other"'),
        Conditions(if_none_match=etag),
        Conditions(if_modified_since=(await vendor.head_object(BUCKET, "src")).last_modified),
    ):
        with pytest.raises(UpstreamError) as caught:
            await vendor.copy_object(
                BUCKET, "src", BUCKET, "dst", options=PutOptions(), replace_metadata=False,
                source_conditions=conditions,
            )  # fmt: skip
        assert_error(caught, "PreconditionFailed", 412)
    for src_bucket, src_key, dst_bucket, code in (
        (BUCKET, "missing", BUCKET, "NoSuchKey"),
        ("nobucket", "src", BUCKET, "NoSuchBucket"),
        (BUCKET, "src", "nobucket", "NoSuchBucket"),
    ):
        with pytest.raises(UpstreamError) as caught:
            await vendor.copy_object(
                src_bucket, src_key, dst_bucket, "dst", options=PutOptions(),
                replace_metadata=False,
            )  # fmt: skip
        assert caught.value.code == code
    with pytest.raises(UpstreamError):
        await vendor.head_object(BUCKET, "dst")


async def test_object_tagging(vendor: LocalUpstream) -> None:
    await put(vendor, "t", b"x")
    assert await vendor.get_object_tagging(BUCKET, "t") == []
    await vendor.put_object_tagging(BUCKET, "t", [("k", "v"), ("é", "")])
    assert await vendor.get_object_tagging(BUCKET, "t") == [("k", "v"), ("é", "")]
    assert (await vendor.head_object(BUCKET, "t")).tag_count == 2
    await vendor.delete_object_tagging(BUCKET, "t")
    assert await vendor.get_object_tagging(BUCKET, "t") == []
    with pytest.raises(UpstreamError) as invalid:
        await vendor.put_object_tagging(BUCKET, "t", [("k", "1"), ("k", "2")])
    assert_error(invalid, "InvalidTag", 400)
    for call in (
        vendor.get_object_tagging(BUCKET, "missing"),
        vendor.put_object_tagging(BUCKET, "missing", [("a", "b")]),
        vendor.delete_object_tagging(BUCKET, "missing"),
    ):
        with pytest.raises(UpstreamError) as caught:
            await call
        assert_error(caught, "NoSuchKey", 404)


# -- buckets -------------------------------------------------------------------------------------
async def test_buckets__lifecycle(vendor: LocalUpstream, tmp_path: Path) -> None:
    await vendor.create_bucket("zeta")
    await vendor.create_bucket("alpha")
    assert [b.name for b in await vendor.list_buckets()] == ["alpha", BUCKET, "zeta"]
    with pytest.raises(UpstreamError) as exists:
        await vendor.create_bucket("alpha")
    assert_error(exists, "BucketAlreadyOwnedByYou", 409)
    await vendor.head_bucket("alpha")
    await put(vendor, "k", b"x", bucket="alpha")
    with pytest.raises(UpstreamError) as not_empty:
        await vendor.delete_bucket("alpha")
    assert_error(not_empty, "BucketNotEmpty", 409)
    await vendor.delete_object("alpha", "k")
    upload = await vendor.create_multipart_upload("alpha", "mp", PutOptions())
    with pytest.raises(UpstreamError) as uploads_left:
        await vendor.delete_bucket("alpha")
    assert_error(uploads_left, "BucketNotEmpty", 409)
    await vendor.abort_multipart_upload("alpha", "mp", upload)
    await vendor.delete_bucket("alpha")
    assert [b.name for b in await vendor.list_buckets()] == [BUCKET, "zeta"]
    await vendor.create_bucket("alpha")  # re-created empty
    assert (await vendor.list_objects("alpha")).entries == []


async def test_buckets__missing_bucket_everywhere(vendor: LocalUpstream, tmp_path: Path) -> None:
    calls = [
        vendor.head_bucket("nope"),
        vendor.delete_bucket("nope"),
        vendor.head_object("nope", "k"),
        vendor.get_object("nope", "k"),
        vendor.put_object("nope", "k", body(b"x"), 1, PutOptions()),
        vendor.delete_object("nope", "k"),
        vendor.list_objects("nope"),
        vendor.get_object_tagging("nope", "k"),
        vendor.put_object_tagging("nope", "k", []),
        vendor.create_multipart_upload("nope", "k", PutOptions()),
        vendor.upload_part("nope", "k", "0" * 32, 1, body(b"x"), 1, PutOptions()),
        vendor.list_parts("nope", "k", "0" * 32),
        vendor.list_multipart_uploads("nope"),
    ]
    for call in calls:
        with pytest.raises(UpstreamError) as caught:
            await call
        assert_error(caught, "NoSuchBucket", 404)
    assert not any("nope" in str(p) for p in files_under(tmp_path))
    assert tmp_files(tmp_path) == []


async def test_buckets__deleted_bucket_rejects_writes(vendor: LocalUpstream) -> None:
    await vendor.create_bucket("gone")
    await put(vendor, "warm", b"x", bucket="gone")  # a pooled connection now exists
    await vendor.delete_object("gone", "warm")
    await vendor.delete_bucket("gone")
    with pytest.raises(UpstreamError) as caught:
        await put(vendor, "k", b"x", bucket="gone")
    assert_error(caught, "NoSuchBucket", 404)
    await vendor.create_bucket("gone")
    assert (await vendor.list_objects("gone")).entries == []
    assert os.path.isdir(vendor._store.bucket("gone").dir)


async def test_put_object__concurrent_writers_and_readers(vendor: LocalUpstream) -> None:
    versions = {bytes([i]) * (50_000 + i) for i in range(16)}
    await put(vendor, "hot", next(iter(versions)))

    async def read_whole() -> bytes:
        return await get(vendor, "hot")

    writes = [put(vendor, "hot", v) for v in versions]
    reads = [read_whole() for _ in range(32)]
    results = await asyncio.gather(*writes, *reads)
    for data in results[len(writes) :]:
        assert data in versions  # every read sees one whole version, never a mix
    final = await get(vendor, "hot")
    assert final in versions
    assert (await vendor.head_object(BUCKET, "hot")).etag == md5_etag(final)
