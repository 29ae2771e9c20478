"""The local-directory vendor: an `Upstream` over files under one root directory, behaving as S3
does for a client. It is what `pcache serve` uses by default (`./pcache-data/vendor`).

Meant for development and single-node use. Bodies go to temp files and are renamed into place in
the same index transaction (never torn, never half visible), but nothing is fsynced: a power loss
may lose the latest writes. Layout and index: `router.local_store`; multipart:
`router.local_multipart`. All blocking work runs in this vendor's own thread pool.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from router.errors import UpstreamError
from router.local_blobs import (
    DEFAULT_CHECKSUM,
    BlobBody,
    BlobWriter,
    Spooled,
    copy_span,
    feed,
    new_checksummer,
)
from router.local_listing import list_objects_page
from router.local_multipart import Multipart, quoted_md5
from router.local_requests import (
    check_copy_source,
    check_key,
    check_part_number,
    check_read,
    check_text,
    checksum_map,
    content_md5,
    copy_range,
    part_span,
    put_result,
    requested_checksum,
    select_span,
    verify_md5,
)
from router.local_rows import (
    STANDARD,
    ObjectMeta,
    ObjectRow,
    PutGuard,
    from_ms,
    parse_tagging,
    validate_tags,
)
from router.local_store import BucketPaths, LocalStore, new_writer, random_name
from router.models import (
    ByteRange,
    CompletedPart,
    Conditions,
    CopyResult,
    ListPage,
    ObjectInfo,
    ObjectStream,
    PartInfo,
    PartsPage,
    PutOptions,
    PutResult,
    UploadsPage,
    VendorBucket,
)
from router.upstream import Upstream

__all__ = ["LocalUpstream", "LocalVendorSettings"]

P = ParamSpec("P")
T = TypeVar("T")

MIN_PART_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LocalVendorSettings:
    name: str
    root: Path
    # S3's minimum for every part but the last; tests lower it to keep fixtures small.
    min_part_size: int = MIN_PART_SIZE
    threads: int = 16


class LocalUpstream(Upstream):
    """Vendor buckets as directories of randomly named blobs indexed by SQLite."""

    def __init__(self, settings: LocalVendorSettings):
        self.name = settings.name
        self._store = LocalStore(settings.root)
        self._multipart = Multipart(self._store, min_part_size=settings.min_part_size)
        self._pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="pcache-local")

    async def _run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._pool.shutdown(wait=True)
        self._store.close()

    # -- buckets ----------------------------------------------------------------------------
    async def list_buckets(self) -> list[VendorBucket]:
        return await self._run(self._store.list_buckets)

    async def create_bucket(self, bucket: str, *, region: str | None = None) -> None:
        await self._run(self._store.create_bucket, bucket)

    async def head_bucket(self, bucket: str) -> None:
        await self._run(self._store.head_bucket, bucket)

    async def delete_bucket(self, bucket: str) -> None:
        await self._run(self._store.delete_bucket, bucket)

    # -- reads ------------------------------------------------------------------------------
    async def head_object(
        self,
        bucket: str,
        key: str,
        *,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectInfo:
        check_key(key)
        row = await self._run(self._row, self._store.bucket(bucket), key)
        info = row.to_info()
        check_read(conditions, info)
        if part_number is not None:
            first, length = part_span(row, part_number)
            if length:  # an empty object's part 1 is an empty 200, as for GET
                info = replace(info, part_range=(first, first + length - 1))
        return info

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        check_key(key)
        if byte_range is not None and part_number is not None:
            raise UpstreamError("InvalidRequest", 400)  # "Cannot specify both Range and partNumber"
        paths = self._store.bucket(bucket)
        return await self._run(self._open_stream, paths, key, byte_range, conditions, part_number)

    def _row(self, paths: BucketPaths, key: str) -> ObjectRow:
        row = self._store.get_object(paths, key)
        if row is None:
            raise UpstreamError("NoSuchKey", 404)
        return row

    def _open_stream(
        self, paths: BucketPaths, key: str, byte_range: ByteRange | None,
        conditions: Conditions | None, part_number: int | None,
    ) -> ObjectStream:  # fmt: skip
        row, fd = self._store.open_object(paths, key)
        try:
            info = row.to_info()
            check_read(conditions, info)
            span = select_span(row, byte_range, part_number)
        except BaseException:
            os.close(fd)
            raise
        # The body owns the descriptor from here on: closed when read to the end, by aclose(),
        # or when dropped (as when the awaiting caller was cancelled and never sees it).
        body = BlobBody(fd, span.first, span.length, self._run)
        return ObjectStream(info, body, span.length, span.content_range)

    # -- writes -----------------------------------------------------------------------------
    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        check_key(key)
        tags = parse_tagging(options.tagging)
        expected_md5 = content_md5(options.content_md5)
        algorithm, given = requested_checksum(options, default=DEFAULT_CHECKSUM)
        paths = self._store.bucket(bucket)
        guard = PutGuard.from_options(options)
        if guard is not None:  # fail before reading the body; checked again at commit
            current = await self._run(self._store.get_object, paths, key)
            guard.check(current)
        spooled = await self._spool(paths, body, length, None if given else algorithm)
        try:
            verify_md5(spooled, expected_md5)
            row = ObjectRow(
                key=key,
                blob=random_name(),
                size=spooled.size,
                etag=quoted_md5(spooled.md5),
                last_modified_ms=0,
                meta=ObjectMeta.from_options(options),
                checksums=checksum_map(algorithm, given or spooled.checksum),
                checksum_type="FULL_OBJECT" if algorithm else None,
                tags=tags,
            )
            await self._run(self._store.install_object, paths, row, spooled.path, guard=guard)
        except BaseException:
            # Covers a commit job cancelled before it ran; otherwise the job already cleaned up.
            spooled.path.unlink(missing_ok=True)
            raise
        return put_result(row.etag, options, given or spooled.checksum)

    async def _spool(
        self, paths: BucketPaths, body: AsyncIterator[bytes], length: int, algorithm: str | None
    ) -> Spooled:
        """Stream `body` into a temp file in the bucket's tmp/; on any failure, no file remains."""
        checksum = new_checksummer(algorithm) if algorithm else None
        opening = self._pool.submit(new_writer, paths, checksum)
        try:
            writer = await asyncio.wrap_future(opening)
        except asyncio.CancelledError:
            # Cancelled while the file was being created: remove it once the worker is done.
            opening.add_done_callback(_discard_opened)
            raise
        try:
            await feed(body, writer, self._run)
            spooled = await self._run(writer.finish)
        except BaseException:
            writer.discard()  # waits for a write still running in a worker thread
            raise
        if length >= 0 and spooled.size != length:
            spooled.path.unlink(missing_ok=True)
            raise UpstreamError("IncompleteBody", 400)
        return spooled

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        options: PutOptions,
        replace_metadata: bool,
        replace_tagging: bool = False,
        source_conditions: Conditions | None = None,
    ) -> CopyResult:
        check_key(src_key)
        check_key(key)
        tags = parse_tagging(options.tagging) if replace_tagging else None
        row = await self._run(
            self._copy,
            (self._store.bucket(src_bucket), src_key),
            (self._store.bucket(bucket), key),
            options,
            replace_metadata=replace_metadata,
            tags=tags,
            source_conditions=source_conditions,
        )
        return CopyResult(row.etag, from_ms(row.last_modified_ms, whole_seconds=True))

    def _copy(
        self,
        source: tuple[BucketPaths, str],
        target: tuple[BucketPaths, str],
        options: PutOptions,
        *,
        replace_metadata: bool,
        tags: tuple[tuple[str, str], ...] | None,
        source_conditions: Conditions | None,
    ) -> ObjectRow:
        (src_paths, src_key), (paths, key) = source, target
        self._store.require(paths)
        src, fd = self._store.open_object(src_paths, src_key)
        try:
            check_copy_source(source_conditions, src)
            storage_class = options.storage_class or STANDARD
            # S3: copying an object onto itself must change its metadata or storage class.
            same = (src_paths, src_key) == (paths, key)
            if same and not replace_metadata and storage_class == src.meta.storage_class:
                raise UpstreamError("InvalidRequest", 400)
            staged = _stage_copy(src_paths.blob(src.blob), fd, src.size, paths)
        finally:
            os.close(fd)
        meta = (
            ObjectMeta.from_options(options)
            if replace_metadata
            else replace(src.meta, storage_class=storage_class)
        )
        row = replace(
            src, key=key, blob=random_name(), meta=meta, tags=src.tags if tags is None else tags
        )
        guard = PutGuard.from_options(options)
        return self._store.install_object(paths, row, staged, guard=guard)

    async def delete_object(self, bucket: str, key: str) -> None:
        check_key(key)
        await self._run(self._store.delete_object, self._store.bucket(bucket), key)

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        start_after: str | None = None,
    ) -> ListPage:
        check_text(prefix, delimiter, start_after)
        return await self._run(
            self._list_objects, self._store.bucket(bucket), prefix, delimiter or None, max_keys,
            start_after,
        )  # fmt: skip

    def _list_objects(
        self, paths: BucketPaths, prefix: str, delimiter: str | None, max_keys: int,
        start_after: str | None,
    ) -> ListPage:  # fmt: skip
        with self._store.read(paths.index, snapshot=True) as db:
            return list_objects_page(
                db, prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=start_after
            )

    # -- tagging ----------------------------------------------------------------------------
    async def get_object_tagging(self, bucket: str, key: str) -> list[tuple[str, str]]:
        check_key(key)
        row = await self._run(self._row, self._store.bucket(bucket), key)
        return list(row.tags)

    async def put_object_tagging(
        self, bucket: str, key: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        check_key(key)
        validate_tags(tags)
        await self._run(self._store.set_tags, self._store.bucket(bucket), key, tuple(tags))

    async def delete_object_tagging(self, bucket: str, key: str) -> None:
        check_key(key)
        await self._run(self._store.set_tags, self._store.bucket(bucket), key, ())

    # -- multipart --------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, options: PutOptions) -> str:
        check_key(key)
        parse_tagging(options.tagging)  # reject bad tags now, not at completion
        if options.checksum_algorithm:
            new_checksummer(options.checksum_algorithm)  # an unknown algorithm fails here
        return await self._run(self._multipart.create, self._store.bucket(bucket), key, options)

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        check_key(key)
        check_part_number(part_number)
        expected_md5 = content_md5(options.content_md5)
        paths = self._store.bucket(bucket)
        created = await self._run(self._multipart.options, paths, key, upload_id)
        # A part carries the upload's checksum algorithm when the client did not name one.
        if not options.checksum_algorithm and created.checksum_algorithm:
            options = replace(options, checksum_algorithm=created.checksum_algorithm)
        algorithm, given = requested_checksum(options, default=None)
        spooled = await self._spool(paths, body, length, None if given else algorithm)
        try:
            verify_md5(spooled, expected_md5)
            checksums = checksum_map(algorithm, given or spooled.checksum)
            part = await self._run(
                self._multipart.install_part, paths, key, upload_id, part_number, spooled,
                checksums,
            )  # fmt: skip
        except BaseException:
            spooled.path.unlink(missing_ok=True)
            raise
        return put_result(part.etag, options, given or spooled.checksum)

    async def upload_part_copy(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        byte_range: tuple[int, int] | None = None,
        source_conditions: Conditions | None = None,
    ) -> CopyResult:
        check_key(src_key)
        check_key(key)
        check_part_number(part_number)
        paths = self._store.bucket(bucket)
        await self._run(self._multipart.options, paths, key, upload_id)  # NoSuchUpload first
        part = await self._run(
            self._copy_part, (self._store.bucket(src_bucket), src_key), paths, key, upload_id,
            part_number, byte_range, source_conditions,
        )  # fmt: skip
        return CopyResult(part.etag, part.last_modified)

    def _copy_part(
        self, source: tuple[BucketPaths, str], paths: BucketPaths, key: str, upload_id: str,
        part_number: int, byte_range: tuple[int, int] | None, source_conditions: Conditions | None,
    ) -> PartInfo:  # fmt: skip
        src, fd = self._store.open_object(*source)
        try:
            check_copy_source(source_conditions, src)
            span = copy_range(byte_range, src.size)
            return self._multipart.copy_part(fd, span, paths, key, upload_id, part_number)
        finally:
            os.close(fd)

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> PutResult:
        check_key(key)
        row = await self._run(
            self._multipart.complete, self._store.bucket(bucket), key, upload_id, list(parts)
        )
        algorithm, value = next(iter(row.checksums.items()), (None, None))
        return PutResult(etag=row.etag, checksum_algorithm=algorithm, checksum_value=value)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        check_key(key)
        await self._run(self._multipart.abort, self._store.bucket(bucket), key, upload_id)

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 1000,
        part_number_marker: int = 0,
    ) -> PartsPage:
        check_key(key)
        return await self._run(
            self._multipart.list_parts, self._store.bucket(bucket), key, upload_id,
            max_parts=max_parts, marker=part_number_marker,
        )  # fmt: skip

    async def list_multipart_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadsPage:
        check_text(prefix, delimiter, key_marker, upload_id_marker)
        return await self._run(
            self._multipart.list_uploads, self._store.bucket(bucket), prefix=prefix,
            delimiter=delimiter or None, key_marker=key_marker, upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )  # fmt: skip


def _discard_opened(opening: Future[BlobWriter]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().discard()


def _stage_copy(src_blob: Path, src_fd: int, size: int, paths: BucketPaths) -> Path:
    """A temp file in the target bucket holding the source's bytes: a hard link to the blob, or a
    copy from the open descriptor if linking fails (other device, or the blob was replaced)."""
    staged = paths.new_tmp()
    try:
        os.link(src_blob, staged)
        return staged
    except OSError:
        pass
    writer = new_writer(paths)
    try:
        copy_span(src_fd, 0, size, writer)
        return writer.finish().path
    except BaseException:
        writer.discard()
        raise
