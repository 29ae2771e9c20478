"""The `replicate` policy: every object lives on every target.

* Writes (PUT, copy, multipart completion, tagging, DELETE) go to all targets at once and
  succeed when `write_quorum` of them acknowledge (default: all). The answer carries the ETag of
  the first target, in target order, that acknowledged. Targets still working when the quorum
  is reached finish in the background; every target that missed the write (error, timeout,
  open breaker) gets an entry in the PBucket's repair queue (`router.repair_queue`). Below
  quorum the client gets 503, and the targets that did take the write keep it: they become the
  repair source, so all targets converge on it anyway (S3 clients retry a 503).
* An upload body is read from the client once and teed to all targets (`router.tee`).
* Reads (GET, HEAD, tagging, ListParts, listings) ask the preferred target first: breaker not
  open, then the node's region, then lowest measured latency (`router.replica_math`). They fail
  over on no answer, and on NoSuchKey ask the others: a target that has the key serves it and
  the ones without it get a read repair, unless the newest missed write of the key was a
  delete (then the 404 stands: the holder missed the delete). A conditional read that gets 412
  asks the others too: a stale replica must not hide the version the client (or the cache,
  which revalidates with If-Match) asked for.
* Multipart: an upload exists on every target; the client's upload id encodes all of their ids.
  Each target's part ETags are kept in Redis (`pc:rt:mpu:{pbucket}:<upload>`) so Complete gives
  each target its own. A target that failed a part is left out of Complete and repaired.
* Cache: `block_names` is the same whichever target serves a key, so failover keeps cache hits.
  Single-part ETags are MD5s on S3-compatible vendors and agree across targets; multipart ETags
  agree when all vendors use the MD5-of-MD5s rule (repairs keep the part boundaries); a vendor
  with another rule holds another ETag. The cache reads blocks with If-Match of the
  ETag it knows: a target holding other bytes answers 412, this view then tries the others, and
  only if none has that ETag does the cache see the 412 (it aborts and forgets the metadata):
  bytes of two ETags are never mixed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from router.errors import UpstreamError, VendorUnavailable
from router.models import (
    ByteRange,
    CompletedPart,
    Conditions,
    CopyResult,
    ListPage,
    ObjectInfo,
    ObjectStream,
    PartsPage,
    PutOptions,
    PutResult,
    UploadsPage,
)
from router.pbucket import BucketView, PBucket
from router.placement import target_identity
from router.repair_queue import RepairEntry, write_id
from router.replica_context import ReplicaContext
from router.replica_math import (
    decode_upload_id,
    encode_upload_id,
    preference,
    required_acks,
    target_tag,
)
from router.tee import Tee
from router.upstream import Upstream

__all__ = ["ReplicateView"]

log = logging.getLogger("pcache.replicate")

T = TypeVar("T")


def _no_such_upload() -> UpstreamError:
    return UpstreamError("NoSuchUpload", 404)


def _cancel(task: asyncio.Future[Any] | None) -> None:
    if task is not None:
        task.cancel()


def _watch(tee: Tee, tasks: Mapping[int, asyncio.Future[Any]]) -> None:
    """Tie each target's upload to its tee reader both ways: a stalled reader cancels the
    upload, and an upload that ends (even before reading a byte: an open breaker refuses at
    once) releases its reader, so the pump never waits on a queue nobody drains."""
    tee.on_stall(lambda i: _cancel(tasks.get(i)))
    for i, task in tasks.items():
        task.add_done_callback(_dropper(tee, i))
    tee.start()


def _dropper(tee: Tee, index: int) -> Callable[[asyncio.Future[Any]], None]:
    def drop(_: asyncio.Future[Any]) -> None:
        tee.drop(index)

    return drop


def _etag_of(result: object) -> str:
    etag = getattr(result, "etag", "")
    return etag if isinstance(etag, str) else ""


class ReplicateView(BucketView):
    """A `replicate`-policy PBucket over its targets (one single-target view each)."""

    def __init__(
        self, pbucket: PBucket, upstreams: Sequence[Upstream], context: ReplicaContext
    ) -> None:
        if not pbucket.targets or len(upstreams) != len(pbucket.targets):
            raise ValueError("one upstream per target")
        self.pbucket = pbucket
        self.ctx = context
        self.parts = tuple(
            BucketView(replace(pbucket, targets=(t,), policy="single"), up)
            for t, up in zip(pbucket.targets, upstreams, strict=True)
        )
        self.identities = tuple(
            target_identity(t.vendor, t.bucket, t.prefix) for t in pbucket.targets
        )
        self.tags = tuple(target_tag(i) for i in self.identities)
        # A record whose quorum outgrew a shrunk target list asks for every target.
        quorum = pbucket.write_quorum
        self.quorum = required_acks(
            None if quorum is None else max(1, min(quorum, len(self.parts))), len(self.parts)
        )

    # -- which target --------------------------------------------------------------------
    def down(self, index: int) -> bool:
        """Is this target's breaker open (the local-directory vendor has none)?"""
        health = getattr(self.parts[index].upstream, "health", None)
        return callable(health) and health() == "open"

    def order(self) -> list[int]:
        """Targets in the order reads ask them."""
        affinity = self.ctx.settings.region_affinity
        return preference(
            [self.ctx.latency.estimate(i) for i in self.identities],
            down=[self.down(i) for i in range(len(self.parts))],
            near=[affinity is not None and t.region == affinity for t in self.pbucket.targets],
        )

    def index_of_tag(self, tag: str) -> int | None:
        return self.tags.index(tag) if tag in self.tags else None

    def view_for(self, key: str) -> BucketView:
        # As a copy source: the preferred target (its own failover covers a miss there).
        return self.parts[self.order()[0]]

    def block_names(self, key: str) -> tuple[str, str, str]:
        # One name for the key whichever target serves it: failover keeps cache hits, and the
        # block id also hashes the ETag, so different bytes never share a block.
        return "replicate:" + self.pbucket.name, self.pbucket.targets[0].bucket, key

    def same_vendor(self, other: BucketView) -> bool:
        theirs = getattr(other, "parts", None) or (other,)
        return len({id(p.upstream) for p in (*self.parts, *theirs)}) == 1

    async def delete_vendor_buckets(self) -> None:
        results = await asyncio.gather(
            *(p.delete_vendor_buckets() for p in self.parts), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r

    # -- reads with failover ---------------------------------------------------------------
    async def _read(
        self,
        key: str | None,
        op: Callable[[BucketView], Awaitable[T]],
        *,
        if_match: bool = False,
        order: Sequence[int] | None = None,
        close: Callable[[T], Awaitable[None]] | None = None,
    ) -> T:
        """`op` on the preferred target, then the next on no answer, on NoSuchKey (when `key`
        is given) and on 412 under If-Match. 404 only when every target that answered said so."""
        missing: list[int] = []
        unavailable: VendorUnavailable | None = None
        precondition: UpstreamError | None = None
        for i in self.order() if order is None else order:
            started = time.monotonic()
            try:
                result = await op(self.parts[i])
            except VendorUnavailable as exc:
                self.ctx.latency.failed(self.identities[i])
                unavailable = unavailable or exc
                continue
            except UpstreamError as err:
                self.ctx.latency.observe(self.identities[i], time.monotonic() - started)
                if key is not None and err.code == "NoSuchKey":
                    missing.append(i)
                    continue
                if if_match and err.status == 412:
                    precondition = precondition or err
                    continue
                raise
            self.ctx.latency.observe(self.identities[i], time.monotonic() - started)
            if missing and key is not None:
                await self._found_elsewhere(key, i, missing, result, close)
            return result
        if precondition is not None:
            raise precondition
        if missing:
            raise UpstreamError("NoSuchKey", 404)
        raise unavailable or VendorUnavailable("no target answered")

    async def _found_elsewhere(
        self,
        key: str,
        holder: int,
        missing: list[int],
        result: T,
        close: Callable[[T], Awaitable[None]] | None,
    ) -> None:
        """Some targets lack a key another one has: a missed write, or a missed delete."""
        latest = None
        try:
            latest = await self.ctx.queue.latest(self.pbucket.name, key)
        except Exception as exc:  # Redis down: serve what a target holds
            log.warning("replicate %s: cannot read repair state: %r", self.pbucket.name, exc)
        if latest is not None and latest[1] == "delete":
            if close is not None:
                await close(result)
            raise UpstreamError("NoSuchKey", 404)
        info = result.info if isinstance(result, ObjectStream) else result
        etag = info.etag if isinstance(info, ObjectInfo) else ""
        size = info.size if isinstance(info, ObjectInfo) else -1
        self.ctx.background(self._enqueue(key, "put", missing, holder, 0, etag, size))

    async def head_object(
        self, key: str, *, conditions: Conditions | None = None, part_number: int | None = None
    ) -> ObjectInfo:
        return await self._read(
            key,
            lambda p: p.head_object(key, conditions=conditions, part_number=part_number),
            if_match=conditions is not None and conditions.if_match is not None,
        )

    async def get_object(
        self,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        async def close(stream: ObjectStream) -> None:
            await stream.aclose()

        return await self._read(
            key,
            lambda p: p.get_object(
                key, byte_range=byte_range, conditions=conditions, part_number=part_number
            ),
            if_match=conditions is not None and conditions.if_match is not None,
            close=close,
        )

    async def get_object_tagging(self, key: str) -> list[tuple[str, str]]:
        return await self._read(key, lambda p: p.get_object_tagging(key))

    async def list_objects(
        self,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        start_after: str | None = None,
    ) -> ListPage:
        return await self._read(
            None,
            lambda p: p.list_objects(
                prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=start_after
            ),
        )

    # -- writes to all targets ---------------------------------------------------------------
    async def _enqueue(
        self,
        key: str,
        op: str,
        targets: Sequence[int],
        source: int,
        wid: int,
        etag: str = "",
        size: int = -1,
    ) -> None:
        for t in targets:
            entry = RepairEntry(op, key, self.tags[t], self.tags[source], wid, etag, size)
            try:
                await self.ctx.queue.add(self.pbucket.name, entry)
            except Exception as exc:  # the write itself stands; the target stays behind
                log.error(
                    "replicate %s: repair entry for %r on target %d lost: %r",
                    self.pbucket.name,
                    key,
                    t,
                    exc,
                )

    async def _fan_out(
        self,
        key: str,
        op: str,
        calls: Mapping[int, Callable[[], Awaitable[T]]],
        *,
        missed: Sequence[int] = (),
        tee: Tee | None = None,
        size: int = -1,
    ) -> T:
        """Run `calls` (target index → one target's write) at once; answer when `self.quorum`
        targets acknowledged (the rest finish in the background). `missed`: targets that are not
        even tried (left out of a multipart upload); they get repair entries like failures."""
        wid = write_id()

        async def in_order(
            previous: asyncio.Future[Any] | None, call: Callable[[], Awaitable[T]]
        ) -> T:
            if previous is not None:
                await asyncio.wait([previous])  # its outcome is its own (repairs included)
            return await call()

        tasks: dict[int, asyncio.Future[T]] = {}
        for i, call in calls.items():
            slot = (self.pbucket.name, key, i)
            previous = self.ctx.running_write(slot)
            tasks[i] = asyncio.ensure_future(in_order(previous, call))
            self.ctx.running(slot, tasks[i])
        index_of = {task: i for i, task in tasks.items()}
        if tee is not None:
            _watch(tee, tasks)
        acks: dict[int, T] = {}
        errors: dict[int, BaseException] = {}

        def record(task: asyncio.Future[T]) -> None:
            i = index_of[task]
            if task.cancelled():
                errors[i] = VendorUnavailable("stalled")
            elif (exc := task.exception()) is not None:
                errors[i] = exc
            else:
                acks[i] = task.result()

        pending: set[asyncio.Future[T]] = set(tasks.values())
        try:
            while pending and len(acks) < self.quorum and len(acks) + len(pending) >= self.quorum:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    record(task)
            if len(acks) < self.quorum and pending:
                await asyncio.wait(pending)  # quorum is out of reach: let the rest end
                for task in pending:
                    record(task)
                pending = set()
        except asyncio.CancelledError:  # the client went away mid-write
            for task in tasks.values():
                task.cancel()
            if tee is not None:
                await tee.close()
            raise
        if tee is not None and tee.error is not None:
            await tee.close()
            raise tee.error  # the client's body was at fault, not a vendor
        if not acks:
            if tee is not None:
                await tee.close()
            # Nothing was written: a vendor's definite answer (412, 400 ...) is the client's.
            for i in sorted(errors):
                if isinstance(errors[i], UpstreamError):
                    raise errors[i]
            raise next(
                (errors[i] for i in sorted(errors) if isinstance(errors[i], VendorUnavailable)),
                VendorUnavailable("write quorum not met"),
            )
        source = min(acks)
        etag = _etag_of(acks[source])
        behind = sorted({*errors, *missed})
        if behind:
            await self._enqueue(key, op, behind, source, wid, etag, size)
        if pending:
            self.ctx.background(
                self._stragglers(key, op, pending, index_of, source, wid, etag, size)
            )
        elif tee is not None:
            await tee.close()
        if len(acks) < self.quorum:
            log.warning(
                "replicate %s: %s %r reached %d of %d targets (quorum %d); repairs queued",
                self.pbucket.name,
                op,
                key,
                len(acks),
                len(self.parts),
                self.quorum,
            )
            raise VendorUnavailable("write quorum not met")
        return acks[source]

    async def _stragglers(
        self,
        key: str,
        op: str,
        pending: set[asyncio.Future[T]],
        index_of: Mapping[asyncio.Future[T], int],
        source: int,
        wid: int,
        etag: str,
        size: int,
    ) -> None:
        await asyncio.wait(pending)
        failed = [index_of[t] for t in pending if t.cancelled() or t.exception() is not None]
        if failed:
            await self._enqueue(key, op, sorted(failed), source, wid, etag, size)

    def _tee(self, body: AsyncIterator[bytes], targets: Sequence[int]) -> Tee:
        s = self.ctx.settings
        tee = Tee(body, len(self.parts), depth=s.tee_depth, stall=s.stall_timeout)
        for i in range(len(self.parts)):
            if i not in targets:
                tee.drop(i)
        return tee

    async def put_object(
        self, key: str, body: AsyncIterator[bytes], length: int, options: PutOptions
    ) -> PutResult:
        everyone = range(len(self.parts))
        tee = self._tee(body, everyone)

        def call(i: int) -> Callable[[], Awaitable[PutResult]]:
            return lambda: self.parts[i].put_object(key, tee.reader(i), length, options)

        return await self._fan_out(key, "put", {i: call(i) for i in everyone}, tee=tee, size=length)

    def _source_for(self, source: BucketView, index: int) -> BucketView:
        """Per destination target: the source's target on the same upstream (a server-side
        copy), else the source as a whole (its own failover streams it through this node)."""
        theirs: Sequence[BucketView] = getattr(source, "parts", None) or ()
        if isinstance(source, ReplicateView):
            for part in theirs:
                if part.upstream is self.parts[index].upstream:
                    return part
        return source

    async def copy_from(
        self,
        source: BucketView,
        src_key: str,
        key: str,
        *,
        options: PutOptions,
        replace_metadata: bool,
        replace_tagging: bool = False,
        source_conditions: Conditions | None = None,
    ) -> CopyResult:
        def call(i: int) -> Callable[[], Awaitable[CopyResult]]:
            return lambda: self.parts[i].copy_from(
                self._source_for(source, i),
                src_key,
                key,
                options=options,
                replace_metadata=replace_metadata,
                replace_tagging=replace_tagging,
                source_conditions=source_conditions,
            )

        return await self._fan_out(key, "put", {i: call(i) for i in range(len(self.parts))})

    async def delete_object(self, key: str) -> None:
        def call(i: int) -> Callable[[], Awaitable[None]]:
            return lambda: self.parts[i].delete_object(key)

        await self._fan_out(key, "delete", {i: call(i) for i in range(len(self.parts))})

    async def change_storage_class(self, key: str, storage_class: str) -> bool:
        """On every target, each in its own vendor's class. Not queued for repair: a target
        that failed is simply moved again by the next lifecycle run."""
        results = await asyncio.gather(
            *(p.change_storage_class(key, storage_class) for p in self.parts),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return any(results)

    async def put_object_tagging(self, key: str, tags: Sequence[tuple[str, str]]) -> None:
        def call(i: int) -> Callable[[], Awaitable[None]]:
            return lambda: self.parts[i].put_object_tagging(key, tags)

        await self._fan_out(key, "tagging", {i: call(i) for i in range(len(self.parts))})

    async def delete_object_tagging(self, key: str) -> None:
        def call(i: int) -> Callable[[], Awaitable[None]]:
            return lambda: self.parts[i].delete_object_tagging(key)

        await self._fan_out(key, "tagging", {i: call(i) for i in range(len(self.parts))})

    # -- multipart ---------------------------------------------------------------------------
    def _upload_key(self, upload_id: str) -> str:
        digest = hashlib.blake2b(upload_id.encode("utf-8"), digest_size=12).hexdigest()
        return f"pc:rt:mpu:{{{self.pbucket.name}}}:{digest}"

    def _ids_key(self) -> str:
        # Vendor upload id -> the client's upload id, for ListMultipartUploads.
        return f"pc:rt:mpu:{{{self.pbucket.name}}}:ids"

    def _decode(self, upload_id: str) -> dict[int, str]:
        """Target index → its vendor upload id, for the targets still in the PBucket that hold
        a live upload."""
        entries = decode_upload_id(upload_id)
        if entries is None:
            raise _no_such_upload()
        live: dict[int, str] = {}
        for tag, vendor_id in entries:
            index = self.index_of_tag(tag)
            if index is not None and vendor_id is not None:
                live[index] = vendor_id
        if not live:
            raise _no_such_upload()
        return live

    async def create_multipart_upload(self, key: str, options: PutOptions) -> str:
        results = await asyncio.gather(
            *(p.create_multipart_upload(key, options) for p in self.parts),
            return_exceptions=True,
        )
        created = {i: r for i, r in enumerate(results) if isinstance(r, str)}
        if len(created) < self.quorum:
            for i, vendor_id in created.items():
                self.ctx.background(self.parts[i].abort_multipart_upload(key, vendor_id))
            for r in results:
                if isinstance(r, UpstreamError):
                    raise r
            raise VendorUnavailable("write quorum not met")
        upload_id = encode_upload_id(
            [(self.tags[i], created.get(i)) for i in range(len(self.parts))]
        )
        ttl = self.ctx.settings.upload_ttl
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.hset(
                self._ids_key(),
                mapping={f"{self.tags[i]}:{v}": upload_id for i, v in created.items()},
            )
            pipe.expire(self._ids_key(), ttl)
            await pipe.execute()
        return upload_id

    async def _record_part(self, upload_id: str, part_number: int, index: int, etag: str) -> None:
        name = self._upload_key(upload_id)
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.hset(name, f"{part_number}:{self.tags[index]}", etag)
            pipe.expire(name, self.ctx.settings.upload_ttl)
            await pipe.execute()

    async def _forget_part(self, upload_id: str, part_number: int, live: Sequence[int]) -> None:
        """A new attempt of a part: until a target acknowledges it, its old ETag is void (a
        target that fails the retry must not complete with the earlier bytes)."""
        fields = [f"{part_number}:{self.tags[i]}" for i in live]
        await self.ctx.redis.hdel(self._upload_key(upload_id), *fields)

    async def upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        live = self._decode(upload_id)
        await self._forget_part(upload_id, part_number, list(live))
        tee = self._tee(body, list(live))

        def call(i: int) -> Callable[[], Awaitable[PutResult]]:
            async def one() -> PutResult:
                result = await self.parts[i].upload_part(
                    key, live[i], part_number, tee.reader(i), length, options
                )
                await self._record_part(upload_id, part_number, i, result.etag)
                return result

            return one

        # Parts are not repaired one by one: a target that misses one is dropped at Complete.
        return await self._fan_out_part({i: call(i) for i in live}, tee=tee)

    async def _fan_out_part(
        self, calls: Mapping[int, Callable[[], Awaitable[T]]], *, tee: Tee | None = None
    ) -> T:
        """Like `_fan_out` for one part: quorum counts over all targets, no repair entries (the
        upload's completion decides who is behind)."""
        tasks: dict[int, asyncio.Future[T]] = {
            i: asyncio.ensure_future(c()) for i, c in calls.items()
        }
        if tee is not None:
            _watch(tee, tasks)
        try:
            await asyncio.wait(tasks.values())
        except asyncio.CancelledError:
            for task in tasks.values():
                task.cancel()
            if tee is not None:
                await tee.close()
            raise
        if tee is not None:
            await tee.close()
            if tee.error is not None:
                raise tee.error
        acks = {
            i: t.result() for i, t in tasks.items() if not t.cancelled() and t.exception() is None
        }
        if len(acks) >= self.quorum:
            return acks[min(acks)]
        for i in sorted(tasks):
            exc = None if tasks[i].cancelled() else tasks[i].exception()
            if isinstance(exc, UpstreamError) and not acks:
                raise exc
        raise VendorUnavailable("write quorum not met")

    async def upload_part_copy(
        self,
        source: BucketView,
        src_key: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        byte_range: tuple[int, int] | None = None,
        source_conditions: Conditions | None = None,
    ) -> CopyResult:
        live = self._decode(upload_id)
        await self._forget_part(upload_id, part_number, list(live))

        def call(i: int) -> Callable[[], Awaitable[CopyResult]]:
            async def one() -> CopyResult:
                result = await self.parts[i].upload_part_copy(
                    self._source_for(source, i),
                    src_key,
                    key,
                    live[i],
                    part_number,
                    byte_range=byte_range,
                    source_conditions=source_conditions,
                )
                await self._record_part(upload_id, part_number, i, result.etag)
                return result

            return one

        return await self._fan_out_part({i: call(i) for i in live})

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> PutResult:
        live = self._decode(upload_id)
        fields = [f"{p.part_number}:{self.tags[i]}" for p in parts for i in live]
        raw = await self.ctx.redis.hmget(self._upload_key(upload_id), fields) if fields else []
        known = {
            f: v.decode() if isinstance(v, bytes) else v for f, v in zip(fields, raw, strict=True)
        }
        for p in parts:
            seen = {known.get(f"{p.part_number}:{self.tags[i]}") for i in live}
            if p.etag not in seen:
                raise UpstreamError("InvalidPart", 400)  # not an ETag any target gave
        complete: dict[int, list[CompletedPart]] = {}
        dropped: list[int] = []
        for i in live:
            etags = [known.get(f"{p.part_number}:{self.tags[i]}") for p in parts]
            if all(etags):
                complete[i] = [
                    replace(p, etag=e) for p, e in zip(parts, etags, strict=True) if e is not None
                ]
            else:
                dropped.append(i)  # it missed a part: repaired from a complete copy instead
                self.ctx.background(self.parts[i].abort_multipart_upload(key, live[i]))

        def call(i: int) -> Callable[[], Awaitable[PutResult]]:
            return lambda: self.parts[i].complete_multipart_upload(key, live[i], complete[i])

        missed = [i for i in range(len(self.parts)) if i not in complete]
        result = await self._fan_out(key, "put", {i: call(i) for i in complete}, missed=missed)
        self.ctx.background(self._forget_upload(upload_id, live))
        return result

    async def _forget_upload(self, upload_id: str, live: Mapping[int, str]) -> None:
        await self.ctx.redis.delete(self._upload_key(upload_id))
        fields = [f"{self.tags[i]}:{v}" for i, v in live.items()]
        if fields:
            await self.ctx.redis.hdel(self._ids_key(), *fields)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        live = self._decode(upload_id)
        results = await asyncio.gather(
            *(self.parts[i].abort_multipart_upload(key, v) for i, v in live.items()),
            return_exceptions=True,
        )
        # An upload left on an unreachable target is the vendor's to expire (lifecycle rule
        # AbortIncompleteMultipartUpload); the client's upload is gone once one target agreed.
        if not any(r is None for r in results):
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        await self._forget_upload(upload_id, live)

    async def list_parts(
        self, key: str, upload_id: str, *, max_parts: int = 1000, part_number_marker: int = 0
    ) -> PartsPage:
        live = self._decode(upload_id)
        return await self._read(
            None,
            lambda p: p.list_parts(
                key,
                live[self.parts.index(p)],
                max_parts=max_parts,
                part_number_marker=part_number_marker,
            ),
            order=[i for i in self.order() if i in live],
        )

    async def list_multipart_uploads(
        self,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadsPage:
        """From the preferred target; each vendor upload id is mapped back to the client's id
        (uploads not created through this PBucket are not listed)."""

        async def one(part: BucketView) -> UploadsPage:
            index = self.parts.index(part)
            marker = None
            if upload_id_marker:
                entries = decode_upload_id(upload_id_marker) or []
                marker = next((v for t, v in entries if t == self.tags[index]), None)
            page = await part.list_multipart_uploads(
                prefix=prefix,
                delimiter=delimiter,
                key_marker=key_marker,
                upload_id_marker=marker,
                max_uploads=max_uploads,
            )
            if not page.uploads:
                return page
            fields = [f"{self.tags[index]}:{u.upload_id}" for u in page.uploads]
            ids: list[Any] = await self.ctx.redis.hmget(self._ids_key(), fields)
            uploads = [
                replace(u, upload_id=i.decode() if isinstance(i, bytes) else i)
                for u, i in zip(page.uploads, ids, strict=True)
                if i is not None
            ]
            nxt = page.next_upload_id_marker
            if nxt is not None:
                mapped = await self.ctx.redis.hget(self._ids_key(), f"{self.tags[index]}:{nxt}")
                nxt = mapped.decode() if isinstance(mapped, bytes) else mapped
            return replace(page, uploads=uploads, next_upload_id_marker=nxt)

        return await self._read(None, one)
