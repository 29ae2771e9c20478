"""`change_storage_class`, the lifecycle transition's move, on the local vendor: the vendor's
own class for a rule's class, metadata and tags kept, a no-op the second time; `balance` moves
the key where it lives, `replicate` on every target."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.pbucket import BucketView, PBucket, TargetSpec
from router.profiles import StorageClasses
from router.replica_context import ReplicaContext, ReplicaSettings
from router.views import build_view
from tests.unit.router._local import put

CLASSES = StorageClasses(hot="STANDARD", cold="WARM", archive="FROZEN")


@pytest.fixture
async def vendor(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    up = LocalUpstream(LocalVendorSettings("one", tmp_path / "one"))
    up.storage_classes = CLASSES
    for bucket in ("a", "b"):
        await up.create_bucket(bucket)
    yield up
    await up.close()


async def _class_of(view: BucketView, key: str) -> str | None:
    return (await view.head_object(key)).storage_class


async def test_single__moves_once_keeping_metadata_and_tags(vendor: LocalUpstream) -> None:
    view = BucketView(PBucket("pb", (TargetSpec("one", "a", "t/"),)), vendor)
    await put(vendor, "t/k", b"data", "a", content_type="text/plain", user_metadata={"o": "1"})
    await view.put_object_tagging("k", [("x", "y")])
    assert await view.change_storage_class("k", "GLACIER") is True  # archive → FROZEN
    info = await view.head_object("k")
    assert (info.storage_class, info.content_type, dict(info.user_metadata)) == (
        "FROZEN",
        "text/plain",
        {"o": "1"},
    )
    assert await view.get_object_tagging("k") == [("x", "y")]
    assert await view.change_storage_class("k", "archive") is False  # already there
    assert await view.change_storage_class("k", "STANDARD_IA") is True  # cold → WARM
    assert await _class_of(view, "k") == "WARM"


async def test_balance__moves_the_key_where_it_lives(vendor: LocalUpstream) -> None:
    pb = PBucket("pb", (TargetSpec("one", "a"), TargetSpec("one", "b")), policy="balance")
    view = build_view(pb, [vendor, vendor])
    owner = view.view_for("k")
    await put(vendor, "k", b"data", owner.bucket)
    assert await view.change_storage_class("k", "cold") is True
    assert await _class_of(owner, "k") == "WARM"


async def test_replicate__moves_every_target(vendor: LocalUpstream) -> None:
    pb = PBucket("pb", (TargetSpec("one", "a"), TargetSpec("one", "b")), policy="replicate")
    # An unconnected client: a storage-class change never uses the repair queue.
    context = ReplicaContext(Redis.from_url("redis://127.0.0.1:1/0"), ReplicaSettings())
    view = build_view(pb, [vendor, vendor], context)
    for bucket in ("a", "b"):
        await put(vendor, "k", b"data", bucket)
    assert await view.change_storage_class("k", "GLACIER") is True
    for bucket in ("a", "b"):
        assert (await vendor.head_object(bucket, "k")).storage_class == "FROZEN"
    assert await view.change_storage_class("k", "GLACIER") is False
