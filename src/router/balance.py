"""The `balance` policy: each key lives on one of several targets, chosen by weighted rendezvous
hashing (`router.placement`), so load spreads past one vendor bucket's rate limits.

* Writes (PUT, copy, multipart) go to the key's owner.
* Reads (GET, HEAD, tagging) ask the owner first; on NoSuchKey they probe the other targets in
  target order, so objects written before a target was added stay readable where they are.
* DELETE goes to every target (in parallel): a stray copy on a former owner must not reappear
  through probing once the key is deleted.
* Listings ask every target for the same window and merge them (`router.merge_listing`); a key
  on two targets is listed once, with the owner's entry.
* A multipart upload is pinned to the owner at Create; the upload id the client gets names the
  target (`<tag>.<vendor id>`), so later calls reach that target even after the target list
  changed (the tag hashes the target's identity, not its position).

`BalanceView` subclasses `BucketView` so every caller typed against `BucketView` (handlers, the
cache) takes it unchanged. It overrides every operation (a unit test checks that) and never sets
the single-target attributes (`upstream`, `bucket`, `prefix`): a missed override fails loudly
instead of silently using one target.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from router.errors import UpstreamError
from router.merge_listing import (
    concat_pages,
    limiting_pages,
    merge_object_pages,
    merge_upload_pages,
)
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
from router.placement import Candidate, owner, target_identity
from router.upstream import Upstream

__all__ = ["BalanceView"]

T = TypeVar("T")


def _tag(identity: str) -> str:
    return hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


def _share(max_keys: int, fraction: float) -> int:
    """Keys to ask one target for: its expected part of the page plus slack for hash noise."""
    return min(max_keys, math.ceil(max_keys * fraction * 1.1) + 16)


async def _all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run `calls` at once; the first failure is raised after all have finished, so no vendor
    call is left running behind the response."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    out: list[T] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        out.append(r)
    return out


def _no_such_upload() -> UpstreamError:
    return UpstreamError("NoSuchUpload", 404)


class BalanceView(BucketView):
    """A `balance`-policy PBucket over its targets (one single-target view each)."""

    def __init__(self, pbucket: PBucket, upstreams: Sequence[Upstream]) -> None:
        if not pbucket.targets or len(upstreams) != len(pbucket.targets):
            raise ValueError("one upstream per target")
        self.pbucket = pbucket
        # Each target is a `single` view of its own: prefix mapping lives in one place.
        self.parts = tuple(
            BucketView(replace(pbucket, targets=(t,), policy="single"), up)
            for t, up in zip(pbucket.targets, upstreams, strict=True)
        )
        identities = [target_identity(t.vendor, t.bucket, t.prefix) for t in pbucket.targets]
        self._candidates = tuple(
            Candidate(i, t.weight) for i, t in zip(identities, pbucket.targets, strict=True)
        )
        self._tags = tuple(_tag(i) for i in identities)

    # -- placement ---------------------------------------------------------------------------
    def owner_index(self, key: str) -> int:
        return owner(self._candidates, key)

    def view_for(self, key: str) -> BucketView:
        return self.parts[self.owner_index(key)]

    def block_names(self, key: str) -> tuple[str, str, str]:
        return self.view_for(key).block_names(key)

    def same_vendor(self, other: BucketView) -> bool:
        """True only if every target of both views is on one upstream (copies decide per key
        through `view_for`, this answers for the views as a whole)."""
        theirs = other.parts if isinstance(other, BalanceView) else (other,)
        return len({id(p.upstream) for p in (*self.parts, *theirs)}) == 1

    async def _probe(self, key: str, op: Callable[[BucketView], Awaitable[T]]) -> T:
        """`op` on the owner; on NoSuchKey, on each other target in order. Any other error
        (including a failed precondition) means the object is there, or unknown: it stands."""
        first = self.owner_index(key)
        try:
            return await op(self.parts[first])
        except UpstreamError as err:
            if err.code != "NoSuchKey":
                raise
            miss = err
        for i, part in enumerate(self.parts):
            if i == first:
                continue
            try:
                return await op(part)
            except UpstreamError as err:
                if err.code != "NoSuchKey":
                    raise
        raise miss

    async def _everywhere(self, op: Callable[[BucketView], Awaitable[T]]) -> list[T]:
        """`op` on every target at once."""
        return await _all(op(p) for p in self.parts)

    async def delete_vendor_buckets(self) -> None:
        await self._everywhere(lambda p: p.delete_vendor_buckets())

    # -- objects -----------------------------------------------------------------------------
    async def head_object(
        self, key: str, *, conditions: Conditions | None = None, part_number: int | None = None
    ) -> ObjectInfo:
        return await self._probe(
            key, lambda p: p.head_object(key, conditions=conditions, part_number=part_number)
        )

    async def get_object(
        self,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        return await self._probe(
            key,
            lambda p: p.get_object(
                key, byte_range=byte_range, conditions=conditions, part_number=part_number
            ),
        )

    async def put_object(
        self, key: str, body: AsyncIterator[bytes], length: int, options: PutOptions
    ) -> PutResult:
        return await self.view_for(key).put_object(key, body, length, options)

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
        # The owner's single view decides server-side vs streamed against the source's owner.
        return await self.view_for(key).copy_from(
            source,
            src_key,
            key,
            options=options,
            replace_metadata=replace_metadata,
            replace_tagging=replace_tagging,
            source_conditions=source_conditions,
        )

    async def delete_object(self, key: str) -> None:
        await self._everywhere(lambda p: p.delete_object(key))

    async def change_storage_class(self, key: str, storage_class: str) -> bool:
        # Where the key lives (its owner, or a target it was written to before a change).
        return await self._probe(key, lambda p: p.change_storage_class(key, storage_class))

    async def list_objects(
        self,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        start_after: str | None = None,
    ) -> ListPage:
        """Each target is asked for about its weighted share of `max_keys` (not all of it, which
        would read N times what the page returns); when a target's share runs out before the
        page is full, only that target is asked for more."""
        if max_keys <= 0:
            return ListPage(entries=[], common_prefixes=[], is_truncated=False)

        async def fetch(index: int, want: int, after: str | None) -> ListPage:
            return await self.parts[index].list_objects(
                prefix=prefix, delimiter=delimiter, max_keys=want, start_after=after
            )

        total = sum(c.weight for c in self._candidates)
        shares = [_share(max_keys, c.weight / total) for c in self._candidates]
        pages = await _all(fetch(i, n, start_after) for i, n in enumerate(shares))
        merged = merge_object_pages(pages, max_keys, self.owner_index)
        while merged.is_truncated and len(merged.entries) + len(merged.common_prefixes) < max_keys:
            short = max_keys - len(merged.entries) - len(merged.common_prefixes)
            limiting = limiting_pages(pages)
            more = await _all(fetch(i, short, after) for i, after in limiting)
            if not any(p.entries or p.common_prefixes for p in more):
                break  # a vendor claiming "truncated" with nothing after: a short page, no loop
            for (i, _), page in zip(limiting, more, strict=True):
                pages[i] = concat_pages(pages[i], page)
            merged = merge_object_pages(pages, max_keys, self.owner_index)
        return merged

    # -- tagging -----------------------------------------------------------------------------
    async def get_object_tagging(self, key: str) -> list[tuple[str, str]]:
        return await self._probe(key, lambda p: p.get_object_tagging(key))

    async def put_object_tagging(self, key: str, tags: Sequence[tuple[str, str]]) -> None:
        # Tags belong to the object where it is, which may be off its owner.
        await self._probe(key, lambda p: p.put_object_tagging(key, tags))

    async def delete_object_tagging(self, key: str) -> None:
        await self._probe(key, lambda p: p.delete_object_tagging(key))

    # -- multipart ---------------------------------------------------------------------------
    def _encode_upload(self, index: int, vendor_id: str) -> str:
        raw = base64.urlsafe_b64encode(vendor_id.encode("utf-8")).decode("ascii").rstrip("=")
        return f"{self._tags[index]}.{raw}"

    def _decode_upload(self, upload_id: str) -> tuple[BucketView, str]:
        tag, sep, raw = upload_id.partition(".")
        if not sep or tag not in self._tags:
            # Not ours, or its target has since left the PBucket.
            raise _no_such_upload()
        try:
            vendor_id = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeError):
            raise _no_such_upload() from None
        if not vendor_id:
            raise _no_such_upload()
        return self.parts[self._tags.index(tag)], vendor_id

    async def create_multipart_upload(self, key: str, options: PutOptions) -> str:
        index = self.owner_index(key)
        vendor_id = await self.parts[index].create_multipart_upload(key, options)
        return self._encode_upload(index, vendor_id)

    async def upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        part, vendor_id = self._decode_upload(upload_id)
        return await part.upload_part(key, vendor_id, part_number, body, length, options)

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
        part, vendor_id = self._decode_upload(upload_id)
        return await part.upload_part_copy(
            source,
            src_key,
            key,
            vendor_id,
            part_number,
            byte_range=byte_range,
            source_conditions=source_conditions,
        )

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> PutResult:
        part, vendor_id = self._decode_upload(upload_id)
        return await part.complete_multipart_upload(key, vendor_id, parts)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        part, vendor_id = self._decode_upload(upload_id)
        await part.abort_multipart_upload(key, vendor_id)

    async def list_parts(
        self, key: str, upload_id: str, *, max_parts: int = 1000, part_number_marker: int = 0
    ) -> PartsPage:
        part, vendor_id = self._decode_upload(upload_id)
        return await part.list_parts(
            key, vendor_id, max_parts=max_parts, part_number_marker=part_number_marker
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
        if max_uploads <= 0:
            return UploadsPage(uploads=[], common_prefixes=[], is_truncated=False)
        marked: BucketView | None = None
        vendor_marker: str | None = None
        if key_marker and upload_id_marker:
            try:
                marked, vendor_marker = self._decode_upload(upload_id_marker)
            except UpstreamError:
                marked = None  # a foreign marker: resume after the whole key, as S3 would

        marked_index = self.parts.index(marked) if marked is not None else len(self.parts)

        async def one(part: BucketView) -> UploadsPage:
            # Merged order is (key, target order). Resuming inside key K on target t: t goes on
            # from its upload id, targets before t from after K, targets after t from K itself.
            index = self.parts.index(part)
            page = await part.list_multipart_uploads(
                prefix=prefix,
                delimiter=delimiter,
                key_marker=key_marker,
                upload_id_marker=vendor_marker if index == marked_index else None,
                max_uploads=max_uploads,
            )
            uploads = page.uploads
            if index > marked_index and key_marker and key_marker.startswith(prefix):
                # "Keys from K on" is not an S3 marker; K's own uploads come first under
                # prefix K (K is the least key with that prefix).
                same = await part.list_multipart_uploads(prefix=key_marker, max_uploads=max_uploads)
                uploads = [u for u in same.uploads if u.key == key_marker] + uploads
            encoded = [
                replace(u, upload_id=self._encode_upload(index, u.upload_id)) for u in uploads
            ]
            return replace(page, uploads=encoded)

        pages = await self._everywhere(one)
        return merge_upload_pages(pages, max_uploads)
