"""Write-through: a PutObject's bytes are cached on their way to the vendor.

The bytes are collected while they stream to the vendor and admitted only after the vendor has
acknowledged the write (a failed or unverified upload caches nothing). Their metadata comes
from a HEAD pinned to the ETag the vendor returned (`If-Match`), in the background after the
client has its answer: the cache then holds exactly what the vendor holds at that ETag,
Last-Modified included, and a write that raced in between (another ETag) is simply not cached.

Memory is bounded per node by `CacheSettings.write_through_max`: a write that does not fit in
what is left of it goes around the cache (so does any write when the PBucket's rule says
`around`, an SSE-C write, and multipart uploads, whose parts are not cut on block boundaries).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from cache.blocks import block_count
from gateway.cache_policy import WriteMode
from gateway.cache_read import SSE_C_HEADER, CacheService, info_to_doc
from gateway.context import RequestContext
from router.errors import RouterError
from router.models import Conditions
from router.pbucket import BucketView

__all__ = ["WriteTee", "admit_written", "start_tee"]

log = logging.getLogger("pcache.cache")


@dataclass(slots=True)
class WriteTee:
    """The bytes of one PutObject, kept for the cache while they go to the vendor."""

    cache: CacheService
    reserved: int
    parts: list[bytes] = field(default_factory=list)
    released: bool = False

    async def wrap(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self.parts = []  # a retried upload starts over
        async for chunk in chunks:
            self.parts.append(bytes(chunk))
            yield chunk

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.cache.write_reserved -= self.reserved
            self.parts = []


def start_tee(ctx: RequestContext, length: int) -> WriteTee | None:
    """A tee for this PutObject, or None when it goes around the cache."""
    cache = ctx.services.cache
    if cache is None or SSE_C_HEADER in ctx.request.headers:
        return None
    if cache.policy(ctx.bucket, ctx.key).write_mode is WriteMode.AROUND:
        return None
    if cache.write_reserved + length > cache.settings.write_through_max:
        cache.writes_around_for_memory += 1
        return None
    cache.write_reserved += length
    return WriteTee(cache, length)


def admit_written(ctx: RequestContext, view: BucketView, tee: WriteTee, etag: str) -> None:
    """After the vendor acknowledged the write: cache its metadata and blocks, off the
    response path. Always releases the tee's memory."""
    tee.cache.background(_admit(tee, view, ctx.bucket, ctx.key, etag))


async def _admit(tee: WriteTee, view: BucketView, pbucket: str, key: str, etag: str) -> None:
    cache = tee.cache
    try:
        if sum(len(part) for part in tee.parts) != tee.reserved:
            return  # the body was not what its length said; the upload failed anyway
        try:
            info = await view.head_object(key, conditions=Conditions(if_match=etag))
        except RouterError as err:
            log.info("write-through: %s/%s not cached (%s)", pbucket, key, err)
            return
        if info.etag != etag or info.size != tee.reserved:
            return  # another write won the race: cache nothing of this one
        size = cache.policy(pbucket, key).block_size
        ids = cache.block_ids(view, key, info.etag, range(block_count(info.size, size)), size)
        # Cut blocks as the parts are consumed: the peak stays one block above the parts.
        buffer, index = bytearray(), 0
        parts, tee.parts = tee.parts, []
        for part in parts:
            buffer += part
            while len(buffer) >= size or (buffer and len(buffer) == info.size - index * size):
                block, buffer = bytes(buffer[:size]), buffer[size:]
                await cache.store.put(ids[index], block)
                index += 1
        await cache.meta.put(pbucket, key, info_to_doc(info))
        cache.written_through += 1
    finally:
        tee.release()
