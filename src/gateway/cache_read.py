"""GetObject through the block cache: metadata from the meta cache (revalidated past `max_age`),
bytes from tier blocks, misses fetched from the vendor as block-sized range GETs pinned to the
ETag (`If-Match`), shared by single-flight, streamed in order and stored on the way.

What is never served: bytes of another ETag (every vendor read carries `If-Match`; a 412 mid-read
aborts the response and forgets the metadata), a block whose CRC fails (the store treats it as a
miss), or anything before authorisation (this runs after `authz`, inside the handler).

Bypassed (straight to the vendor): `partNumber` reads and SSE-C requests (the customer key is
part of the read, so the bytes are not the cache's to share).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
)
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from cache.blocks import BlockId, Slice, block_count, block_span, blocks_for_range
from cache.list_cache import ListCache
from cache.meta import MetaCache, MetaEntry
from cache.single_flight import SingleFlight
from cache.store import TieredStore
from gateway.buffers import read_exactly
from gateway.cache_policy import Freshness, FreshnessMode, ObjectPolicy, PolicyBook, WriteMode
from gateway.cache_ttl_view import CacheTtlView
from gateway.context import RequestContext
from gateway.errors import S3Error
from gateway.file_send import FileSlice
from router.errors import NotModified, UpstreamError, VendorUnavailable
from router.models import ByteRange, Conditions, ListPage, ObjectInfo, ObjectStream
from router.pbucket import BucketView
from router.preconditions import Outcome, evaluate_preconditions

__all__ = [
    "CacheService",
    "CacheSettings",
    "cached_get",
    "cached_head",
    "forget",
    "info_from_doc",
    "info_to_doc",
    "warm_object",
]

log = logging.getLogger("pcache.cache")

SSE_C_HEADER = "x-amz-server-side-encryption-customer-algorithm"
#: (owner worker, pbucket, key, object, block index, block size) -> its bytes, or None
OwnerFill = Callable[[int, str, str, ObjectInfo, int, int], Awaitable[bytes | None]]
#: seconds a reader waits for another reader's in-flight vendor GET before fetching itself
FOLLOW_TIMEOUT = 5.0
#: ranged readers remembered for read-ahead (oldest forgotten first)
SEQUENTIAL_TRACKED = 4096


@dataclass(frozen=True, slots=True)
class CacheSettings:
    block_size: int = 8 * 1024 * 1024
    #: seconds within which cached metadata is used without asking the vendor
    max_age: float = 60.0
    #: block fetches running ahead of the one being sent, per request
    fanout: int = 4
    #: block fetches in flight on this node at once (bounds memory: each holds one block)
    max_fetches: int = 16
    #: seconds past max_age that metadata may still be served while the vendor is unreachable
    stale_if_error: float = 0.0
    #: bytes of PutObject bodies held at once for write-through (see `gateway.cache_write`)
    write_through_max: int = 64 * 1024 * 1024


@dataclass(slots=True)
class FirstRead:
    """A whole-object vendor GET in progress on this node (see `_first_read`). Other readers
    of the same object wait on it instead of asking the vendor for the same bytes again."""

    etag: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # metadata cached (or failed)
    progress: asyncio.Event = field(default_factory=asyncio.Event)  # a block landed, or the end
    done: bool = False

    def advance(self) -> None:
        event, self.progress = self.progress, asyncio.Event()
        event.set()


@dataclass(slots=True)
class CacheService:
    store: TieredStore
    meta: MetaCache
    settings: CacheSettings
    flights: SingleFlight[str, bytes] = field(default_factory=SingleFlight)
    gate: asyncio.Semaphore = field(init=False)
    pending: set[asyncio.Future[object]] = field(default_factory=set)
    #: blocks fetched whose tier write has not finished yet (block id hex -> bytes)
    filling: dict[str, bytes] = field(default_factory=dict)
    #: reads answered from stale metadata because the vendor was unreachable
    stale_serves: int = 0
    #: whole-object first reads in progress, by "<pbucket>\0<key>"
    first_reads: dict[str, FirstRead] = field(default_factory=dict)
    #: per PBucket / prefix freshness, write mode and block size (defaults: `settings`)
    policies: PolicyBook | None = None
    #: write-through accounting: bytes held now, writes admitted, writes skipped for memory
    write_reserved: int = 0
    written_through: int = 0
    writes_around_for_memory: int = 0
    #: where each recent ranged reader's last read ended ("<pbucket>\0<key>\0<etag>" -> block)
    sequential: dict[str, int] = field(default_factory=dict)
    read_ahead: int = 0  # blocks fetched ahead of sequential readers
    #: per PBucket / prefix cache TTLs (admin API), None when the node has none to apply
    ttl: CacheTtlView | None = None
    #: with several workers: asks a block's owner worker to fetch it (one vendor read per block
    #: per host); None from it (owner unreachable) means fetch here
    owner_fill: OwnerFill | None = None
    #: ListObjects pages (`gateway.cache_list`), dropped per PBucket by `lists_changed`
    lists: ListCache[ListPage] = field(default_factory=ListCache)
    #: (pbucket, request, generation) -> the one vendor listing in flight for it
    list_flights: SingleFlight[tuple[str, tuple[object, ...], int], ListPage] = field(
        default_factory=SingleFlight
    )
    #: listings sent to the vendor uncached because their freshness is `revalidate`
    lists_bypassed: int = 0

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.settings.max_fetches)
        if self.policies is None:
            self.policies = PolicyBook(
                ObjectPolicy(
                    Freshness(FreshnessMode.MAX_AGE, self.settings.max_age),
                    WriteMode.THROUGH,
                    self.settings.block_size,
                )
            )

    def policy(self, pbucket: str, key: str) -> ObjectPolicy:
        assert self.policies is not None  # set in __post_init__
        return self.policies.lookup(pbucket, key)

    def written_after(self, pbucket: str, key: str) -> float | None:
        """The cache TTL as a cut-off: blocks of `key` written earlier are not served."""
        return None if self.ttl is None else self.ttl.written_after(pbucket, key)

    def block_ids(
        self, view: BucketView, key: str, etag: str, indexes: Iterable[int], block_size: int
    ) -> list[BlockId]:
        names = view.block_names(key)
        return [BlockId.of(*names, etag, i, block_size=block_size) for i in indexes]

    def background(self, work: Coroutine[Any, Any, object]) -> None:
        """Run `work` without waiting for it, keeping a reference until it ends."""
        task = asyncio.ensure_future(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def forget(self, pbucket: str, key: str) -> None:
        """A write, copy or delete changed `key`: every node re-reads its metadata (and, through
        the meta cache's listeners, drops its cached listing pages of `pbucket`)."""
        await self.meta.invalidate(pbucket, key)

    def lists_changed(self, pbucket: str | None) -> None:
        """Keys of `pbucket` (None: of any PBucket) changed: its cached listings are stale."""
        if pbucket is None:
            self.lists.clear()
        else:
            self.lists.drop(pbucket)


async def forget(ctx: RequestContext, key: str, bucket: str | None = None) -> None:
    """Called by every handler that changes an object (after the vendor answered, or failed)."""
    if ctx.services.cache is not None:
        await ctx.services.cache.forget(bucket or ctx.bucket, key)


# -- metadata documents ----------------------------------------------------------------------
def info_to_doc(info: ObjectInfo) -> dict[str, Any]:
    """The metadata document kept in Redis and in every node's memory: unset fields (None,
    empty mappings) are left out, `info_from_doc` gives them their defaults back. Most objects
    set 5 of 17 fields, and a node holds thousands of these."""
    doc = {
        name: value
        for name, value in asdict(info).items()
        if value is not None and value != {} and name != "part_range"
    }
    doc["last_modified"] = info.last_modified.isoformat()
    return doc


def info_from_doc(doc: dict[str, Any]) -> ObjectInfo:
    known = {f.name for f in fields(ObjectInfo)}
    values = {k: v for k, v in doc.items() if k in known}
    values["last_modified"] = datetime.fromisoformat(doc["last_modified"])
    return ObjectInfo(**values)


def _info_of(entry: MetaEntry) -> ObjectInfo:
    """The entry's document as ObjectInfo, decoded once per entry."""
    info = entry.memo.get("info")
    if info is None:
        assert entry.document is not None
        info = entry.memo["info"] = info_from_doc(entry.document)
    return info


async def _metadata(
    cache: CacheService,
    ctx: RequestContext,
    view: BucketView,
    entry: MetaEntry | None,
    max_age: float,
) -> ObjectInfo:
    """Fresh metadata from `entry` (the meta cache's answer, looked up once per request),
    asking the vendor only when it is missing or older than `max_age` (the object's freshness
    rule: infinite for immutable data, 0 to revalidate on every read)."""
    wall = cache.meta.wall()
    if entry is not None and wall - entry.fetched_at <= max_age:
        if entry.document is None:
            raise S3Error("NoSuchKey", fields={"Key": ctx.key})
        return _info_of(entry)
    known = entry.document if entry is not None else None
    try:
        if known is not None:
            # Revalidate: an unchanged ETag refreshes the entry without refetching a block.
            try:
                await view.head_object(ctx.key, conditions=Conditions(if_none_match=known["etag"]))
            except NotModified:
                await cache.meta.put(ctx.bucket, ctx.key, known)
                return info_from_doc(known)
        info = await view.head_object(ctx.key)
    except UpstreamError as err:
        if err.code == "NoSuchKey":
            await cache.meta.put(ctx.bucket, ctx.key, None)
        raise
    except VendorUnavailable:
        grace = max_age + cache.settings.stale_if_error
        if known is not None and entry is not None and wall - entry.fetched_at <= grace:
            cache.stale_serves += 1
            log.warning("cache: vendor unreachable, serving stale metadata (stale-if-error)")
            return info_from_doc(known)
        raise
    await cache.meta.put(ctx.bucket, ctx.key, info_to_doc(info))
    return info


# -- block reads -------------------------------------------------------------------------------
async def _fetch_block(
    cache: CacheService,
    view: BucketView,
    key: str,
    info: ObjectInfo,
    index: int,
    bid: BlockId,
    block_size: int,
) -> bytes:
    first, last = block_span(info.size, block_size, index)

    async def fetch() -> bytes:
        # A caller looks in `filling` and the tiers before it gets here, but may have awaited
        # since: a fetch of this block that ended meanwhile left its bytes there.
        held = await _cached_bytes(cache, bid)
        if held is not None:
            return held
        if cache.owner_fill is not None and not cache.store.shard.owns(bid):
            # The owner fetches (joining any fetch of the block already running there) and
            # caches it; this worker only serves the bytes.
            owner = cache.store.shard.owner(bid)
            data = await cache.owner_fill(owner, view.pbucket.name, key, info, index, block_size)
            if data is not None:
                return data
        async with cache.gate:
            stream = await view.get_object(
                key,
                byte_range=ByteRange(first=first, last=last),
                conditions=Conditions(if_match=info.etag),
            )
            try:
                data = await read_exactly(stream.body, last - first + 1)
            except ValueError:
                raise S3Error(
                    "InternalError", "The vendor returned a block of the wrong size."
                ) from None
            finally:
                await stream.aclose()
        # The client gets the bytes now; the tier write (and its CRC pass) runs beside it, and
        # until it lands the block is served from `filling` so no reader goes back to the vendor.
        cache.filling[bid.hex] = data
        cache.background(_store(cache, bid, data))
        return data

    return await cache.flights.run(bid.hex, fetch)


async def fill_for_peer(
    cache: CacheService, view: BucketView, key: str, info: ObjectInfo, index: int, block_size: int
) -> bytes:
    """A block another worker of this host needs and this one owns: from the tiers if cached,
    else fetched once (single-flight with this worker's own readers) and cached."""
    bid = cache.block_ids(view, key, info.etag, [index], block_size)[0]
    if not cache.store.shard.owns(bid) or not 0 <= index < block_count(info.size, block_size):
        raise ValueError("not this worker's block")
    held = await _cached_bytes(cache, bid, cache.written_after(view.pbucket.name, key))
    if held is not None:
        return held
    return await _fetch_block(cache, view, key, info, index, bid, block_size)


async def _cached_bytes(
    cache: CacheService, bid: BlockId, written_after: float | None = None
) -> bytes | None:
    """A block's bytes if this node has them: being written (`filling`) or in a tier."""
    held = cache.filling.get(bid.hex)
    if held is not None:
        return held
    if not cache.store.contains(bid, written_after):
        return None
    opened = await cache.store.open_block(bid, written_after)
    if opened is None:
        return None
    try:
        if opened.data is not None:
            return opened.data
        return await asyncio.to_thread(opened.pread, opened.size)
    finally:
        opened.close()


async def _store(cache: CacheService, bid: BlockId, data: bytes) -> None:
    try:
        await cache.store.put(bid, data)
    finally:
        cache.filling.pop(bid.hex, None)


async def _block(
    cache: CacheService,
    view: BucketView,
    pbucket: str,
    key: str,
    info: ObjectInfo,
    piece: Slice,
    bid: BlockId,
    block_size: int,
) -> bytes | FileSlice:
    filling = cache.filling.get(bid.hex)
    if filling is not None:
        return filling[piece.offset : piece.offset + piece.length]
    opened = await cache.store.open_block(bid, cache.written_after(pbucket, key))
    if opened is not None:
        return FileSlice(opened, piece.offset, piece.length)
    running = cache.first_reads.get(pbucket + "\0" + key)
    while running is not None and not running.done and running.etag == info.etag:
        # The bytes are already on their way from the vendor for another reader: wait for them.
        if bid.hex in cache.filling or cache.store.contains(bid):
            return await _block(cache, view, pbucket, key, info, piece, bid, block_size)
        try:
            # A stalled first reader (a slow client paces it) must not stall this one for long.
            await asyncio.wait_for(running.progress.wait(), FOLLOW_TIMEOUT)
        except TimeoutError:
            break
    whole = await _fetch_block(cache, view, key, info, piece.index, bid, block_size)
    return whole[piece.offset : piece.offset + piece.length]


async def _body(
    cache: CacheService,
    ctx: RequestContext,
    view: BucketView,
    info: ObjectInfo,
    slices: list[Slice],
    ids: list[BlockId],
    block_size: int,
) -> AsyncGenerator[bytes | FileSlice, None]:
    """Blocks in order, with up to `fanout` of the following ones already being read."""
    pending: dict[int, asyncio.Task[bytes | FileSlice]] = {}
    try:
        for position in range(len(slices)):
            for ahead in range(position, min(position + 1 + cache.settings.fanout, len(slices))):
                if ahead not in pending:
                    pending[ahead] = asyncio.ensure_future(
                        _block(
                            cache,
                            view,
                            ctx.bucket,
                            ctx.key,
                            info,
                            slices[ahead],
                            ids[ahead],
                            block_size,
                        )
                    )
            try:
                data = await pending.pop(position)
            except UpstreamError as err:
                if err.status == 412:
                    # The object changed under us: abort rather than mix two versions.
                    await cache.forget(ctx.bucket, ctx.key)
                raise
            yield data
    finally:
        for task in pending.values():
            if task.done() and not task.cancelled() and task.exception() is None:
                _close(task.result())  # opened ahead, never sent
            else:
                task.cancel()
                # A cancelled open may still have finished in its thread: close what it opened.
                task.add_done_callback(_close_result)


def _close(chunk: bytes | FileSlice) -> None:
    if isinstance(chunk, FileSlice):
        chunk.close()


def _close_result(task: asyncio.Task[bytes | FileSlice]) -> None:
    if not task.cancelled() and task.exception() is None:
        _close(task.result())


async def cached_head(
    ctx: RequestContext, view: BucketView, conditions: Conditions
) -> ObjectInfo | None:
    """HeadObject from the metadata cache (fresh within max_age), or None to ask the vendor."""
    cache = ctx.services.cache
    if cache is None or SSE_C_HEADER in ctx.request.headers:
        return None
    max_age = cache.policy(ctx.bucket, ctx.key).freshness.max_age
    entry = await cache.meta.get(ctx.bucket, ctx.key)
    info = await _metadata(cache, ctx, view, entry, max_age)
    _check(conditions, info)
    return info


def _check(conditions: Conditions, info: ObjectInfo) -> None:
    outcome = evaluate_preconditions(conditions, info.etag, info.last_modified)
    if outcome is Outcome.NOT_MODIFIED:
        raise NotModified(info)
    if outcome is Outcome.PRECONDITION_FAILED:
        raise UpstreamError("PreconditionFailed", 412)


async def cached_get(
    ctx: RequestContext,
    view: BucketView,
    byte_range: ByteRange | None,
    conditions: Conditions,
) -> tuple[ObjectInfo, tuple[int, int, int] | None, AsyncIterator[bytes | FileSlice], str] | None:
    """(info, content range, body, cache label) for a GET the cache can serve, else None."""
    cache = ctx.services.cache
    if cache is None or SSE_C_HEADER in ctx.request.headers:
        return None
    entry = await cache.meta.get(ctx.bucket, ctx.key)
    # Several workers: no whole-object first read. Its blocks would reach the tiers outside
    # their owners' single-flight; a HEAD first costs one round trip and keeps every block at
    # one vendor read per host.
    if byte_range is None and entry is None and cache.owner_fill is None:
        running = cache.first_reads.get(ctx.bucket + "\0" + ctx.key)
        if running is None:
            return await _first_read(cache, ctx, view, conditions)
        await running.ready.wait()  # then read its blocks as they land
        entry = await cache.meta.get(ctx.bucket, ctx.key)  # the first reader cached it
    policy = cache.policy(ctx.bucket, ctx.key)
    info = await _metadata(cache, ctx, view, entry, policy.freshness.max_age)
    _check(conditions, info)
    span: tuple[int, int, int] | None = None
    if byte_range is not None:
        from gateway.ranges import resolve_range

        first, last = resolve_range(byte_range, info.size)
        span = (first, last, info.size)
    elif info.size:
        first, last = 0, info.size - 1
    if not info.size:
        return info, span, _empty(), "hit"
    size = policy.block_size
    slices = blocks_for_range(info.size, size, first, last)
    ids = _ids_for(cache, view, ctx.key, info, entry, slices, size)
    cutoff = cache.written_after(ctx.bucket, ctx.key)
    if byte_range is not None:
        _read_ahead(cache, view, ctx, info, slices[0].index, slices[-1].index, size)
    if len(ids) == 1 and ids[0].hex not in cache.filling:
        # The commonest hit (a small object, or a range inside one block) needs no reader
        # task and no generator: the block is opened here.
        opened = await cache.store.open_block(ids[0], cutoff)
        if opened is not None:
            piece = slices[0]
            if opened.data is not None:  # resident: the bytes themselves, nothing to close
                chunk = opened.data
                if piece.offset or piece.length != len(chunk):
                    chunk = chunk[piece.offset : piece.offset + piece.length]
                return info, span, _Chain(chunk, None), "hit"
            return info, span, _Chain(FileSlice(opened, piece.offset, piece.length), None), "hit"
    present = sum(bid.hex in cache.filling or cache.store.contains(bid, cutoff) for bid in ids)
    label = "hit" if present == len(ids) else "miss" if present == 0 else "partial"
    body = _body(cache, ctx, view, info, slices, ids, size)
    try:
        # The first block is read before the head goes out, so a vendor failure there is still
        # a proper S3 error (503, 412 ...) instead of a cut connection.
        first_chunk = await anext(body)
    except BaseException:
        await body.aclose()
        raise
    return info, span, _Chain(first_chunk, body), label


#: objects with at most this many blocks keep their block ids with their metadata entry
_MEMO_BLOCKS = 1024


def _ids_for(
    cache: CacheService,
    view: BucketView,
    key: str,
    info: ObjectInfo,
    entry: MetaEntry | None,
    slices: list[Slice],
    size: int,
) -> list[BlockId]:
    """Block ids of `slices`; for an entry describing this version, hashed once per entry."""
    count = block_count(info.size, size)
    document = entry.document if entry is not None else None
    if (
        entry is None
        or document is None
        or document.get("etag") != info.etag
        or count > _MEMO_BLOCKS
    ):
        return cache.block_ids(view, key, info.etag, (s.index for s in slices), size)
    names = view.block_names(key)
    memo_key = ("ids", names, size)
    every = entry.memo.get(memo_key)
    if every is None:
        every = entry.memo[memo_key] = cache.block_ids(view, key, info.etag, range(count), size)
    return [every[s.index] for s in slices]


def _read_ahead(
    cache: CacheService,
    view: BucketView,
    ctx: RequestContext,
    info: ObjectInfo,
    first: int,
    last: int,
    block_size: int,
) -> None:
    """Ranged readers that walk an object in order (training loaders, s3fs, `aws s3 cp` parts)
    get the next `fanout` blocks fetched in the background, so their next request is a hit.

    A read is sequential when it starts in, or right after, the last block the previous read of
    the same object version ended in. Random readers fetch nothing extra."""
    name = ctx.bucket + "\0" + ctx.key + "\0" + info.etag
    previous = cache.sequential.pop(name, None)
    cache.sequential[name] = last
    while len(cache.sequential) > SEQUENTIAL_TRACKED:
        del cache.sequential[next(iter(cache.sequential))]  # oldest reader first
    if previous is None or not previous <= first <= previous + 1:
        return
    ahead = range(
        last + 1, min(last + 1 + cache.settings.fanout, block_count(info.size, block_size))
    )
    ids = cache.block_ids(view, ctx.key, info.etag, ahead, block_size)
    for index, bid in zip(ahead, ids, strict=True):
        if bid.hex in cache.filling or cache.store.contains(bid) or cache.flights.running(bid.hex):
            continue
        cache.read_ahead += 1
        cache.background(_fetch_quietly(cache, view, ctx.key, info, index, bid, block_size))


async def _fetch_quietly(
    cache: CacheService,
    view: BucketView,
    key: str,
    info: ObjectInfo,
    index: int,
    bid: BlockId,
    block_size: int,
) -> None:
    try:
        await _fetch_block(cache, view, key, info, index, bid, block_size)
    except Exception as err:  # a guess that failed costs nothing: the real read will retry
        log.debug("read-ahead of block %d of %s failed: %s", index, key, err)


async def _first_read(
    cache: CacheService, ctx: RequestContext, view: BucketView, conditions: Conditions
) -> tuple[ObjectInfo, None, AsyncIterator[bytes | FileSlice], str]:
    """A whole-object GET of an object this node knows nothing about: one vendor GET (not a
    HEAD and then block GETs: a far vendor charges a round trip for each), its metadata cached
    and its bytes cut into blocks and stored as they stream to the client."""
    name = ctx.bucket + "\0" + ctx.key
    state = cache.first_reads[name] = FirstRead()
    try:
        try:
            stream = await view.get_object(ctx.key, conditions=conditions)
        except UpstreamError as err:
            if err.code == "NoSuchKey":
                await cache.meta.put(ctx.bucket, ctx.key, None)
            raise
        info = stream.info
        await cache.meta.put(ctx.bucket, ctx.key, info_to_doc(info))
        state.etag = info.etag
    except BaseException:
        _finish(cache, name, state)
        raise
    state.ready.set()
    tee = _tee(cache, ctx, view, info, stream, name, state)
    body = _TeeBody(tee, stream, cache, name, state)
    return info, None, body, "miss"


class _TeeBody:
    """The tee generator plus a close that always releases the vendor stream and the waiting
    readers, even when the generator never started (an async generator's `finally` would not
    run then)."""

    def __init__(
        self,
        gen: AsyncGenerator[bytes | FileSlice, None],
        stream: ObjectStream,
        cache: CacheService,
        name: str,
        state: FirstRead,
    ) -> None:
        self._gen, self._stream, self._cache, self._name, self._state = (
            gen,
            stream,
            cache,
            name,
            state,
        )

    def __aiter__(self) -> _TeeBody:
        return self

    async def __anext__(self) -> bytes | FileSlice:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()
        _finish(self._cache, self._name, self._state)
        await self._stream.aclose()


def _finish(cache: CacheService, name: str, state: FirstRead) -> None:
    state.done = True
    state.ready.set()
    state.advance()
    if cache.first_reads.get(name) is state:
        del cache.first_reads[name]


async def _tee(
    cache: CacheService,
    ctx: RequestContext,
    view: BucketView,
    info: ObjectInfo,
    stream: ObjectStream,
    name: str,
    state: FirstRead,
) -> AsyncGenerator[bytes | FileSlice, None]:
    """Yield the vendor's bytes as they come; every completed block goes to the tiers.

    A big object takes only its first block from this stream: the rest comes as parallel
    block GETs (`fanout` at a time), faster than one stream from a far vendor.
    """
    size = cache.policy(ctx.bucket, ctx.key).block_size
    names = view.block_names(ctx.key)
    limit = 1 if info.size > 2 * size else None
    buffer, index, consumed = bytearray(), 0, 0
    try:
        async for chunk in stream.body:
            yield chunk
            consumed += len(chunk)
            buffer += chunk
            while len(buffer) >= size or (buffer and index * size + len(buffer) == info.size):
                with memoryview(buffer) as whole, whole[:size] as head:
                    block = bytes(head)  # one copy of the block, not two
                del buffer[:size]
                bid = BlockId.of(*names, info.etag, index, block_size=size)
                if bid.hex not in cache.filling and not cache.store.contains(bid):
                    cache.filling[bid.hex] = block
                    cache.background(_store(cache, bid, block))
                index += 1
                state.advance()
            if limit is not None and index >= limit:
                break
    finally:
        _finish(cache, name, state)
        await stream.aclose()
    if consumed < info.size:
        slices = blocks_for_range(info.size, size, consumed, info.size - 1)
        ids = cache.block_ids(view, ctx.key, info.etag, (s.index for s in slices), size)
        async for piece in _body(cache, ctx, view, info, slices, ids, size):
            yield piece


class _Chain:
    """`first`, then the rest of `rest`; closing it closes both (and `first`, an open block
    slice perhaps, even when iteration never began)."""

    def __init__(
        self, first: bytes | FileSlice, rest: AsyncGenerator[bytes | FileSlice, None] | None
    ):
        self._first: bytes | FileSlice | None = first
        self._rest = rest

    def __aiter__(self) -> _Chain:
        return self

    async def __anext__(self) -> bytes | FileSlice:
        first, self._first = self._first, None
        if first is not None:
            return first
        if self._rest is None:
            raise StopAsyncIteration
        return await self._rest.__anext__()

    async def aclose(self) -> None:
        first, self._first = self._first, None
        if first is not None:
            _close(first)
        if self._rest is not None:
            await self._rest.aclose()


async def _empty() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()  # an empty object has no blocks
    for chunk in empty:
        yield chunk


async def warm_object(
    cache: CacheService, view: BucketView, pbucket: str, key: str
) -> tuple[int, int]:
    """Make sure every block of `key` is cached (warm-up); returns (bytes, blocks fetched).

    Fresh metadata and cached blocks cost no vendor request, so warming warm data is free.
    """
    policy = cache.policy(pbucket, key)
    entry = await cache.meta.get(pbucket, key)
    if (
        entry is not None
        and entry.document is not None
        and (cache.meta.wall() - entry.fetched_at <= policy.freshness.max_age)
    ):
        info = info_from_doc(entry.document)
    else:
        info = await view.head_object(key)
        await cache.meta.put(pbucket, key, info_to_doc(info))
    size = policy.block_size
    ids = cache.block_ids(view, key, info.etag, range(block_count(info.size, size)), size)
    cutoff = cache.written_after(pbucket, key)
    missing = []
    for index, bid in enumerate(ids):
        if bid.hex in cache.filling or cache.store.contains(bid, cutoff):
            continue
        if cutoff is not None and cache.store.contains(bid):
            await cache.store.invalidate(bid)  # past its cache TTL: room for a fresh copy
        missing.append((index, bid))
    # A few blocks of one object at a time, as a cold read would: big objects warm in parallel.
    gate = asyncio.Semaphore(cache.settings.fanout)

    async def one(index: int, bid: BlockId) -> None:
        async with gate:
            await _fetch_block(cache, view, key, info, index, bid, size)

    await asyncio.gather(*(one(index, bid) for index, bid in missing))
    return info.size, len(missing)
