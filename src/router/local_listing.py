"""Key-ordered listings over the local vendor's index: objects and multipart uploads, with S3's
prefix / delimiter roll-up and markers.

Scans are SQL range scans on the key (BINARY collation = UTF-8 byte order = S3 order). A rolled-up
common prefix is returned once and the scan jumps past it (`key >= upper_bound(prefix)`) instead of
reading every key underneath.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from router.local_rows import from_ms
from router.models import ListEntry, ListPage, UploadInfo, UploadsPage

__all__ = ["common_prefix", "list_objects_page", "list_uploads_page", "prefix_upper_bound"]

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no bound).

    Code-point order equals UTF-8 byte order, so bumping the last code point that can be bumped
    works; surrogates are skipped because they cannot be stored as UTF-8.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _MAX_CODE_POINT:
            bumped = last + 1
            if bumped in _SURROGATES:
                bumped = _SURROGATES.stop
            return "".join(chars) + chr(bumped)
    return None


def common_prefix(key: str, prefix: str, delimiter: str | None) -> str | None:
    """The CommonPrefix `key` rolls up into: prefix + up to the first delimiter after it."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


@dataclass(frozen=True, slots=True)
class _Seek:
    """Where a scan resumes: keys >= key (`inclusive`) or > key; `after` adds a row tie-break
    for tables with several rows per key (uploads: initiated, then creation order)."""

    key: str
    inclusive: bool
    after: tuple[int, int] | None = None


def _start(prefix: str, delimiter: str | None, marker: str | None) -> _Seek | None:
    if marker is None or marker < prefix:
        return _Seek(prefix, inclusive=True)
    # A marker that is itself a rolled-up prefix (our own next_start_after) means that whole
    # prefix was already returned: resume past everything under it, never list it twice.
    if marker.startswith(prefix) and common_prefix(marker, prefix, delimiter) == marker:
        bound = prefix_upper_bound(marker)
        return None if bound is None else _Seek(bound, inclusive=True)
    return _Seek(marker, inclusive=False)


def _where(seek: _Seek, upper: str | None, *, with_after: bool) -> tuple[str, list[Any]]:
    if seek.after is not None and with_after:
        clause, params = "(key, initiated, seq) > (?, ?, ?)", [seek.key, *seek.after]
    else:
        clause, params = ("key >= ?" if seek.inclusive else "key > ?"), [seek.key]
    if upper is not None:
        clause += " AND key < ?"
        params.append(upper)
    return clause, params


def list_objects_page(
    db: sqlite3.Connection,
    *,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
) -> ListPage:
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    last: str | None = None
    seek = _start(prefix, delimiter, start_after)
    upper = prefix_upper_bound(prefix)
    # max-keys=0 is an empty page that is not truncated, as S3 answers it.
    while seek is not None and max_keys > 0:
        clause, params = _where(seek, upper, with_after=False)
        rows = db.execute(
            "SELECT key, size, etag, last_modified, storage_class FROM objects "  # noqa: S608
            f"WHERE {clause} ORDER BY key LIMIT ?",
            [*params, max_keys - len(entries) - len(prefixes) + 1],
        ).fetchall()
        if not rows:
            break
        seek = _Seek(rows[-1][0], inclusive=False)
        for key, size, etag, modified, storage_class in rows:
            if len(entries) + len(prefixes) == max_keys:
                return ListPage(entries, prefixes, is_truncated=True, next_start_after=last)
            rolled = common_prefix(key, prefix, delimiter)
            if rolled is None:
                entries.append(
                    ListEntry(key, size, etag, from_ms(modified, whole_seconds=True), storage_class)
                )
                last = key
                continue
            prefixes.append(rolled)
            last = rolled
            bound = prefix_upper_bound(rolled)
            seek = None if bound is None else _Seek(bound, inclusive=True)
            break
    return ListPage(entries, prefixes, is_truncated=False, next_start_after=last)


def _upload_start(
    db: sqlite3.Connection,
    prefix: str,
    delimiter: str | None,
    key_marker: str | None,
    upload_id_marker: str | None,
) -> _Seek | None:
    seek = _start(prefix, delimiter, key_marker)
    if seek is None or key_marker is None or upload_id_marker is None or seek.inclusive:
        return seek
    # With both markers, uploads of key_marker listed after the marker upload come first
    # (ListMultipartUploads, upload-id-marker). An unknown marker upload resumes after the key.
    found = db.execute(
        "SELECT initiated, seq FROM uploads WHERE key = ? AND upload_id = ?",
        (key_marker, upload_id_marker),
    ).fetchone()
    if found is None:
        return seek
    return _Seek(key_marker, inclusive=False, after=(found[0], found[1]))


def list_uploads_page(
    db: sqlite3.Connection,
    *,
    prefix: str,
    delimiter: str | None,
    key_marker: str | None,
    upload_id_marker: str | None,
    max_uploads: int,
) -> UploadsPage:
    uploads: list[UploadInfo] = []
    prefixes: list[str] = []
    last: tuple[str, str | None] | None = None
    seek = _upload_start(db, prefix, delimiter, key_marker, upload_id_marker)
    upper = prefix_upper_bound(prefix)
    while seek is not None and max_uploads > 0:
        clause, params = _where(seek, upper, with_after=True)
        rows = db.execute(
            "SELECT key, initiated, seq, upload_id, storage_class FROM uploads "  # noqa: S608
            f"WHERE {clause} ORDER BY key, initiated, seq LIMIT ?",
            [*params, max_uploads - len(uploads) - len(prefixes) + 1],
        ).fetchall()
        if not rows:
            break
        key, initiated, seq, _, _ = rows[-1]
        seek = _Seek(key, inclusive=False, after=(initiated, seq))
        for key, initiated, _, upload_id, storage_class in rows:
            if len(uploads) + len(prefixes) == max_uploads:
                return _uploads_page(uploads, prefixes, last)
            rolled = common_prefix(key, prefix, delimiter)
            if rolled is None:
                uploads.append(UploadInfo(key, upload_id, from_ms(initiated), storage_class))
                last = (key, upload_id)
                continue
            prefixes.append(rolled)
            last = (rolled, None)
            bound = prefix_upper_bound(rolled)
            seek = None if bound is None else _Seek(bound, inclusive=True)
            break
    return UploadsPage(uploads, prefixes, is_truncated=False)


def _uploads_page(
    uploads: list[UploadInfo], prefixes: list[str], last: tuple[str, str | None] | None
) -> UploadsPage:
    return UploadsPage(
        uploads,
        prefixes,
        is_truncated=True,
        next_key_marker=None if last is None else last[0],
        next_upload_id_marker=None if last is None else last[1],
    )
