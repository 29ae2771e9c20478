"""One key of the rebalance and migrate jobs over real local-directory vendors: every branch of
`router.job_steps`, checked on the vendor buckets themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from router import job_steps, local_store
from router.balance import BalanceView
from router.errors import UpstreamError
from router.job_steps import migrate_key, rebalance_key
from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.migrate import MigrateView
from router.models import ListEntry, ObjectInfo, PutOptions
from router.pbucket import BucketView, PBucket, TargetSpec
from router.transfer import same_object
from router.views import build_view
from tests.unit.router._local import body, drain


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The local vendor's write clock (ms), moved by the test: LastModified decides a branch."""
    now = [1_700_000_000_000]
    monkeypatch.setattr(local_store, "now_ms", lambda: now[0])
    yield now


@pytest.fixture
async def vendors(tmp_path: Path) -> AsyncIterator[tuple[LocalUpstream, LocalUpstream]]:
    one = LocalUpstream(LocalVendorSettings("one", tmp_path / "one"))
    two = LocalUpstream(LocalVendorSettings("two", tmp_path / "two"))
    for bucket in ("a", "b"):
        await one.create_bucket(bucket)
    await two.create_bucket("c")
    yield one, two
    await one.close()
    await two.close()


@pytest.fixture
def balance(vendors: tuple[LocalUpstream, LocalUpstream]) -> BalanceView:
    """Targets a (vendor one), c (vendor two, prefix p/), b (vendor one): copies between a and
    b are server-side, to and from c streamed."""
    one, two = vendors
    targets = (TargetSpec("one", "a"), TargetSpec("two", "c", "p/"), TargetSpec("one", "b"))
    view = build_view(PBucket("bal", targets, policy="balance"), [one, two, one])
    assert isinstance(view, BalanceView)
    return view


@pytest.fixture
def migrate(vendors: tuple[LocalUpstream, LocalUpstream]) -> MigrateView:
    one, two = vendors
    targets = (TargetSpec("two", "c"), TargetSpec("one", "a"))
    view = build_view(PBucket("mig", targets, policy="migrate"), [two, one])
    assert isinstance(view, MigrateView)
    return view


async def _put(part: BucketView, key: str, data: bytes) -> None:
    await part.put_object(key, body(data), len(data), PutOptions(user_metadata={"m": "1"}))


async def _entry(part: BucketView, key: str) -> ListEntry:
    info = await part.head_object(key)
    return ListEntry(key, info.size, info.etag, info.last_modified)


async def _has(part: BucketView, key: str) -> bool:
    try:
        await part.head_object(key)
    except UpstreamError as err:
        assert err.code == "NoSuchKey"
        return False
    return True


def _misplaced(view: BalanceView, owner: int, other: int, tag: str = "") -> str:
    """A key owned by target `owner` (found by trying names)."""
    for i in range(1000):
        key = f"k{i}-{owner}-{other}{tag}"
        if view.owner_index(key) == owner:
            return key
    raise AssertionError("no key found")


@pytest.mark.parametrize(("home", "stray"), [(0, 2), (2, 0), (1, 0), (0, 1)])
async def test_rebalance_key__moves_to_the_owner_verified_then_deletes(
    balance: BalanceView, home: int, stray: int, clock: list[int]
) -> None:
    key = _misplaced(balance, home, stray)
    data = b"payload " * 1000
    await _put(balance.parts[stray], key, data)
    step = await rebalance_key(
        balance, stray, await _entry(balance.parts[stray], key), dry_run=False
    )
    assert step.counts == {"scanned": 1, "misplaced": 1, "moved": 1, "bytes": len(data)}
    assert not await _has(balance.parts[stray], key)
    assert await drain(await balance.parts[home].get_object(key)) == data
    assert (await balance.parts[home].head_object(key)).user_metadata == {"m": "1"}


async def test_rebalance_key__on_its_owner_or_dry_run_changes_nothing(
    balance: BalanceView, clock: list[int]
) -> None:
    key = _misplaced(balance, 0, 2)
    await _put(balance.parts[0], key, b"home")
    await _put(balance.parts[2], key + "x", b"stray")
    assert (
        await rebalance_key(balance, 0, await _entry(balance.parts[0], key), dry_run=False)
    ).counts == {"scanned": 1}
    stray = _misplaced(balance, 1, 2)
    await _put(balance.parts[2], stray, b"stray")
    step = await rebalance_key(balance, 2, await _entry(balance.parts[2], stray), dry_run=True)
    assert step.counts == {"scanned": 1, "misplaced": 1}
    assert step.plan == {"key": stray, "from": "one/b", "to": "two/c/p/"}
    assert await _has(balance.parts[2], stray) and not await _has(balance.parts[1], stray)


async def test_rebalance_key__owner_newer_or_equal_wins_and_stale_copy_goes(
    balance: BalanceView, clock: list[int]
) -> None:
    for later_ms in (0, 5_000):  # a tie (one second) goes to the owner too
        key = _misplaced(balance, 0, 2, str(later_ms))
        await _put(balance.parts[2], key, b"stale")
        clock[0] += later_ms
        await _put(balance.parts[0], key, b"newer write")
        entry = await _entry(balance.parts[2], key)
        step = await rebalance_key(balance, 2, entry, dry_run=False)
        assert step.counts == {"scanned": 1, "misplaced": 1, "dropped": 1}
        assert not await _has(balance.parts[2], key)
        assert await drain(await balance.parts[0].get_object(key)) == b"newer write"


async def test_rebalance_key__owner_older_is_replaced_by_the_newer_stray(
    balance: BalanceView, clock: list[int]
) -> None:
    key = _misplaced(balance, 1, 0)
    await _put(balance.parts[1], key, b"older")
    clock[0] += 5_000
    await _put(balance.parts[0], key, b"the newest")
    step = await rebalance_key(balance, 0, await _entry(balance.parts[0], key), dry_run=False)
    assert step.counts["moved"] == 1 and not await _has(balance.parts[0], key)
    assert await drain(await balance.parts[1].get_object(key)) == b"the newest"


async def test_rebalance_key__gone_meanwhile_is_skipped(
    balance: BalanceView, clock: list[int]
) -> None:
    key = _misplaced(balance, 0, 2)
    await _put(balance.parts[2], key, b"soon gone")
    entry = await _entry(balance.parts[2], key)
    await balance.parts[2].delete_object(key)
    step = await rebalance_key(balance, 2, entry, dry_run=False)
    assert step.counts == {"scanned": 1, "misplaced": 1, "skipped": 1}
    assert not await _has(balance.parts[0], key)


async def test_migrate_key__copies_what_new_lacks_and_never_touches_old_or_new_copies(
    migrate: MigrateView, clock: list[int]
) -> None:
    await _put(migrate.old, "only-old", b"old bytes")
    await _put(migrate.old, "both", b"old version")
    await _put(migrate.new, "both", b"new version")
    dry = await migrate_key(migrate, await _entry(migrate.old, "only-old"), dry_run=True)
    assert dry.counts == {"scanned": 1, "missing": 1} and not await _has(migrate.new, "only-old")
    assert dry.plan == {"key": "only-old", "from": "one/a", "to": "two/c"}
    step = await migrate_key(migrate, await _entry(migrate.old, "only-old"), dry_run=False)
    assert step.counts == {"scanned": 1, "missing": 1, "copied": 1, "bytes": 9}
    assert await drain(await migrate.new.get_object("only-old")) == b"old bytes"
    assert (await migrate.new.head_object("only-old")).user_metadata == {"m": "1"}
    both = await migrate_key(migrate, await _entry(migrate.old, "both"), dry_run=False)
    assert both.counts == {"scanned": 1, "present": 1}
    assert await drain(await migrate.new.get_object("both")) == b"new version"
    assert await drain(await migrate.old.get_object("both")) == b"old version"
    assert await drain(await migrate.old.get_object("only-old")) == b"old bytes"


async def test_same_object__size_etag_and_content(balance: BalanceView, clock: list[int]) -> None:
    a, b = balance.parts[0], balance.parts[1]
    await _put(a, "x", b"same")
    await _put(b, "x", b"same")
    await _put(b, "y", b"diff")
    ax, bx, by = await a.head_object("x"), await b.head_object("x"), await b.head_object("y")
    assert await same_object(a, ax, b, bx, "x")
    assert not await same_object(a, ax, b, by, "x")


@pytest.mark.parametrize("owner_had", [False, True])
@pytest.mark.parametrize(("home", "stray"), [(0, 2), (1, 0)])  # server-side; streamed
async def test_rebalance_key__a_write_landing_on_the_owner_during_the_move_is_kept(
    balance: BalanceView,
    clock: list[int],
    monkeypatch: pytest.MonkeyPatch,
    owner_had: bool,
    home: int,
    stray: int,
) -> None:
    """The job looks at the owner, then a client's write lands there, then the job copies: the
    conditional copy refuses, and the stray (older) copy is dropped instead."""
    key = _misplaced(balance, home, stray, "race")
    if owner_had:
        await _put(balance.parts[home], key, b"owner's old copy")
    clock[0] += 5_000
    await _put(balance.parts[stray], key, b"stray, newer than the owner's old copy")
    entry = await _entry(balance.parts[stray], key)
    real_head = job_steps._head
    seen: list[str] = []

    async def head_then_write(view: BucketView, k: str) -> ObjectInfo | None:
        info = await real_head(view, k)
        if view is balance.parts[home] and not seen:
            seen.append(k)  # the job has looked at the owner: the client writes now
            clock[0] += 5_000
            await _put(balance.parts[home], k, b"client write during the move")
        return info

    monkeypatch.setattr(job_steps, "_head", head_then_write)
    step = await rebalance_key(balance, stray, entry, dry_run=False)
    assert step.counts == {"scanned": 1, "misplaced": 1, "dropped": 1}
    assert await drain(await balance.parts[home].get_object(key)) == (
        b"client write during the move"
    )
    assert not await _has(balance.parts[stray], key)
