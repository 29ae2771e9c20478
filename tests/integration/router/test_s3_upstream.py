"""S3Upstream against a real SeaweedFS: buckets, objects, ranges, conditionals, errors, tagging,
copy and listing. boto3 straight to SeaweedFS (`s3_direct`) is the oracle where one is needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router.errors import NotModified, UpstreamError, VendorUnavailable
from router.models import ByteRange, Conditions, PutOptions
from router.s3_upstream import S3Upstream
from tests.integration.router.s3_helpers import chunks, crc32_b64, pattern, read_all
from tests.rig.seaweed import SeaweedServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

BODY = pattern(100_000)


async def put(up: S3Upstream, bucket: str, key: str, data: bytes = BODY, **options: Any) -> str:
    result = await up.put_object(bucket, key, chunks(data), len(data), PutOptions(**options))
    return result.etag


def assert_code(exc: pytest.ExceptionInfo[UpstreamError], code: str, status: int) -> None:
    assert (exc.value.code, exc.value.status) == (code, status)


# -- buckets ---------------------------------------------------------------------------------
async def test_buckets__create_head_list_delete(s3_upstream: S3Upstream) -> None:
    name = f"t-{uuid.uuid4().hex[:20]}"
    await s3_upstream.create_bucket(name)
    await s3_upstream.head_bucket(name)
    listed = {b.name: b for b in await s3_upstream.list_buckets()}
    assert name in listed
    assert listed[name].created.tzinfo is not None
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.create_bucket(name)
    assert_code(exc, "BucketAlreadyOwnedByYou", 409)
    await s3_upstream.delete_bucket(name)
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.head_bucket(name)
    assert_code(exc, "NoSuchBucket", 404)  # a HEAD has no body: the code comes from the status


async def test_delete_bucket__not_empty(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "k")
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.delete_bucket(vendor_bucket)
    assert_code(exc, "BucketNotEmpty", 409)


async def test_create_bucket__invalid_name(s3_upstream: S3Upstream) -> None:
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.create_bucket("bad/name")  # refused by botocore before sending
    assert_code(exc, "InvalidBucketName", 400)
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.create_bucket("ab")  # refused by the vendor
    assert_code(exc, "InvalidBucketName", 400)


# -- put / get / head ------------------------------------------------------------------------
async def test_put_get__round_trip_with_attributes(
    s3_upstream: S3Upstream, vendor_bucket: str, s3_direct: Any
) -> None:
    etag = await put(
        s3_upstream,
        vendor_bucket,
        "dir/obj",
        content_type="application/x-test",
        cache_control="max-age=60",
        content_disposition='attachment; filename="a.bin"',
        content_encoding="identity",
        content_language="en",
        user_metadata={"color": "blue", "n": "1"},
    )
    direct = s3_direct.head_object(Bucket=vendor_bucket, Key="dir/obj")
    assert etag == direct["ETag"] and etag.startswith('"')  # kept quoted, as the vendor sent it
    stream = await s3_upstream.get_object(vendor_bucket, "dir/obj")
    assert await read_all(stream) == BODY
    assert stream.content_length == len(BODY) and stream.content_range is None
    info = stream.info
    assert (info.key, info.size, info.etag) == ("dir/obj", len(BODY), etag)
    assert info.content_type == "application/x-test"
    assert info.cache_control == "max-age=60"
    assert info.content_disposition == 'attachment; filename="a.bin"'
    assert info.content_language == "en"
    assert dict(info.user_metadata) == {"color": "blue", "n": "1"}
    assert info.last_modified.tzinfo is UTC
    head = await s3_upstream.head_object(vendor_bucket, "dir/obj")
    assert head == info


async def test_put__empty_body(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    etag = await put(s3_upstream, vendor_bucket, "empty", b"")
    assert etag == '"d41d8cd98f00b204e9800998ecf8427e"'
    stream = await s3_upstream.get_object(vendor_bucket, "empty")
    assert await read_all(stream) == b""


async def test_put__checksum_forwarded_and_returned(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    crc = crc32_b64(BODY)
    result = await s3_upstream.put_object(
        vendor_bucket,
        "ck",
        chunks(BODY),
        len(BODY),
        PutOptions(checksum_algorithm="crc32", checksum_value=crc),
    )
    assert (result.checksum_algorithm, result.checksum_value) == ("CRC32", crc)
    head = await s3_upstream.head_object(vendor_bucket, "ck")
    assert head.checksums == {"CRC32": crc}
    stream = await s3_upstream.get_object(vendor_bucket, "ck")  # validated while streaming
    assert await read_all(stream) == BODY
    assert stream.info.checksums == {"CRC32": crc}


async def test_put__bad_digest(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    wrong_md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="  # MD5 of the empty string
    for options in (
        PutOptions(content_md5=wrong_md5),
        PutOptions(checksum_algorithm="CRC32", checksum_value=crc32_b64(b"other")),
    ):
        with pytest.raises(UpstreamError) as exc:
            await s3_upstream.put_object(vendor_bucket, "bad", chunks(BODY), len(BODY), options)
        assert_code(exc, "BadDigest", 400)


async def test_put__if_none_match_star(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "once", if_none_match="*")
    with pytest.raises(UpstreamError) as exc:
        await put(s3_upstream, vendor_bucket, "once", if_none_match="*")
    assert_code(exc, "PreconditionFailed", 412)


async def test_get_object__ranges(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "r")
    size = len(BODY)
    cases = [
        (ByteRange(10, 19), BODY[10:20], (10, 19, size)),
        (ByteRange(size - 5), BODY[-5:], (size - 5, size - 1, size)),
        (ByteRange(suffix=7), BODY[-7:], (size - 7, size - 1, size)),
        (ByteRange(0, size + 100), BODY, (0, size - 1, size)),
    ]
    for byte_range, expected, span in cases:
        stream = await s3_upstream.get_object(vendor_bucket, "r", byte_range=byte_range)
        assert await read_all(stream) == expected
        assert stream.content_range == span
        assert stream.content_length == len(expected)
        assert stream.info.size == size  # the object's size, not the range's


async def test_get_object__unsatisfiable_range(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "r", b"0123456789")
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.get_object(vendor_bucket, "r", byte_range=ByteRange(50, 60))
    assert_code(exc, "InvalidRange", 416)
    assert exc.value.extra == {"ActualObjectSize": "10"}


async def test_get_object__part_number(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "p", b"0123456789")
    stream = await s3_upstream.get_object(vendor_bucket, "p", part_number=1)
    assert await read_all(stream) == b"0123456789"
    assert stream.content_range == (0, 9, 10)


async def test_conditionals__not_modified_and_precondition_failed(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    etag = await put(s3_upstream, vendor_bucket, "c")
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime(2000, 1, 1, tzinfo=UTC)
    not_modified = [Conditions(if_none_match=etag), Conditions(if_modified_since=future)]
    failed = [Conditions(if_match='"0000"'), Conditions(if_unmodified_since=past)]
    for conditions in not_modified:
        with pytest.raises(NotModified):
            await s3_upstream.get_object(vendor_bucket, "c", conditions=conditions)
        with pytest.raises(NotModified):
            await s3_upstream.head_object(vendor_bucket, "c", conditions=conditions)
    for conditions in failed:
        with pytest.raises(UpstreamError) as exc:
            await s3_upstream.get_object(vendor_bucket, "c", conditions=conditions)
        assert_code(exc, "PreconditionFailed", 412)
        with pytest.raises(UpstreamError) as exc:
            await s3_upstream.head_object(vendor_bucket, "c", conditions=conditions)
        assert_code(exc, "PreconditionFailed", 412)
    stream = await s3_upstream.get_object(vendor_bucket, "c", conditions=Conditions(if_match=etag))
    assert await read_all(stream) == BODY


async def test_errors__missing_key_and_bucket(
    s3_upstream: S3Upstream, vendor_bucket: str, seaweed: SeaweedServer
) -> None:
    calls = [
        (s3_upstream.get_object(vendor_bucket, "nope"), "NoSuchKey"),
        (s3_upstream.head_object(vendor_bucket, "nope"), "NoSuchKey"),
        (s3_upstream.get_object("no-such-bucket-x", "k"), "NoSuchBucket"),
        (s3_upstream.list_objects("no-such-bucket-x"), "NoSuchBucket"),
        (s3_upstream.get_object_tagging(vendor_bucket, "nope"), "NoSuchKey"),
    ]
    for call, code in calls:
        with pytest.raises(UpstreamError) as exc:
            await call
        assert_code(exc, code, 404)
        # Only codes reach messages: no endpoint, bucket, key or credentials.
        message = str(exc.value)
        for secret in (seaweed.endpoint, vendor_bucket, "nope", seaweed.secret_key):
            assert secret not in message
    await s3_upstream.delete_object(vendor_bucket, "nope")  # deleting nothing succeeds


async def test_delete_object(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "d")
    await s3_upstream.delete_object(vendor_bucket, "d")
    with pytest.raises(UpstreamError):
        await s3_upstream.head_object(vendor_bucket, "d")


async def test_get_object__aclose_unread_bodies_frees_the_pool(
    seaweed: SeaweedServer, vendor_bucket: str
) -> None:
    from tests.integration.router.conftest import seaweed_settings

    upstream = S3Upstream(seaweed_settings(seaweed, max_pool_connections=2, read_timeout=5))
    try:
        await put(upstream, vendor_bucket, "big", pattern(3 << 20))
        for _ in range(6):  # more than the pool: each abandoned body must give its slot back
            stream = await upstream.get_object(vendor_bucket, "big")
            assert len(await anext(stream.body)) > 0
            await stream.aclose()
        unstarted = await upstream.get_object(vendor_bucket, "big")
        await unstarted.aclose()  # closing a body never iterated releases it too
        stream = await upstream.get_object(vendor_bucket, "big")
        assert await read_all(stream) == pattern(3 << 20)
    finally:
        await upstream.close()


async def test_unreachable_vendor__vendor_unavailable(seaweed: SeaweedServer) -> None:
    from tests.integration.router.conftest import seaweed_settings
    from tests.rig.ports import free_port

    settings = seaweed_settings(seaweed, endpoint_url=f"http://127.0.0.1:{free_port()}")
    upstream = S3Upstream(settings)
    try:
        with pytest.raises(VendorUnavailable) as exc:
            await upstream.head_object("b", "k")
        assert "127.0.0.1" not in str(exc.value)
        assert exc.value.__cause__ is not None  # chained for the logs
    finally:
        await upstream.close()


# -- copy and tagging ------------------------------------------------------------------------
async def test_copy_object__copy_and_replace_metadata(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    etag = await put(s3_upstream, vendor_bucket, "src", user_metadata={"a": "1"}, tagging="t=1")
    copied = await s3_upstream.copy_object(
        vendor_bucket, "src", vendor_bucket, "same", options=PutOptions(), replace_metadata=False
    )
    assert copied.etag == etag and copied.last_modified.tzinfo is UTC
    assert dict((await s3_upstream.head_object(vendor_bucket, "same")).user_metadata) == {"a": "1"}
    assert await s3_upstream.get_object_tagging(vendor_bucket, "same") == [("t", "1")]
    await s3_upstream.copy_object(
        vendor_bucket,
        "src",
        vendor_bucket,
        "new",
        options=PutOptions(content_type="text/x-new", user_metadata={"b": "2"}, tagging="u=2"),
        replace_metadata=True,
        replace_tagging=True,
    )
    info = await s3_upstream.head_object(vendor_bucket, "new")
    assert dict(info.user_metadata) == {"b": "2"} and info.content_type == "text/x-new"
    assert await s3_upstream.get_object_tagging(vendor_bucket, "new") == [("u", "2")]
    assert await read_all(await s3_upstream.get_object(vendor_bucket, "new")) == BODY


async def test_copy_object__source_conditions(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "src")
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.copy_object(
            vendor_bucket,
            "src",
            vendor_bucket,
            "dst",
            options=PutOptions(),
            replace_metadata=False,
            source_conditions=Conditions(if_match='"0000"'),
        )
    assert_code(exc, "PreconditionFailed", 412)
    with pytest.raises(UpstreamError) as exc:
        await s3_upstream.copy_object(
            vendor_bucket,
            "nope",
            vendor_bucket,
            "dst",
            options=PutOptions(),
            replace_metadata=False,
        )
    assert_code(exc, "NoSuchKey", 404)


async def test_tagging__put_get_delete(s3_upstream: S3Upstream, vendor_bucket: str) -> None:
    await put(s3_upstream, vendor_bucket, "t")
    assert await s3_upstream.get_object_tagging(vendor_bucket, "t") == []
    await s3_upstream.put_object_tagging(vendor_bucket, "t", [("a", "1"), ("b c", "d/e")])
    assert sorted(await s3_upstream.get_object_tagging(vendor_bucket, "t")) == [
        ("a", "1"),
        ("b c", "d/e"),
    ]
    await s3_upstream.delete_object_tagging(vendor_bucket, "t")
    assert await s3_upstream.get_object_tagging(vendor_bucket, "t") == []


# -- listing ---------------------------------------------------------------------------------
SPECIAL_KEYS = ["a+b", "a b", "a%b", "é", "a//b", "日本", "ctl\x01key", "semi;colon", "q?x=1&y"]


async def test_list_objects__special_keys_exact(
    s3_upstream: S3Upstream, vendor_bucket: str, s3_direct: Any
) -> None:
    for key in SPECIAL_KEYS:
        await put(s3_upstream, vendor_bucket, key, key.encode())
    page = await s3_upstream.list_objects(vendor_bucket)
    listed = [e.key for e in page.entries]
    oracle = [o["Key"] for o in s3_direct.list_objects_v2(Bucket=vendor_bucket)["Contents"]]
    assert listed == oracle
    # SeaweedFS collapses "//" in keys (see the xfail below); every other key survives exactly.
    expected = {k.replace("//", "/") for k in SPECIAL_KEYS}
    assert set(listed) == expected and len(listed) == len(expected)
    for key in SPECIAL_KEYS:
        assert await read_all(await s3_upstream.get_object(vendor_bucket, key)) == key.encode()


@pytest.mark.xfail(strict=True, reason="SeaweedFS 4.48 stores 'a//b' as 'a/b'")
async def test_list_objects__double_slash_key_kept(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    await put(s3_upstream, vendor_bucket, "a//b")
    assert [e.key for e in (await s3_upstream.list_objects(vendor_bucket)).entries] == ["a//b"]


# 25 keys; with "/" as delimiter they roll up into 15 items: a00..a05, b/, c00..c06, d/.
PAGED_KEYS = (
    [f"a{i:02}" for i in range(6)]
    + [f"b/{i}" for i in range(5)]
    + [f"c{i:02}" for i in range(7)]
    + [f"d/{i}" for i in range(7)]
)


async def list_all(up: S3Upstream, bucket: str, **kwargs: Any) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    pages = 0
    start_after = None
    while True:
        page = await up.list_objects(bucket, max_keys=7, start_after=start_after, **kwargs)
        pages += 1
        keys += [e.key for e in page.entries]
        prefixes += page.common_prefixes
        if not page.is_truncated:
            assert page.next_start_after is None
            return keys, prefixes, pages
        assert page.next_start_after is not None
        start_after = page.next_start_after


async def test_list_objects__pagination_each_key_once(
    s3_upstream: S3Upstream, vendor_bucket: str
) -> None:
    for key in PAGED_KEYS:
        await put(s3_upstream, vendor_bucket, key, b"x")
    keys, prefixes, pages = await list_all(s3_upstream, vendor_bucket)
    assert keys == sorted(PAGED_KEYS) and prefixes == [] and pages == 4
    keys, prefixes, pages = await list_all(s3_upstream, vendor_bucket, delimiter="/")
    assert keys == [k for k in PAGED_KEYS if "/" not in k]
    assert prefixes == ["b/", "d/"]  # the first page ended on "b/": its keys were skipped
    assert pages == 3
    keys, prefixes, _ = await list_all(s3_upstream, vendor_bucket, prefix="d/", delimiter="/")
    assert keys == [f"d/{i}" for i in range(7)] and prefixes == []
