"""The `migrate` policy: move a PBucket from one vendor bucket to another without downtime.

Targets are `[new, old]`. Writes (PUT, copy, multipart) go to `new` only; reads try `new`, then
`old`, and what is found only in `old` is copied into `new` in the background (copy-on-read);
deletes reach both, so a key deleted during the migration cannot come back from `old`; listings
merge both with `new` winning a key present in both. A background job (`router.router_jobs`)
copies the rest; once `old` holds nothing `new` lacks, the PBucket can become `single` on `new`.

Built on `BalanceView`: placement is "always the first target" instead of a hash, which gives
the same probing, everywhere-deletes, owner-wins listing merge and pinned multipart uploads.

Copy-on-read never overwrites: it writes with `If-None-Match: *`, so a client's PUT to `new`
that lands first always wins, and a copy that meets one is simply dropped. The copy is pinned to
the ETag that was read (`If-Match` on the source), so it carries exactly that version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from router.balance import BalanceView
from router.errors import RouterError, UpstreamError
from router.models import ObjectInfo
from router.pbucket import BucketView, PBucket
from router.transfer import copy_if_absent
from router.upstream import Upstream

__all__ = ["MigrateView"]

log = logging.getLogger("pcache.router")
T = TypeVar("T")

#: copy-on-read transfers running at once per view; more found-in-old reads are not copied
#: then (the migrate job, or a later read, will)
_MAX_COPIES = 8


class MigrateView(BalanceView):
    """A `migrate` PBucket: `parts[0]` is the new target, `parts[1]` the old one."""

    def __init__(self, pbucket: PBucket, upstreams: Sequence[Upstream]) -> None:
        if len(pbucket.targets) != 2:
            raise ValueError("a migrate PBucket has exactly two targets: [new, old]")
        super().__init__(pbucket, upstreams)
        self.copies: set[asyncio.Task[bool]] = set()
        self.copied = 0  # objects copied into new on read

    def owner_index(self, key: str) -> int:
        return 0  # every key's home is the new target

    @property
    def new(self) -> BucketView:
        return self.parts[0]

    @property
    def old(self) -> BucketView:
        return self.parts[1]

    async def _probe(self, key: str, op: Callable[[BucketView], Awaitable[T]]) -> T:
        try:
            return await op(self.new)
        except UpstreamError as err:
            if err.code != "NoSuchKey":
                raise
        result = await op(self.old)
        info = getattr(result, "info", result)
        if isinstance(info, ObjectInfo):
            self._copy_in_background(key, info.etag)
        return result

    def _copy_in_background(self, key: str, etag: str) -> None:
        if len(self.copies) >= _MAX_COPIES:
            return
        task = asyncio.ensure_future(self.copy_in(key, etag))
        self.copies.add(task)
        task.add_done_callback(self.copies.discard)

    async def copy_in(self, key: str, etag: str | None = None) -> bool:
        """Copy `key` from old into new unless new has it; True if this call copied it.

        `etag` pins the version read (None: whatever old holds now). Failures are logged and
        left for the next read or the migrate job: a copy is an optimisation, never an answer.
        """
        try:
            copied = await copy_if_absent(self.old, self.new, key, etag)
        except RouterError as err:
            log.info("migrate copy-on-read of %r failed: %s", key, err)
            return False
        if copied is None:
            return False  # new has it already, and new wins
        self.copied += 1
        return True
