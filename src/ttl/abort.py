"""AbortIncompleteMultipartUpload: abort uploads initiated more than DaysAfterInitiation ago.

Uploads match a rule by prefix only (they have no tags or size yet). Listed page by page
through the router (ListMultipartUploads), with a checkpoint (key and upload id markers) after
each page. Aborting an upload that is gone already (NoSuchUpload) counts as done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from router.errors import UpstreamError
from router.models import UploadInfo
from ttl.lease import LeaseLost
from ttl.plan import due_abort
from ttl.run_context import RunContext, each

__all__ = ["walk_uploads"]


async def _one(ctx: RunContext, upload: UploadInfo) -> None:
    rule_id = due_abort(ctx.config, upload.key, upload.initiated, ctx.now)
    if rule_id is None:
        return
    if ctx.job.dry_run:
        ctx.plan("AbortIncompleteMultipartUpload", upload.key, rule_id, upload_id=upload.upload_id)
        ctx.acted("aborted", rule_id, 0)
        return
    try:
        await ctx.lease.hold()
        try:
            await ctx.view.abort_multipart_upload(upload.key, upload.upload_id)
        except UpstreamError as err:
            if err.code != "NoSuchUpload":
                raise
    except LeaseLost:
        raise
    except Exception as err:
        ctx.failed(upload.key, err)
        return
    ctx.acted("aborted", rule_id, 0)


async def walk_uploads(ctx: RunContext, checkpoint: Callable[[], Awaitable[None]]) -> None:
    job = ctx.job
    while True:
        await ctx.lease.confirm()
        page = await ctx.view.list_multipart_uploads(
            key_marker=job.upload_key or None,
            upload_id_marker=job.upload_id or None,
            max_uploads=ctx.settings.page_size,
        )
        await each(page.uploads, lambda u: _one(ctx, u), ctx.settings.parallel)
        if page.uploads:
            job.upload_key = page.next_key_marker or page.uploads[-1].key
            job.upload_id = page.next_upload_id_marker or page.uploads[-1].upload_id
        await checkpoint()
        if not (page.is_truncated and page.uploads):
            return
