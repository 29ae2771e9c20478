"""Expiration: delete a current object that a rule says is due, then drop its cache entry.

Deleting a key that is already gone succeeds (S3 semantics, kept by every upstream), so a page
repeated after a crash is harmless.
"""

from __future__ import annotations

from router.models import ListEntry
from ttl.run_context import RunContext

__all__ = ["expire"]


async def expire(ctx: RunContext, entry: ListEntry, rule_id: str) -> None:
    if ctx.job.dry_run:
        ctx.plan("Expiration", entry.key, rule_id)
        ctx.acted("expired", rule_id, entry.size)
        return
    await ctx.lease.hold()  # a leader that lost its lease deletes nothing
    await ctx.view.delete_object(entry.key)
    await ctx.hooks.on_removed(ctx.pbucket, entry.key)
    ctx.acted("expired", rule_id, entry.size)
