"""Merge per-target listing pages into one key-ordered page (the `balance` policy's listings).

Pure: no I/O. Every target was asked for the same window (same prefix, delimiter, marker and
max-keys), so each page is a sorted run of items (keys and rolled-up common prefixes, which S3
orders together). A truncated page only proves what it holds up to its last item, so the merged
page stops at the smallest such "last" over the truncated pages: everything at or below it is
known from every target. The page that bound comes from holds max-keys items of its own, so a
truncated merged page is always full.

The merged page ends on its last item, which becomes the single marker every target resumes
from: targets list in one shared key order, so "everything after the last key returned" is the
exact position of each of them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from router.models import ListEntry, ListPage, UploadInfo, UploadsPage

__all__ = ["concat_pages", "limiting_pages", "merge_object_pages", "merge_upload_pages"]


@dataclass(frozen=True, slots=True)
class _Item:
    key: str
    page: int
    entry: ListEntry | None  # None: a common prefix


def _page_last(page: ListPage) -> str | None:
    if page.next_start_after is not None:
        return page.next_start_after
    covered = [e.key for e in page.entries[-1:]] + page.common_prefixes[-1:]
    return max(covered) if covered else None


def _items(index: int, page: ListPage) -> Iterator[_Item]:
    # Entries and prefixes are each sorted; interleave them into the page's own key order.
    yield from heapq.merge(
        (_Item(e.key, index, e) for e in page.entries),
        (_Item(p, index, None) for p in page.common_prefixes),
        key=lambda item: item.key,
    )


def merge_object_pages(
    pages: Sequence[ListPage], max_keys: int, owner: Callable[[str], int]
) -> ListPage:
    """One page of at most `max_keys` keys + prefixes from the targets' pages.

    A key held by several targets (written before a target was added) is listed once, with the
    entry of `owner(key)` (the page index that owns it) when it has one, else the first target's.
    A common prefix several targets roll up is listed once.
    """
    if max_keys <= 0:
        return ListPage(entries=[], common_prefixes=[], is_truncated=False)  # as S3 answers it
    bounds = [b for p in pages if p.is_truncated and (b := _page_last(p)) is not None]
    bound = min(bounds) if bounds else None
    merged = heapq.merge(
        *(_items(i, p) for i, p in enumerate(pages)), key=lambda it: (it.key, it.page)
    )
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    last: str | None = None
    for key, group in groupby(merged, key=lambda it: it.key):
        if bound is not None and key > bound:
            break
        if len(entries) + len(prefixes) == max_keys:
            return ListPage(entries, prefixes, is_truncated=True, next_start_after=last)
        chosen = _choose(list(group), owner)
        if chosen.entry is None:
            prefixes.append(key)
        else:
            entries.append(chosen.entry)
        last = key
    if bound is not None:
        # Some target holds more past `bound`: resume after what this page covered.
        return ListPage(entries, prefixes, is_truncated=True, next_start_after=last or bound)
    return ListPage(entries, prefixes, is_truncated=False, next_start_after=None)


def limiting_pages(pages: Sequence[ListPage]) -> list[tuple[int, str]]:
    """(index, last item) of the truncated pages whose last item bounds the merge: fetching
    more after it from them (and only them) lets the merged page grow."""
    lasts = [(i, b) for i, p in enumerate(pages) if p.is_truncated and (b := _page_last(p))]
    bound = min((b for _, b in lasts), default=None)
    return [(i, b) for i, b in lasts if b == bound]


def concat_pages(first: ListPage, more: ListPage) -> ListPage:
    """`first` followed by the page listed after its last item (same prefix and delimiter)."""
    return ListPage(
        first.entries + more.entries,
        first.common_prefixes + more.common_prefixes,
        more.is_truncated,
        more.next_start_after,
    )


def _choose(group: list[_Item], owner: Callable[[str], int]) -> _Item:
    if len(group) == 1:
        return group[0]
    # Hashing only for duplicates keeps the common case free of placement work.
    wanted = owner(group[0].key)
    return next((it for it in group if it.page == wanted), group[0])


# -- multipart uploads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Upload:
    order: tuple[str, int, int]  # (key, page, position in page); prefixes sort first in a key
    upload: UploadInfo | None  # None: a common prefix
    prefix: str = ""


def _upload_bound(index: int, page: UploadsPage) -> tuple[str, int, int] | None:
    if not page.is_truncated:
        return None
    key = page.next_key_marker
    if key is None:
        covered = [u.key for u in page.uploads[-1:]] + page.common_prefixes[-1:]
        key = max(covered) if covered else None
    # Every item of this page at `key` is known: it is the page's own tail.
    return None if key is None else (key, index, len(page.uploads))


def _upload_items(index: int, page: UploadsPage) -> Iterator[_Upload]:
    yield from heapq.merge(
        (_Upload((u.key, index, n), u) for n, u in enumerate(page.uploads)),
        (_Upload((p, -1, 0), None, p) for p in page.common_prefixes),
        key=lambda it: it.order,
    )


def merge_upload_pages(pages: Sequence[UploadsPage], max_uploads: int) -> UploadsPage:
    """Uploads of several targets in (key, target order) order; upload ids must already say
    which target they belong to (the caller encodes them)."""
    if max_uploads <= 0:
        return UploadsPage(uploads=[], common_prefixes=[], is_truncated=False)
    bounds = [b for i, p in enumerate(pages) if (b := _upload_bound(i, p)) is not None]
    bound = min(bounds) if bounds else None
    merged = heapq.merge(
        *(_upload_items(i, p) for i, p in enumerate(pages)), key=lambda it: it.order
    )
    uploads: list[UploadInfo] = []
    prefixes: list[str] = []
    last: tuple[str, str | None] | None = None
    for item in merged:
        if bound is not None and item.order > bound:
            break
        if item.upload is None and prefixes and prefixes[-1] == item.prefix:
            continue  # the same common prefix from another target
        if len(uploads) + len(prefixes) == max_uploads:
            return _uploads_page(uploads, prefixes, last, truncated=True)
        if item.upload is None:
            prefixes.append(item.prefix)
            last = (item.prefix, None)
        else:
            uploads.append(item.upload)
            last = (item.upload.key, item.upload.upload_id)
    return _uploads_page(uploads, prefixes, last, truncated=bound is not None)


def _uploads_page(
    uploads: list[UploadInfo],
    prefixes: list[str],
    last: tuple[str, str | None] | None,
    *,
    truncated: bool,
) -> UploadsPage:
    if not truncated or last is None:
        return UploadsPage(uploads, prefixes, is_truncated=truncated)
    return UploadsPage(
        uploads, prefixes, is_truncated=True, next_key_marker=last[0], next_upload_id_marker=last[1]
    )
