"""Multipart uploads of the local vendor: uploads and parts in the bucket index, part bodies under
`uploads/<upload id>/`, and completion that concatenates parts into one blob with S3's ETag rule.

Blocking throughout; `router.local_upstream` runs these in its thread pool.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from router.errors import UpstreamError
from router.local_blobs import (
    DEFAULT_CHECKSUM,
    Spooled,
    composite_checksum,
    copy_span,
    new_checksummer,
)
from router.local_listing import list_uploads_page
from router.local_rows import (
    ObjectMeta,
    ObjectRow,
    from_ms,
    now_ms,
    options_from_json,
    options_to_json,
    parse_tagging,
)
from router.local_store import BucketPaths, LocalStore, is_random_name, new_writer, random_name
from router.models import CompletedPart, PartInfo, PartsPage, PutOptions, UploadsPage

__all__ = ["Multipart", "bare_etag", "multipart_etag", "quoted_md5"]


def bare_etag(etag: str) -> str:
    return etag.strip().strip('"')


def quoted_md5(digest: bytes) -> str:
    return f'"{digest.hex()}"'


def no_such_upload() -> UpstreamError:
    return UpstreamError("NoSuchUpload", 404)


@dataclass(frozen=True, slots=True)
class _StoredPart:
    number: int
    blob: str
    size: int
    etag: str
    checksums: Mapping[str, str]


class Multipart:
    """Multipart operations over one vendor root's `LocalStore`."""

    def __init__(self, store: LocalStore, *, min_part_size: int):
        self._store = store
        self._min_part_size = min_part_size

    def create(self, paths: BucketPaths, key: str, options: PutOptions) -> str:
        upload_id = random_name()
        with self._store.write(paths.index) as db:
            paths.upload_dir(upload_id).mkdir()
            db.execute(
                "INSERT INTO uploads (upload_id, key, initiated, storage_class, options) "
                "VALUES (?, ?, ?, ?, ?)",
                (upload_id, key, now_ms(), ObjectMeta.from_options(options).storage_class,
                 options_to_json(options)),
            )  # fmt: skip
        return upload_id

    def options(self, paths: BucketPaths, key: str, upload_id: str) -> PutOptions:
        """The upload's creation options; NoSuchUpload if it does not exist for this key."""
        with self._store.read(paths.index) as db:
            return _read_upload(db, key, upload_id)

    def install_part(
        self, paths: BucketPaths, key: str, upload_id: str, number: int, spooled: Spooled,
        checksums: Mapping[str, str],
    ) -> PartInfo:  # fmt: skip
        """Move a written temp file in as part `number`, replacing an earlier part `number`."""
        dest = paths.part(upload_id, random_name())
        etag = quoted_md5(spooled.md5)
        placed = False
        try:
            with self._store.write(paths.index) as db:
                _read_upload(db, key, upload_id)  # aborted or completed meanwhile?
                old = db.execute(
                    "SELECT blob FROM parts WHERE upload_id = ? AND part_number = ?",
                    (upload_id, number),
                ).fetchone()
                os.rename(spooled.path, dest)
                placed = True
                modified = now_ms()
                db.execute(
                    "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (upload_id, number, dest.name, spooled.size, etag, modified,
                     json.dumps(dict(checksums))),
                )  # fmt: skip
        except BaseException:
            spooled.path.unlink(missing_ok=True)
            if placed:
                dest.unlink(missing_ok=True)
            raise
        if old is not None:
            paths.part(upload_id, old[0]).unlink(missing_ok=True)
        return PartInfo(number, etag, spooled.size, from_ms(modified), dict(checksums))

    def copy_part(
        self, src_fd: int, span: tuple[int, int], paths: BucketPaths, key: str, upload_id: str,
        number: int,
    ) -> PartInfo:  # fmt: skip
        """Part `number` from `span` (first, length) of an already opened source blob."""
        algorithm = self.options(paths, key, upload_id).checksum_algorithm
        writer = new_writer(paths, new_checksummer(algorithm) if algorithm else None)
        try:
            copy_span(src_fd, span[0], span[1], writer)
            spooled = writer.finish()
        except BaseException:
            writer.discard()
            raise
        checksums = {algorithm.upper(): spooled.checksum} if algorithm and spooled.checksum else {}
        return self.install_part(paths, key, upload_id, number, spooled, checksums)

    def complete(
        self, paths: BucketPaths, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> ObjectRow:
        if not parts:
            raise UpstreamError("MalformedXML", 400)  # "You must specify at least one part"
        with self._store.read(paths.index, snapshot=True) as db:
            options = _read_upload(db, key, upload_id)
            stored = _stored_parts(db, upload_id)
        chosen = _choose_parts(parts, stored, self._min_part_size)
        spooled = self._concatenate(paths, upload_id, chosen)
        checksums, checksum_type = _object_checksum(options, chosen, spooled)
        row = ObjectRow(
            key=key,
            blob=random_name(),
            size=spooled.size,
            etag=multipart_etag([p.etag for p in chosen]),
            last_modified_ms=0,
            meta=ObjectMeta.from_options(options),
            checksums=checksums,
            checksum_type=checksum_type,
            tags=parse_tagging(options.tagging),
            part_sizes=tuple(p.size for p in chosen),
        )

        def retire_upload(db: sqlite3.Connection) -> None:
            # Same transaction as the object row: the upload disappears exactly when it lands.
            _read_upload(db, key, upload_id)
            current = _stored_parts(db, upload_id)
            if any((now := current.get(p.number)) is None or now.blob != p.blob for p in chosen):
                raise UpstreamError("InvalidPart", 400)  # a part was re-uploaded meanwhile
            db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))

        row = self._store.install_object(paths, row, spooled.path, within=retire_upload)
        shutil.rmtree(paths.upload_dir(upload_id), ignore_errors=True)
        return row

    def _concatenate(
        self, paths: BucketPaths, upload_id: str, chosen: list[_StoredPart]
    ) -> Spooled:
        # The ETag comes from the part MD5s, so only the full-object CRC64NVME is computed here.
        writer = new_writer(paths, new_checksummer(DEFAULT_CHECKSUM), md5=False)
        try:
            for part in chosen:
                fd = _open_part(paths.part(upload_id, part.blob))
                try:
                    copy_span(fd, 0, part.size, writer)
                finally:
                    os.close(fd)
            return writer.finish()
        except BaseException:
            writer.discard()
            raise

    def abort(self, paths: BucketPaths, key: str, upload_id: str) -> None:
        with self._store.write(paths.index) as db:
            _read_upload(db, key, upload_id)
            db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(paths.upload_dir(upload_id), ignore_errors=True)

    def list_parts(
        self, paths: BucketPaths, key: str, upload_id: str, *, max_parts: int, marker: int
    ) -> PartsPage:
        max_parts = max(max_parts, 0)  # max-parts=0: an empty page, not a truncated one
        with self._store.read(paths.index, snapshot=True) as db:
            options = _read_upload(db, key, upload_id)
            if max_parts == 0:
                return PartsPage([], is_truncated=False, storage_class=_storage_class(options))
            rows = db.execute(
                "SELECT part_number, etag, size, last_modified, checksums FROM parts "
                "WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
                (upload_id, marker, max_parts + 1),
            ).fetchall()
        truncated = len(rows) > max_parts
        parts = [
            PartInfo(number, etag, size, from_ms(modified), json.loads(checksums))
            for number, etag, size, modified, checksums in rows[:max_parts]
        ]
        return PartsPage(
            parts,
            is_truncated=truncated,
            next_part_number_marker=parts[-1].part_number if parts else None,
            storage_class=_storage_class(options),
        )

    def list_uploads(
        self, paths: BucketPaths, *, prefix: str, delimiter: str | None, key_marker: str | None,
        upload_id_marker: str | None, max_uploads: int,
    ) -> UploadsPage:  # fmt: skip
        with self._store.read(paths.index, snapshot=True) as db:
            return list_uploads_page(
                db,
                prefix=prefix,
                delimiter=delimiter,
                key_marker=key_marker,
                upload_id_marker=upload_id_marker,
                max_uploads=max_uploads,
            )


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's multipart ETag: MD5 of the concatenated binary part MD5s, then `-<part count>`."""
    joined = b"".join(bytes.fromhex(bare_etag(etag)) for etag in part_etags)
    return f'"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(part_etags)}"'


def _read_upload(db: sqlite3.Connection, key: str, upload_id: str) -> PutOptions:
    # The upload id arrives from the client and names a directory: only our own format passes.
    if not is_random_name(upload_id):
        raise no_such_upload()
    found = db.execute(
        "SELECT key, options FROM uploads WHERE upload_id = ?", (upload_id,)
    ).fetchone()
    if found is None or found[0] != key:
        raise no_such_upload()
    return options_from_json(found[1])


def _stored_parts(db: sqlite3.Connection, upload_id: str) -> dict[int, _StoredPart]:
    rows = db.execute(
        "SELECT part_number, blob, size, etag, checksums FROM parts WHERE upload_id = ?",
        (upload_id,),
    )
    return {
        number: _StoredPart(number, blob, size, etag, json.loads(checksums))
        for number, blob, size, etag, checksums in rows
    }


def _choose_parts(
    parts: Sequence[CompletedPart], stored: Mapping[int, _StoredPart], min_part_size: int
) -> list[_StoredPart]:
    """Validate a CompleteMultipartUpload part list in S3's order of checks."""
    previous = 0
    for part in parts:
        if part.part_number <= previous:
            raise UpstreamError("InvalidPartOrder", 400)
        previous = part.part_number
    chosen: list[_StoredPart] = []
    for part in parts:
        found = stored.get(part.part_number)
        if found is None or bare_etag(found.etag) != bare_etag(part.etag):
            raise UpstreamError("InvalidPart", 400)
        for algorithm, value in part.checksums.items():
            known = found.checksums.get(algorithm.upper())
            if known is not None and known != value:
                raise UpstreamError("InvalidPart", 400)
        chosen.append(found)
    # Every part but the last must be at least 5 MiB (S3 multipart limits).
    if any(p.size < min_part_size for p in chosen[:-1]):
        raise UpstreamError("EntityTooSmall", 400)
    return chosen


def _object_checksum(
    options: PutOptions, chosen: list[_StoredPart], spooled: Spooled
) -> tuple[dict[str, str], str | None]:
    # An upload created with CRC32/CRC32C/SHA* gets S3's COMPOSITE checksum when every part has
    # one; otherwise the full-object CRC64NVME S3 attaches by default (always FULL_OBJECT).
    algorithm = (options.checksum_algorithm or "").upper()
    if algorithm and algorithm != DEFAULT_CHECKSUM:
        values = [p.checksums.get(algorithm) for p in chosen]
        if all(values):
            return {algorithm: composite_checksum(algorithm, [v for v in values if v])}, "COMPOSITE"
    if spooled.checksum is None:
        return {}, None
    return {DEFAULT_CHECKSUM: spooled.checksum}, "FULL_OBJECT"


def _storage_class(options: PutOptions) -> str:
    return ObjectMeta.from_options(options).storage_class


def _open_part(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise no_such_upload() from None  # aborted while we were assembling
