"""Transition: move a current object to the vendor's class for a rule's storage class.

The router does the move (`BucketView.change_storage_class`: a self-copy, per target, through
the vendor profile's class map); an object already in that class is skipped, so a repeated page
moves nothing twice. An object rewritten between listing and copy fails the copy's ETag
condition and is skipped too: it is a new object with its own age.
"""

from __future__ import annotations

from router.errors import UpstreamError
from router.models import ListEntry
from ttl.run_context import RunContext

__all__ = ["transition"]


async def transition(ctx: RunContext, entry: ListEntry, rule_id: str, storage_class: str) -> None:
    if ctx.job.dry_run:
        ctx.plan("Transition", entry.key, rule_id, storage_class=storage_class)
        ctx.acted("transitioned", rule_id, entry.size)
        return
    await ctx.lease.hold()
    try:
        moved = await ctx.view.change_storage_class(entry.key, storage_class)
    except UpstreamError as err:
        if err.code not in ("PreconditionFailed", "NoSuchKey"):
            raise
        moved = False
    if not moved:
        ctx.job.skipped += 1
        return
    await ctx.hooks.on_removed(ctx.pbucket, entry.key)  # cached metadata names the old class
    ctx.acted("transitioned", rule_id, entry.size)
