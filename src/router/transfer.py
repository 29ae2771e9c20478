"""Copying one object between two targets of a PBucket, and checking that a copy is faithful.

`copy_if_absent` streams GET → PUT with `If-None-Match: *`, so it never overwrites what the
target holds (the `migrate` policy: new wins), hashing the bytes on the way: the content MD5
is checked against the target's answer and, for a single-part source, against the source's
ETag. Memory stays at the vendor client's chunk size whatever the object size.

`same_object` tells whether two copies hold the same bytes: equal size and ETag, or, when an
ETag is a multipart one (not a content MD5, so copies may differ in ETag alone), equal MD5s of
both bodies read in full.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from router.errors import RouterError, UpstreamError
from router.models import Conditions, ObjectInfo, PutOptions
from router.pbucket import BucketView, options_from_info

__all__ = ["Copied", "VerifyFailed", "copy_if_absent", "is_md5_etag", "same_object"]

log = logging.getLogger("pcache.router")


class VerifyFailed(RouterError):
    """A copy does not hold what its source holds."""


@dataclass(frozen=True, slots=True)
class Copied:
    etag: str
    size: int


def is_md5_etag(etag: str) -> bool:
    """A single-part ETag: the quoted hex MD5 of the content."""
    bare = etag.strip('"')
    return len(bare) == 32 and all(c in "0123456789abcdef" for c in bare.lower())


async def _hashing(body: AsyncIterator[bytes], digest: hashlib._Hash) -> AsyncIterator[bytes]:
    async for chunk in body:
        digest.update(chunk)
        yield chunk


async def copy_if_absent(
    source: BucketView, target: BucketView, key: str, etag: str | None = None
) -> Copied | None:
    """Copy `key` from `source` to `target` unless `target` has it; None when it has.

    `etag` pins the version read (None: whatever `source` holds now). Raises RouterError when
    the copy fails, VerifyFailed when the bytes stored are not the bytes read (the copy this
    call made is removed again).
    """
    stream = await source.get_object(key, conditions=Conditions(if_match=etag))
    digest = hashlib.md5(usedforsecurity=False)
    try:
        info = stream.info
        tags = await source.get_object_tagging(key)
        options = replace(
            options_from_info(info, PutOptions()),
            tagging=urlencode(tags) if tags else None,
            if_none_match="*",
        )
        body = _hashing(stream.body, digest)
        result = await target.put_object(key, body, stream.content_length, options)
    except UpstreamError as err:
        if err.status == 412:  # the target has the key already, and it wins
            return None
        raise
    finally:
        await stream.aclose()
    md5 = f'"{digest.hexdigest()}"'
    wrong = (is_md5_etag(result.etag) and result.etag.lower() != md5) or (
        is_md5_etag(info.etag) and info.etag.lower() != md5
    )
    if wrong:
        try:  # If-None-Match made this copy ours alone: nobody else's write is lost
            await target.delete_object(key)
        except RouterError as err:
            log.warning("a corrupt copy of %r stays on its target: %s", key, err)
        raise VerifyFailed(f"content MD5 {md5} does not match ETag {result.etag}/{info.etag}")
    return Copied(result.etag, info.size)


async def _md5(view: BucketView, key: str, etag: str) -> str:
    stream = await view.get_object(key, conditions=Conditions(if_match=etag))
    digest = hashlib.md5(usedforsecurity=False)
    try:
        async for chunk in stream.body:
            digest.update(chunk)
    finally:
        await stream.aclose()
    return digest.hexdigest()


async def same_object(
    a: BucketView, a_info: ObjectInfo, b: BucketView, b_info: ObjectInfo, key: str
) -> bool:
    """Do `a` and `b` hold the same bytes for `key` (described by `a_info`, `b_info`)?"""
    if a_info.size != b_info.size:
        return False
    if a_info.etag == b_info.etag:
        return True
    if is_md5_etag(a_info.etag) and is_md5_etag(b_info.etag):
        return False  # two content MD5s that differ
    return await _md5(a, key, a_info.etag) == await _md5(b, key, b_info.etag)
