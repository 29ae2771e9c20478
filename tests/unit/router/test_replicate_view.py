"""ReplicateView's pure surface: every operation overridden, one cache identity per key,
read order, and upload ids that name targets (not positions)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from router.errors import UpstreamError
from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.models import Conditions, PutOptions
from router.pbucket import BucketView, PBucket, TargetSpec
from router.replica_context import ReplicaContext, ReplicaSettings
from router.replica_math import LatencyBook, encode_upload_id
from router.replicate import ReplicateView
from router.views import POLICIES, build_view
from tests.unit.router._local import body, drain


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


TARGETS = (
    TargetSpec("one", "a"),
    TargetSpec("one", "b", "p/", region="eu"),
    TargetSpec("one", "c"),
)


@pytest.fixture
async def one(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    up = LocalUpstream(LocalVendorSettings("one", tmp_path / "one"))
    yield up
    await up.close()


def _context(affinity: str | None = None) -> ReplicaContext:
    # An unconnected client: these tests never reach Redis (the view's Redis use is covered by
    # tests/integration/test_replicate.py against a real server).
    redis = Redis.from_url("redis://127.0.0.1:1/0")
    return ReplicaContext(
        redis, ReplicaSettings(region_affinity=affinity), latency=LatencyBook(clock=FakeClock())
    )


def _view(
    one: LocalUpstream, *, affinity: str | None = None, quorum: int | None = 2
) -> ReplicateView:
    pb = PBucket(name="rep", targets=TARGETS, policy="replicate", write_quorum=quorum)
    view = build_view(pb, [one] * 3, _context(affinity))
    assert isinstance(view, ReplicateView)
    return view


def test_replicate_view__overrides_every_operation_of_bucket_view() -> None:
    public = {
        n
        for n, f in inspect.getmembers(BucketView, inspect.isfunction)
        if not n.startswith("_") and n not in ("vkey",)
    }
    missing = {n for n in public if getattr(ReplicateView, n) is getattr(BucketView, n)}
    assert missing == set()


def test_policies__replicate_is_registered() -> None:
    assert "replicate" in POLICIES


def test_build_view__replicate_needs_the_shared_context(one: LocalUpstream) -> None:
    pb = PBucket(name="rep", targets=TARGETS, policy="replicate")
    with pytest.raises(UpstreamError):
        build_view(pb, [one] * 3)


def test_quorum__default_all_and_clamped_to_the_targets(one: LocalUpstream) -> None:
    assert _view(one, quorum=None).quorum == 3
    assert _view(one, quorum=2).quorum == 2
    assert _view(one, quorum=7).quorum == 3  # a record that outgrew a shrunk target list


def test_block_names__one_identity_whichever_target_serves(one: LocalUpstream) -> None:
    view = _view(one)
    names = view.block_names("k/1")
    assert names == ("replicate:rep", "a", "k/1")
    # Reordering targets (or a failover) does not move the cache identity of a key's blocks
    # as long as the first target stays; the ETag in the block id keeps versions apart.
    view.ctx.latency.observe(view.identities[2], 0.001)
    view.ctx.latency.observe(view.identities[0], 0.5)
    assert view.order()[0] != 0
    assert view.block_names("k/1") == names


def test_order__region_affinity_then_latency(one: LocalUpstream) -> None:
    view = _view(one, affinity="eu")
    assert view.order()[0] == 1
    view.ctx.latency.failed(view.identities[1])
    assert view.order()[0] == 1  # affinity outranks latency; only an open breaker demotes it
    plain = _view(one)
    plain.ctx.latency.observe(plain.identities[0], 0.3)
    plain.ctx.latency.observe(plain.identities[1], 0.2)
    plain.ctx.latency.observe(plain.identities[2], 0.1)
    assert plain.order() == [2, 1, 0]


def test_upload_id__decodes_by_target_tag_not_position(one: LocalUpstream) -> None:
    view = _view(one)
    upload_id = encode_upload_id([(view.tags[2], "v2"), (view.tags[0], "v0"), (view.tags[1], None)])
    assert view._decode(upload_id) == {2: "v2", 0: "v0"}
    # A target removed from the PBucket drops out; an id with no known target is not ours.
    fewer = build_view(replace(view.pbucket, targets=TARGETS[:2]), [one] * 2, view.ctx)
    assert isinstance(fewer, ReplicateView)
    assert fewer._decode(upload_id) == {0: "v0"}
    with pytest.raises(UpstreamError) as err:
        view._decode(encode_upload_id([("0000000000", "x")]))
    assert err.value.code == "NoSuchUpload"
    with pytest.raises(UpstreamError):
        view._decode("plain-vendor-id")


async def test_get__if_match_412_on_the_preferred_target_asks_the_others(
    one: LocalUpstream,
) -> None:
    # A stale (or differently-ETagged) replica must not hide the version asked for: the cache
    # reads blocks with If-Match of the ETag it knows, whichever target answered first.
    for b in ("a", "b", "c"):
        await one.create_bucket(b)
    view = _view(one)
    old = await one.put_object("a", "k", body(b"old"), 3, PutOptions())
    await one.put_object("b", "p/k", body(b"new!"), 4, PutOptions())
    await one.put_object("c", "k", body(b"new!"), 4, PutOptions())
    view.ctx.latency.observe(view.identities[1], 0.001)  # b first, then c, then a
    view.ctx.latency.observe(view.identities[2], 0.002)
    view.ctx.latency.observe(view.identities[0], 0.003)
    assert await drain(await view.get_object("k")) == b"new!"
    stream = await view.get_object("k", conditions=Conditions(if_match=old.etag))
    assert await drain(stream) == b"old"
    with pytest.raises(UpstreamError) as err:
        await view.head_object("k", conditions=Conditions(if_match='"0000"'))
    assert err.value.status == 412  # nobody has it: the 412 stands


async def test_get__a_vendor_answer_other_than_404_or_412_stands(one: LocalUpstream) -> None:
    view = _view(one)  # buckets never created: the first target answers NoSuchBucket
    with pytest.raises(UpstreamError) as err:
        await view.get_object("k")
    assert err.value.code == "NoSuchBucket"


async def test_inflight__the_running_write_of_a_key_per_target_is_known_until_it_ends() -> None:
    ctx = _context()
    slot = ("rep", "k", 0)
    gate = asyncio.Event()
    first = asyncio.ensure_future(gate.wait())
    ctx.running(slot, first)
    assert ctx.running_write(slot) is first
    assert ctx.running_write(("rep", "k", 1)) is None  # per target
    second = asyncio.ensure_future(gate.wait())
    ctx.running(slot, second)
    assert ctx.running_write(slot) is second  # the newest one is waited for
    gate.set()
    await asyncio.gather(first, second)
    assert ctx.running_write(slot) is None and slot not in ctx.inflight
