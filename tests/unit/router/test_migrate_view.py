"""MigrateView over real local-directory vendors: new first, old second, copies never clobber."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.migrate import MigrateView
from router.models import PutOptions
from router.pbucket import PBucket, TargetSpec
from router.views import build_view
from tests.unit.router._local import body, drain


@pytest.fixture
async def view(tmp_path: Path) -> AsyncIterator[MigrateView]:
    vendor = LocalUpstream(LocalVendorSettings("one", tmp_path / "one"))
    for bucket in ("new", "old"):
        await vendor.create_bucket(bucket)
    pb = PBucket(
        name="mig", targets=(TargetSpec("one", "new"), TargetSpec("one", "old")), policy="migrate"
    )
    built = build_view(pb, [vendor, vendor])
    assert isinstance(built, MigrateView)
    yield built
    await vendor.close()


async def _put(target: object, key: str, data: bytes) -> None:
    await target.put_object(key, body(data), len(data), PutOptions())  # type: ignore[attr-defined]


async def test_copy_in__copies_what_only_old_has(view: MigrateView) -> None:
    await _put(view.old, "k", b"from old")
    assert await view.copy_in("k") is True
    assert await drain(await view.new.get_object("k")) == b"from old"


async def test_copy_in__never_overwrites_what_new_has(view: MigrateView) -> None:
    await _put(view.old, "k", b"from old")
    await _put(view.new, "k", b"written since")
    assert await view.copy_in("k") is False
    assert await drain(await view.new.get_object("k")) == b"written since"


async def test_copy_in__pinned_to_the_version_read(view: MigrateView) -> None:
    await _put(view.old, "k", b"v1")
    etag = (await view.old.head_object("k")).etag
    await _put(view.old, "k", b"v2")  # old changed after the read
    assert await view.copy_in("k", etag) is False  # the read's version is gone: copy nothing
    assert await view.copy_in("k") is True
    assert await drain(await view.new.get_object("k")) == b"v2"


async def test_reads__new_first_then_old_and_owner_is_always_new(view: MigrateView) -> None:
    await _put(view.old, "a", b"old a")
    await _put(view.old, "b", b"old bb")
    await _put(view.new, "b", b"new b")
    assert await drain(await view.get_object("b")) == b"new b"
    assert await drain(await view.get_object("a")) == b"old a"
    assert {view.owner_index(k) for k in ("a", "b", "zzz")} == {0}
    page = await view.list_objects()
    assert [(e.key, e.size) for e in page.entries] == [("a", 5), ("b", 5)]


def test_migrate_view__needs_exactly_two_targets() -> None:
    pb = PBucket(name="m", targets=(TargetSpec("one", "new"),), policy="migrate")
    with pytest.raises(ValueError):
        MigrateView(pb, [LocalUpstream(LocalVendorSettings("one", Path("/nonexistent")))])
