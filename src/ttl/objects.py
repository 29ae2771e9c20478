"""The object phase of a run: list the PBucket page by page, decide each object, act.

One page in memory at a time (plus the tags of the objects in hand); the checkpoint after
each page is the caller's. An object that matches no rule, or none that is due, is only
counted (`scanned`). Tags are read (GetObjectTagging) only for objects a tag-filtered rule
could select.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from router.models import ListEntry, ListPage
from ttl.due import Action, decide
from ttl.expire import expire
from ttl.lease import LeaseLost
from ttl.plan import needs_tags
from ttl.run_context import RunContext, each
from ttl.transition import transition

__all__ = ["object_page", "walk_objects"]


async def _one(ctx: RunContext, entry: ListEntry) -> None:
    job = ctx.job
    job.scanned += 1
    try:
        tags: dict[str, str] = {}
        if needs_tags(ctx.config, entry.key, entry.size):
            tags = dict(await ctx.view.get_object_tagging(entry.key))
        due = decide(
            ctx.config,
            entry.key,
            entry.size,
            tags,
            entry.last_modified,
            ctx.now,
            current_class=entry.storage_class or "STANDARD",
        )
        if due is None:
            return
        if due.action is Action.EXPIRE:
            await expire(ctx, entry, due.rule_id)
        elif due.action is Action.TRANSITION and due.storage_class is not None:
            await transition(ctx, entry, due.rule_id, due.storage_class)
    except LeaseLost:
        raise
    except Exception as err:  # one object failed: counted, the run goes on
        ctx.failed(entry.key, err)


async def object_page(ctx: RunContext, page: ListPage) -> None:
    """Every object of one listed page."""
    await each(page.entries, lambda e: _one(ctx, e), ctx.settings.parallel)
    ctx.counted("scanned", objects=len(page.entries))


async def walk_objects(ctx: RunContext, checkpoint: Callable[[], Awaitable[None]]) -> None:
    """From the record's `last_key` to the end of the listing, a checkpoint after each page."""
    job = ctx.job
    while True:
        await ctx.lease.confirm()  # renews the lease between pages; a lost one stops the walk
        page = await ctx.view.list_objects(
            max_keys=ctx.settings.page_size, start_after=job.last_key or None
        )
        await object_page(ctx, page)
        end = page.next_start_after or (page.entries[-1].key if page.entries else "")
        if end:
            job.last_key = end
        await checkpoint()
        if not (page.is_truncated and end):
            return
