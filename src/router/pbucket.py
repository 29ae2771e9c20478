"""PBuckets: the bucket names clients see, and the view that maps one onto its vendor bucket.

`BucketView` is what handlers talk to: the Upstream interface minus the bucket argument, with the
target's key prefix applied on the way in and stripped on the way out. Policies other than
`single` are subclasses wrapping several upstreams (`router.balance`); handlers never branch on
the policy.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from router.errors import UpstreamError
from router.models import (
    ByteRange,
    CompletedPart,
    Conditions,
    CopyResult,
    ListEntry,
    ListPage,
    ObjectInfo,
    ObjectStream,
    PartsPage,
    PutOptions,
    PutResult,
    UploadInfo,
    UploadsPage,
)
from router.profiles import vendor_storage_class
from router.ranges import invalid_range
from router.upstream import Upstream

__all__ = ["BucketView", "PBucket", "TargetSpec", "options_from_info"]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One vendor bucket behind a PBucket: vendor name (config), bucket, optional key prefix;
    `weight` (share of keys under `balance`) and `region` (a free-form label) for the
    multi-target policies."""

    vendor: str
    bucket: str
    prefix: str = ""
    weight: float = 1.0
    region: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TargetSpec:
        # Records written before a field existed load with its default; fields a newer node
        # added are ignored rather than failing every read of the PBucket.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True, slots=True)
class PBucket:
    name: str
    targets: tuple[TargetSpec, ...]
    policy: str = "single"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    owner: str = "root"
    region: str = "us-east-1"
    managed_by: str = "api"
    #: `replicate`: acknowledgements a write needs (None: every target)
    write_quorum: int | None = None

    def to_json(self) -> str:
        doc: dict[str, Any] = asdict(self)
        doc["created"] = self.created.isoformat()
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> PBucket:
        doc = json.loads(text)
        return cls(
            name=doc["name"],
            targets=tuple(TargetSpec.from_doc(t) for t in doc["targets"]),
            policy=doc.get("policy", "single"),
            created=datetime.fromisoformat(doc["created"]),
            owner=doc.get("owner", "root"),
            region=doc.get("region", "us-east-1"),
            managed_by=doc.get("managed_by", "api"),
            write_quorum=doc.get("write_quorum"),
        )


class BucketView:
    """A `single`-policy PBucket: one upstream, one vendor bucket, an optional key prefix."""

    def __init__(self, pbucket: PBucket, upstream: Upstream) -> None:
        self.pbucket = pbucket
        self.upstream = upstream
        self.target = pbucket.targets[0]
        self.bucket = self.target.bucket
        self.prefix = self.target.prefix

    # -- key mapping -------------------------------------------------------------------------
    def vkey(self, key: str) -> str:
        return self.prefix + key

    def _ukey(self, vendor_key: str) -> str:
        return vendor_key[len(self.prefix) :]

    def _info(self, info: ObjectInfo) -> ObjectInfo:
        if not self.prefix:
            return info
        from dataclasses import replace

        return replace(info, key=self._ukey(info.key))

    def block_names(self, key: str) -> tuple[str, str, str]:
        """(target identity, vendor bucket, vendor key): what the cache names `key`'s blocks
        by, so one object on two targets (or two tenants' same-named keys) never share a block.
        Multi-target views answer for the target that owns `key`."""
        return self.upstream.name, self.bucket, self.vkey(key)

    def same_vendor(self, other: BucketView) -> bool:
        return self.upstream is other.upstream

    def view_for(self, key: str) -> BucketView:
        """The single-target view `key` is written to (multi-target views pick its owner)."""
        return self

    async def delete_vendor_buckets(self) -> None:
        """DeleteBucket of a PBucket CreateBucket made: drop the vendor bucket behind it."""
        await self.upstream.delete_bucket(self.bucket)

    # -- objects -----------------------------------------------------------------------------
    async def head_object(
        self, key: str, *, conditions: Conditions | None = None, part_number: int | None = None
    ) -> ObjectInfo:
        info = await self.upstream.head_object(
            self.bucket, self.vkey(key), conditions=conditions, part_number=part_number
        )
        return self._info(info)

    async def get_object(
        self,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        stream = await self.upstream.get_object(
            self.bucket,
            self.vkey(key),
            byte_range=byte_range,
            conditions=conditions,
            part_number=part_number,
        )
        stream.info = self._info(stream.info)
        return stream

    async def put_object(
        self, key: str, body: AsyncIterator[bytes], length: int, options: PutOptions
    ) -> PutResult:
        return await self.upstream.put_object(self.bucket, self.vkey(key), body, length, options)

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
        """Server-side copy when both live on one vendor; otherwise stream through this node."""
        src = source.view_for(src_key)
        if self.same_vendor(src):
            try:
                return await self.upstream.copy_object(
                    src.bucket,
                    src.vkey(src_key),
                    self.bucket,
                    self.vkey(key),
                    options=options,
                    replace_metadata=replace_metadata,
                    replace_tagging=replace_tagging,
                    source_conditions=source_conditions,
                )
            except UpstreamError as err:
                # A multi-target source may hold the key off its owner (written before a target
                # was added): its own GET below finds it there.
                if err.code != "NoSuchKey" or src is source:
                    raise
        stream = await source.get_object(src_key, conditions=source_conditions)
        try:
            opts = options if replace_metadata else options_from_info(stream.info, options)
            if not replace_tagging:
                # Tagging directive COPY: the tags travel too, as a server-side copy keeps them.
                tags = await source.get_object_tagging(src_key)
                opts = replace(opts, tagging=urlencode(tags) if tags else None)
            result = await self.put_object(key, stream.body, stream.content_length, opts)
        finally:
            await stream.aclose()
        return CopyResult(etag=result.etag, last_modified=datetime.now(UTC))

    async def delete_object(self, key: str) -> None:
        await self.upstream.delete_object(self.bucket, self.vkey(key))

    async def change_storage_class(self, key: str, storage_class: str) -> bool:
        """A lifecycle transition: move `key` to the vendor's class for `storage_class` (hot /
        cold / archive or an AWS name, mapped through the vendor profile) by a self-copy that
        keeps its metadata and tags. False when it is in that class already (so a repeated
        transition does nothing). The copy is conditional on the ETag just read, so an object
        rewritten meanwhile is left alone (PreconditionFailed)."""
        target = vendor_storage_class(self.upstream.storage_classes, storage_class)
        info = await self.head_object(key)
        if (info.storage_class or "STANDARD") == target:
            return False
        # REPLACE with the object's own headers: some stores (SeaweedFS) refuse a COPY-directive
        # self-copy that changes only the storage class.
        options = options_from_info(info, PutOptions(storage_class=target))
        await self.upstream.copy_object(
            self.bucket,
            self.vkey(key),
            self.bucket,
            self.vkey(key),
            options=options,
            replace_metadata=True,
            source_conditions=Conditions(if_match=info.etag),
        )
        return True

    async def list_objects(
        self,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        start_after: str | None = None,
    ) -> ListPage:
        page = await self.upstream.list_objects(
            self.bucket,
            prefix=self.prefix + prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            start_after=self.vkey(start_after) if start_after else None,
        )
        if not self.prefix:
            return page
        return ListPage(
            entries=[
                ListEntry(self._ukey(e.key), e.size, e.etag, e.last_modified, e.storage_class)
                for e in page.entries
            ],
            common_prefixes=[self._ukey(p) for p in page.common_prefixes],
            is_truncated=page.is_truncated,
            next_start_after=self._ukey(page.next_start_after) if page.next_start_after else None,
        )

    # -- tagging -----------------------------------------------------------------------------
    async def get_object_tagging(self, key: str) -> list[tuple[str, str]]:
        return await self.upstream.get_object_tagging(self.bucket, self.vkey(key))

    async def put_object_tagging(self, key: str, tags: Sequence[tuple[str, str]]) -> None:
        await self.upstream.put_object_tagging(self.bucket, self.vkey(key), tags)

    async def delete_object_tagging(self, key: str) -> None:
        await self.upstream.delete_object_tagging(self.bucket, self.vkey(key))

    # -- multipart ---------------------------------------------------------------------------
    async def create_multipart_upload(self, key: str, options: PutOptions) -> str:
        return await self.upstream.create_multipart_upload(self.bucket, self.vkey(key), options)

    async def upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        return await self.upstream.upload_part(
            self.bucket, self.vkey(key), upload_id, part_number, body, length, options
        )

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
        src = source.view_for(src_key)
        if self.same_vendor(src):
            try:
                return await self.upstream.upload_part_copy(
                    src.bucket,
                    src.vkey(src_key),
                    self.bucket,
                    self.vkey(key),
                    upload_id,
                    part_number,
                    byte_range=byte_range,
                    source_conditions=source_conditions,
                )
            except UpstreamError as err:
                if err.code != "NoSuchKey" or src is source:  # as in copy_from
                    raise
        return await self._stream_part_copy(
            source, src_key, key, upload_id, part_number, byte_range, source_conditions
        )

    async def _stream_part_copy(
        self,
        source: BucketView,
        src_key: str,
        key: str,
        upload_id: str,
        part_number: int,
        byte_range: tuple[int, int] | None,
        source_conditions: Conditions | None,
    ) -> CopyResult:
        """UploadPartCopy across vendors: the source range streams through this node into an
        UploadPart, in constant memory."""
        rng = None if byte_range is None else ByteRange(first=byte_range[0], last=byte_range[1])
        stream = await source.get_object(src_key, byte_range=rng, conditions=source_conditions)
        try:
            if byte_range is not None:
                # A GET clamps a range that runs past the end; a part copy must refuse it.
                total = stream.content_range[2] if stream.content_range else stream.info.size
                if byte_range[1] >= total:
                    raise invalid_range(total)
            result = await self.upload_part(
                key, upload_id, part_number, stream.body, stream.content_length, PutOptions()
            )
        finally:
            await stream.aclose()
        return CopyResult(etag=result.etag, last_modified=datetime.now(UTC))

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> PutResult:
        return await self.upstream.complete_multipart_upload(
            self.bucket, self.vkey(key), upload_id, parts
        )

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        await self.upstream.abort_multipart_upload(self.bucket, self.vkey(key), upload_id)

    async def list_parts(
        self, key: str, upload_id: str, *, max_parts: int = 1000, part_number_marker: int = 0
    ) -> PartsPage:
        return await self.upstream.list_parts(
            self.bucket,
            self.vkey(key),
            upload_id,
            max_parts=max_parts,
            part_number_marker=part_number_marker,
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
        page = await self.upstream.list_multipart_uploads(
            self.bucket,
            prefix=self.prefix + prefix,
            delimiter=delimiter,
            key_marker=self.vkey(key_marker) if key_marker else None,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
        if not self.prefix:
            return page
        return UploadsPage(
            uploads=[
                UploadInfo(self._ukey(u.key), u.upload_id, u.initiated, u.storage_class)
                for u in page.uploads
            ],
            common_prefixes=[self._ukey(p) for p in page.common_prefixes],
            is_truncated=page.is_truncated,
            next_key_marker=self._ukey(page.next_key_marker) if page.next_key_marker else None,
            next_upload_id_marker=page.next_upload_id_marker,
        )


def options_from_info(info: ObjectInfo, options: PutOptions) -> PutOptions:
    """Metadata directive COPY across vendors: carry the source's headers and user metadata."""
    return PutOptions(
        content_type=info.content_type,
        content_encoding=info.content_encoding,
        content_disposition=info.content_disposition,
        content_language=info.content_language,
        cache_control=info.cache_control,
        expires=info.expires,
        user_metadata=dict(info.user_metadata),
        tagging=options.tagging,
        storage_class=options.storage_class,
        # The caller's destination preconditions still hold for the PUT that replaces a copy.
        if_none_match=options.if_none_match,
        if_match=options.if_match,
    )
