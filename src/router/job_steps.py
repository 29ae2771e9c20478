"""What the `rebalance` and `migrate` jobs do with one listed key; the walk is
`router.router_jobs`.

rebalance (a `balance` PBucket, key found on target `i` that is not its owner `o`):
    owner lacks it              copy i → o (server-side on one upstream, else streamed),
                                verify, delete from i                             → moved
    owner holds the same object delete from i                                     → dropped
    owner's copy is as new      a later write went to the owner (the misplaced
      or newer                  copy is stale): delete from i                     → dropped
    owner's copy is older       copy i → o over it, verify, delete from i         → moved
    a write reaches the owner   (the copy is conditional: If-None-Match: * or If-Match
      during the copy           on the owner's ETag) the misplaced copy is older:
                                delete it from i                                  → dropped
    the copy does not verify    nothing deleted                                   → errors
    the key left i meanwhile    nothing to do                                     → skipped

migrate (a `migrate` PBucket [new, old], key found on old):
    new holds it                new wins, nothing copied                          → present
    new lacks it                GET old → PUT new with If-None-Match: *, content
                                MD5 checked; old is never changed                 → copied
    a write to new came first   (the PUT's 412) new wins                          → present

The copy's destination condition cannot ride on a part-by-part copy of a multipart source
(UploadPart takes none): there a write to the very key being moved, in that instant, can still
be overwritten. LastModified has whole seconds: a tie goes to the owner, because since the
target list changed clients write to the owner only, so its copy is the later one; a misplaced
copy predates it.

Each step returns the counters it adds (`scanned` always) and, on a dry run, what it would do
instead of doing it. A step that fails raises; the job counts it in `errors` and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from router.balance import BalanceView
from router.errors import UpstreamError
from router.migrate import MigrateView
from router.models import ListEntry, ObjectInfo, PutOptions
from router.pbucket import BucketView
from router.repair import copy_object
from router.transfer import VerifyFailed, copy_if_absent, same_object

__all__ = ["Step", "migrate_key", "rebalance_key", "target_label"]


@dataclass(slots=True)
class Step:
    """One key's outcome: counters to add, and (dry run) the move it would make."""

    counts: dict[str, int] = field(default_factory=lambda: {"scanned": 1})
    plan: dict[str, str] | None = None

    def add(self, name: str, amount: int = 1) -> Step:
        self.counts[name] = self.counts.get(name, 0) + amount
        return self


def target_label(view: BucketView, index: int) -> str:
    """`vendor/bucket[/prefix]` of target `index`: how plans and progress name targets."""
    t = view.pbucket.targets[index]
    return f"{t.vendor}/{t.bucket}" + (f"/{t.prefix}" if t.prefix else "")


async def _head(view: BucketView, key: str) -> ObjectInfo | None:
    try:
        return await view.head_object(key)
    except UpstreamError as err:
        if err.code == "NoSuchKey":
            return None
        raise


def _unchanged(before: ObjectInfo | None, after: ObjectInfo | None) -> bool:
    if before is None or after is None:
        return before is after
    return before.etag == after.etag


async def rebalance_key(view: BalanceView, index: int, entry: ListEntry, *, dry_run: bool) -> Step:
    """Put `entry` (listed on target `index`) on its owner target, and only there."""
    step = Step()
    home = view.owner_index(entry.key)
    if home == index:
        return step
    step.add("misplaced")
    if dry_run:
        step.plan = {
            "key": entry.key,
            "from": target_label(view, index),
            "to": target_label(view, home),
        }
        return step
    src, dst, key = view.parts[index], view.parts[home], entry.key
    info = await _head(src, key)  # the listing may be older than the object
    if info is None:
        return step.add("skipped")
    have = await _head(dst, key)
    if have is not None and (
        (have.etag == info.etag and have.size == info.size)
        or have.last_modified >= info.last_modified
    ):
        await src.delete_object(key)  # the owner holds this version or a later one
        return step.add("dropped")
    # Pinned to `info` on the source (If-Match), and conditional on the owner still being as
    # seen, so a client's write that lands on the owner meanwhile is never overwritten.
    unless = PutOptions(if_none_match="*") if have is None else PutOptions(if_match=have.etag)
    try:
        await copy_object(src, dst, key, info, unless=unless)
    except UpstreamError:
        if _unchanged(have, await _head(dst, key)):
            raise  # the owner is as it was: the copy itself failed
        await src.delete_object(key)  # a write reached the owner meanwhile; this copy is older
        return step.add("dropped")
    landed = await _head(dst, key)
    if landed is None or not await same_object(src, info, dst, landed, key):
        raise VerifyFailed("the owner's copy does not match; the misplaced copy is kept")
    await src.delete_object(key)
    return step.add("moved").add("bytes", info.size)


async def migrate_key(view: MigrateView, entry: ListEntry, *, dry_run: bool) -> Step:
    """Copy `entry` (listed on old) into new unless new has the key."""
    step = Step()
    if await _head(view.new, entry.key) is not None:
        return step.add("present")
    step.add("missing")
    if dry_run:
        step.plan = {"key": entry.key, "from": target_label(view, 1), "to": target_label(view, 0)}
        return step
    try:
        copied = await copy_if_absent(view.old, view.new, entry.key)
    except UpstreamError as err:
        if err.code == "NoSuchKey":  # deleted through the PBucket meanwhile (from both)
            return step.add("skipped")
        raise
    if copied is None:
        return step.add("present")  # a write to new landed first, and new wins
    return step.add("copied").add("bytes", copied.size)
