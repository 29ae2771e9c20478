"""BalanceView over real local-directory vendors: placement, probing, delete, listings, uploads."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.balance import BalanceView
from router.errors import UpstreamError
from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.models import CompletedPart, PutOptions
from router.pbucket import BucketView, PBucket, TargetSpec
from router.views import build_view
from tests.unit.router._local import body, drain

BUCKETS = ("ba", "bb", "bc")


@pytest.fixture
async def vendors(tmp_path: Path) -> AsyncIterator[tuple[LocalUpstream, LocalUpstream]]:
    one = LocalUpstream(LocalVendorSettings("one", tmp_path / "one", min_part_size=1024))
    two = LocalUpstream(LocalVendorSettings("two", tmp_path / "two", min_part_size=1024))
    for b in BUCKETS:
        await one.create_bucket(b)
    await two.create_bucket("other")
    yield one, two
    await one.close()
    await two.close()


def _pb(*targets: TargetSpec, name: str = "bal") -> PBucket:
    return PBucket(name=name, targets=targets, policy="balance")


def _view(one: LocalUpstream, n: int = 3, prefix: str = "") -> BalanceView:
    targets = [TargetSpec("one", b, prefix if i == 1 else "") for i, b in enumerate(BUCKETS[:n])]
    view = build_view(_pb(*targets), [one] * n)
    assert isinstance(view, BalanceView)
    return view


async def _put(view: BucketView, key: str, data: bytes = b"x") -> None:
    await view.put_object(key, body(data), len(data), PutOptions())


async def _vendor_keys(up: LocalUpstream, bucket: str) -> list[str]:
    page = await up.list_objects(bucket, max_keys=1000)
    return [e.key for e in page.entries]


def test_balance_view__overrides_every_operation_of_bucket_view() -> None:
    # A BucketView method BalanceView inherited would act on no target at all (or one, later).
    public = {
        n
        for n, f in inspect.getmembers(BucketView, inspect.isfunction)
        if not n.startswith("_") and n not in ("vkey",)
    }
    missing = {n for n in public if getattr(BalanceView, n) is getattr(BucketView, n)}
    assert missing == set()


async def test_put_get_delete__land_on_the_owner(
    vendors: tuple[LocalUpstream, LocalUpstream],
) -> None:
    one, _ = vendors
    view = _view(one, prefix="p/")
    keys = [f"obj-{i}" for i in range(30)]
    for k in keys:
        await _put(view, k, k.encode())
    for i, b in enumerate(BUCKETS):
        prefix = "p/" if i == 1 else ""
        expected = sorted(prefix + k for k in keys if view.owner_index(k) == i)
        assert await _vendor_keys(one, b) == expected
        assert expected, "30 keys over 3 equal targets leave none empty"
    for k in keys:
        assert await drain(await view.get_object(k)) == k.encode()
        assert (await view.head_object(k)).key == k
        assert view.block_names(k) == (
            "one",
            BUCKETS[view.owner_index(k)],
            view.view_for(k).vkey(k),
        )
    await view.delete_object(keys[0])
    with pytest.raises(UpstreamError) as err:
        await view.head_object(keys[0])
    assert err.value.code == "NoSuchKey"


async def test_target_added_later__old_keys_still_read_and_delete_removes_strays(
    vendors: tuple[LocalUpstream, LocalUpstream],
) -> None:
    one, _ = vendors
    old, new = _view(one, n=2), _view(one, n=3)
    keys = [f"k{i}" for i in range(40)]
    for k in keys:
        await _put(old, k, k.encode())
    moved = [k for k in keys if new.owner_index(k) == 2]
    assert moved and all(old.owner_index(k) == new.owner_index(k) for k in keys if k not in moved)
    for k in keys:
        assert await drain(await new.get_object(k)) == k.encode()
        await new.put_object_tagging(k, [("t", "1")])
        assert await new.get_object_tagging(k) == [("t", "1")]
    listed = await new.list_objects(max_keys=1000)
    assert [e.key for e in listed.entries] == sorted(keys)
    # A rewrite goes to the new owner; the stale copy stays shadowed, listed once (owner's).
    await _put(new, moved[0], b"fresh")
    assert await drain(await new.get_object(moved[0])) == b"fresh"
    listed = await new.list_objects(max_keys=1000)
    assert [e.key for e in listed.entries] == sorted(keys)
    entry = next(e for e in listed.entries if e.key == moved[0])
    assert entry.size == len(b"fresh")
    # Deleting removes both copies, so probing cannot resurrect the old one.
    await new.delete_object(moved[0])
    with pytest.raises(UpstreamError):
        await new.get_object(moved[0])
    assert moved[0] not in await _vendor_keys(one, BUCKETS[old.owner_index(moved[0])])


async def test_list_objects__delimiter_prefixes_once_and_pagination_exact(
    vendors: tuple[LocalUpstream, LocalUpstream],
) -> None:
    one, _ = vendors
    view = _view(one, prefix="p/")
    keys = [f"d{i % 4}/f{i}" for i in range(24)] + [f"top{i}" for i in range(9)]
    for k in keys:
        await _put(view, k)
    seen: list[str] = []
    marker: str | None = None
    while True:
        page = await view.list_objects(delimiter="/", max_keys=4, start_after=marker)
        assert len(page.entries) + len(page.common_prefixes) <= 4
        seen += [e.key for e in page.entries] + page.common_prefixes
        if not page.is_truncated:
            break
        marker = page.next_start_after
    assert seen == sorted(["d0/", "d1/", "d2/", "d3/"] + [f"top{i}" for i in range(9)])


async def test_multipart__pinned_to_owner_with_target_in_upload_id(
    vendors: tuple[LocalUpstream, LocalUpstream],
) -> None:
    one, _ = vendors
    view = _view(one)
    key = "big/object"
    upload_id = await view.create_multipart_upload(key, PutOptions())
    tag, _, _ = upload_id.partition(".")
    assert len(tag) == 10 and int(tag, 16) >= 0  # the target's tag, then the vendor's id
    assert upload_id.replace(".", "").replace("-", "").replace("_", "").isalnum()
    parts = []
    for n, chunk in enumerate([b"a" * 2048, b"b" * 10], start=1):
        res = await view.upload_part(key, upload_id, n, body(chunk), len(chunk), PutOptions())
        parts.append(CompletedPart(n, res.etag))
    listed = await view.list_multipart_uploads()
    assert [(u.key, u.upload_id) for u in listed.uploads] == [(key, upload_id)]
    assert [p.part_number for p in (await view.list_parts(key, upload_id)).parts] == [1, 2]
    # A view with a target added (and the list reordered) still finds the upload.
    bigger = build_view(
        _pb(TargetSpec("one", "bc"), TargetSpec("one", "ba"), TargetSpec("one", "bb")), [one] * 3
    )
    await bigger.complete_multipart_upload(key, upload_id, parts)
    assert await _vendor_keys(one, BUCKETS[view.owner_index(key)]) == [key]
    with pytest.raises(UpstreamError) as err:
        await view.abort_multipart_upload(key, "nottag.AAAA")
    assert err.value.code == "NoSuchUpload"


async def test_copy__server_side_on_one_vendor_streamed_across(
    vendors: tuple[LocalUpstream, LocalUpstream],
) -> None:
    one, two = vendors
    view = _view(one)
    single = build_view(PBucket("s", (TargetSpec("two", "other"),)), [two])
    await _put(view, "src", b"payload")
    for dest, key in ((view, "dst"), (single, "dst"), (view, "back")):
        source = view if dest is not view or key == "dst" else single
        src_key = "src" if source is view else "dst"
        await dest.copy_from(source, src_key, key, options=PutOptions(), replace_metadata=False)
        assert await drain(await dest.get_object(key)) == b"payload"
    assert await _vendor_keys(two, "other") == ["dst"]


@pytest.mark.parametrize("max_keys", [1, 7, 50, 1000])
async def test_list_objects__skewed_targets_still_fill_every_page(
    vendors: tuple[LocalUpstream, LocalUpstream], max_keys: int
) -> None:
    # Each target is asked for about its share of a page; here target 0 holds a long run of
    # keys (strays, as after a target was added), so pages fill only by asking it for more.
    one, _ = vendors
    view = _view(one, prefix="p/")
    stray = [f"s/{i:03d}" for i in range(120)]
    for k in stray:
        await _put(view.parts[0], k)
    owned = [f"o/{i:03d}" for i in range(30)]
    for k in owned:
        await _put(view, k)
    keys: list[str] = []
    marker: str | None = None
    while True:
        page = await view.list_objects(max_keys=max_keys, start_after=marker)
        keys += [e.key for e in page.entries]
        if not page.is_truncated:
            break
        assert len(page.entries) == max_keys  # truncated pages are full
        marker = page.next_start_after
    assert keys == sorted(stray + owned)


@pytest.mark.parametrize("max_uploads", [1, 2, 3, 1000])
async def test_list_multipart_uploads__one_key_on_several_targets_pages_exactly(
    vendors: tuple[LocalUpstream, LocalUpstream], max_uploads: int
) -> None:
    # After a target change one key can have uploads on two targets; pages resuming inside
    # that key must neither skip nor repeat any of them.
    one, _ = vendors
    view = _view(one)
    made: set[tuple[str, str]] = set()
    for key in ("k1", "k2", "k3"):
        for index in (0, 1, 2, 1):
            vendor_id = await view.parts[index].create_multipart_upload(key, PutOptions())
            made.add((key, view._encode_upload(index, vendor_id)))
    got: list[tuple[str, str]] = []
    key_marker = id_marker = None
    for _ in range(100):
        page = await view.list_multipart_uploads(
            key_marker=key_marker, upload_id_marker=id_marker, max_uploads=max_uploads
        )
        assert len(page.uploads) <= max_uploads
        got += [(u.key, u.upload_id) for u in page.uploads]
        if not page.is_truncated:
            break
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
    assert sorted(got) == sorted(made) and len(got) == len(made)
    assert [k for k, _ in got] == sorted(k for k, _ in got)
