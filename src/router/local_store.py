"""On-disk layout and SQLite index of the local-directory vendor.

    root/buckets.db                                    registry: bucket name, creation time
    root/buckets/<sha256(bucket)>/index.db             objects, uploads, parts (WAL)
    root/buckets/<sha256(bucket)>/blobs/<2 hex>/<32 hex>         object bodies
    root/buckets/<sha256(bucket)>/uploads/<upload id>/<32 hex>   uploaded parts
    root/buckets/<sha256(bucket)>/tmp/<32 hex>.tmp               bodies still being written
    root/tmp/, root/trash/                             buckets being created / deleted

Keys are never paths (security.md §3.2): a key is opaque TEXT in the index, compared byte-wise
(SQLite's BINARY collation over UTF-8), so NFC/NFD, case variants, `a/../b` and `a//b` stay
distinct; every name on disk is a hash or random. Everything here blocks: callers run it in threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from router.errors import UpstreamError
from router.local_blobs import BlobWriter, Checksummer
from router.local_rows import (
    OBJECT_COLUMNS,
    ObjectRow,
    PutGuard,
    Tags,
    from_ms,
    now_ms,
    object_from_sql,
    object_to_sql,
    tags_to_json,
)
from router.models import VendorBucket

__all__ = [
    "INDEX_SCHEMA",
    "BucketPaths",
    "LocalStore",
    "is_random_name",
    "new_writer",
    "no_such_bucket",
    "random_name",
    "read_object",
]

INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY COLLATE BINARY,  -- byte order of UTF-8 = S3 listing order
    blob TEXT NOT NULL,                   -- random file name under blobs/, never the key
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,                   -- quoted, as on the wire
    last_modified INTEGER NOT NULL,       -- Unix epoch milliseconds
    content_type TEXT, content_encoding TEXT, content_disposition TEXT,
    content_language TEXT, cache_control TEXT, expires TEXT,
    user_metadata TEXT NOT NULL,          -- JSON object
    checksums TEXT NOT NULL,              -- JSON object: algorithm -> base64
    checksum_type TEXT,                   -- FULL_OBJECT or COMPOSITE
    tags TEXT NOT NULL,                   -- JSON list of [key, value], in the client's order
    storage_class TEXT NOT NULL,
    parts_count INTEGER,                  -- multipart objects only
    part_sizes TEXT                       -- JSON list, for GET/HEAD ?partNumber=
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    seq INTEGER PRIMARY KEY,              -- creation order, for uploads started in the same ms
    upload_id TEXT NOT NULL UNIQUE,       -- 32 random hex, also the directory under uploads/
    key TEXT NOT NULL COLLATE BINARY,
    initiated INTEGER NOT NULL,           -- Unix epoch milliseconds
    storage_class TEXT NOT NULL,
    options TEXT NOT NULL                 -- JSON of the PutOptions given at creation
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (key, initiated);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
PRAGMA user_version = 1;
"""
_REGISTRY_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created INTEGER NOT NULL);
"""
_RANDOM_NAME = re.compile(r"[0-9a-f]{32}\Z")
_POOL_IDLE_MAX = 8
_BUSY_TIMEOUT_S = 30.0
_LEFTOVER_AGE_S = 3600.0
_OPEN_ATTEMPTS = 8
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def random_name() -> str:
    return secrets.token_hex(16)


def is_random_name(name: str) -> bool:
    return _RANDOM_NAME.match(name) is not None


def no_such_bucket() -> UpstreamError:
    return UpstreamError("NoSuchBucket", 404)


@dataclass(frozen=True, slots=True)
class BucketPaths:
    """Where one vendor bucket lives; every path is built from hashes or random names only."""

    dir: Path

    @property
    def index(self) -> Path:
        return self.dir / "index.db"

    @property
    def tmp(self) -> Path:
        return self.dir / "tmp"

    def blob(self, name: str) -> Path:
        return self.dir / "blobs" / name[:2] / _checked(name)

    def upload_dir(self, upload_id: str) -> Path:
        return self.dir / "uploads" / _checked(upload_id)

    def part(self, upload_id: str, name: str) -> Path:
        return self.upload_dir(upload_id) / _checked(name)

    def new_tmp(self) -> Path:
        return self.tmp / f"{random_name()}.tmp"


def _checked(name: str) -> str:
    # Names come from our own index, but a path is only ever built from a 32-hex name.
    if not is_random_name(name):
        raise UpstreamError("InternalError", 500)
    return name


class _Lease:
    def __init__(self, db: sqlite3.Connection, inode: int):
        self.db = db
        self.inode = inode


class _Pool:
    """Idle connections per database file: opening one costs ~0.5 ms, reusing one nothing.

    A connection remembers the inode it opened; a file deleted or replaced since (bucket deleted,
    maybe re-created by another process) is detected by `stat` and the stale connection dropped.
    """

    def __init__(self) -> None:
        self._idle: dict[Path, list[_Lease]] = {}
        self._lock = threading.Lock()

    def acquire(self, path: Path) -> _Lease:
        try:
            inode = os.stat(path).st_ino
        except FileNotFoundError:
            self.drop(path)
            raise no_such_bucket() from None
        with self._lock:
            idle = self._idle.get(path, [])
            while idle:
                lease = idle.pop()
                if lease.inode == inode:
                    return lease
                lease.db.close()
        uri = f"{path.as_uri()}?mode=rw"  # mode=rw: never create a missing index by accident
        try:
            db = sqlite3.connect(
                uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
        except sqlite3.OperationalError:
            if not path.exists():  # deleted between the stat and the open
                raise no_such_bucket() from None
            raise
        # WAL + NORMAL survives a process crash; a power loss may drop the last commits (dev use).
        db.execute("PRAGMA synchronous = NORMAL")
        return _Lease(db, inode)

    def release(self, path: Path, lease: _Lease) -> None:
        if lease.db.in_transaction:
            lease.db.execute("ROLLBACK")
        with self._lock:
            idle = self._idle.setdefault(path, [])
            if len(idle) < _POOL_IDLE_MAX:
                idle.append(lease)
                return
        lease.db.close()

    def drop(self, path: Path) -> None:
        with self._lock:
            idle = self._idle.pop(path, [])
        for lease in idle:
            lease.db.close()

    def close_all(self) -> None:
        with self._lock:
            everything, self._idle = self._idle, {}
        for idle in everything.values():
            for lease in idle:
                lease.db.close()


class LocalStore:
    """The registry, the per-bucket indexes and the object-row transactions of one vendor root."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self._registry = self.root / "buckets.db"
        self._pool = _Pool()
        self._ready = threading.Event()
        self._ready_lock = threading.Lock()

    def close(self) -> None:
        self._pool.close_all()

    def bucket(self, name: str) -> BucketPaths:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        return BucketPaths(self.root / "buckets" / digest)

    # -- connections ----------------------------------------------------------------------
    @contextmanager
    def read(self, db_path: Path, *, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for reads; `snapshot` wraps them in one transaction (several queries)."""
        self._ensure_root()
        lease = self._pool.acquire(db_path)
        try:
            if snapshot:
                lease.db.execute("BEGIN")
            yield lease.db
        finally:
            self._pool.release(db_path, lease)

    @contextmanager
    def write(self, db_path: Path) -> Iterator[sqlite3.Connection]:
        """A write transaction holding SQLite's write lock from the start (BEGIN IMMEDIATE), so a
        read-then-write never fails to upgrade; committed when the block exits cleanly."""
        self._ensure_root()
        lease = self._pool.acquire(db_path)
        try:
            lease.db.execute("BEGIN IMMEDIATE")
            # A bucket deleted while we waited for the lock took its index away with it.
            if _inode(db_path) != lease.inode:
                raise no_such_bucket()
            yield lease.db
            lease.db.execute("COMMIT")
        finally:
            self._pool.release(db_path, lease)

    # -- root and registry ----------------------------------------------------------------
    def _ensure_root(self) -> None:
        if self._ready.is_set():
            return
        with self._ready_lock:
            if self._ready.is_set():
                return
            for sub in ("buckets", "tmp", "trash"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._registry, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(_REGISTRY_SCHEMA)
            finally:
                db.close()
            self._sweep_leftovers()
            self._ready.set()

    def _sweep_leftovers(self) -> None:
        """Remove what crashed writers and half-done bucket creates/deletes left behind.

        Only entries older than an hour: another process sharing this root may be writing now.
        """
        cutoff = time.time() - _LEFTOVER_AGE_S
        leftovers = [
            *(self.root / "tmp").iterdir(),
            *(self.root / "trash").iterdir(),
            *self.root.glob("buckets/*/tmp/*.tmp"),
        ]
        for leftover in leftovers:
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime >= cutoff:
                    continue
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()

    def list_buckets(self) -> list[VendorBucket]:
        with self.read(self._registry) as db:
            rows = db.execute("SELECT name, created FROM buckets ORDER BY name").fetchall()
        return [VendorBucket(name, from_ms(created)) for name, created in rows]

    def create_bucket(self, name: str) -> None:
        paths = self.bucket(name)
        with self.write(self._registry) as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise UpstreamError("BucketAlreadyOwnedByYou", 409)
            if paths.dir.exists():  # left by a crash between rename and registry commit
                os.rename(paths.dir, self.root / "trash" / random_name())
            # Built aside and renamed in, so a bucket directory is never seen half made.
            staging = self.root / "tmp" / random_name()
            for sub in ("blobs", "uploads", "tmp"):
                (staging / sub).mkdir(parents=True)
            _init_index(staging / "index.db")
            os.rename(staging, paths.dir)
            db.execute("INSERT INTO buckets (name, created) VALUES (?, ?)", (name, now_ms()))

    def head_bucket(self, name: str) -> None:
        self.require(self.bucket(name))

    def require(self, paths: BucketPaths) -> None:
        self._ensure_root()
        if not paths.index.exists():
            raise no_such_bucket()

    def delete_bucket(self, name: str) -> None:
        paths = self.bucket(name)
        trash = self.root / "trash" / random_name()
        # Holding the index's write lock keeps writers out until the directory has moved away.
        with self.write(paths.index) as db:
            for table in ("objects", "uploads"):
                if db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():  # noqa: S608
                    raise UpstreamError("BucketNotEmpty", 409)
            with self.write(self._registry) as registry:
                registry.execute("DELETE FROM buckets WHERE name = ?", (name,))
                os.rename(paths.dir, trash)
        self._pool.drop(paths.index)
        shutil.rmtree(trash, ignore_errors=True)

    # -- object rows ----------------------------------------------------------------------
    def get_object(self, paths: BucketPaths, key: str) -> ObjectRow | None:
        with self.read(paths.index) as db:
            return read_object(db, key)

    def install_object(
        self,
        paths: BucketPaths,
        row: ObjectRow,
        staged: Path,
        *,
        guard: PutGuard | None = None,
        within: Callable[[sqlite3.Connection], None] | None = None,
    ) -> ObjectRow:
        """Move a fully written temp file in as `row.blob` and upsert the row, atomically.

        The rename happens inside the transaction, so on any failure neither the row nor the file
        changes; the replaced blob is unlinked only after commit (readers holding it open keep
        reading). `within` runs extra checks and statements in the same transaction.
        """
        dest = paths.blob(row.blob)
        placed = False
        try:
            with self.write(paths.index) as db:
                old = read_object(db, row.key)
                if guard is not None:
                    guard.check(old)
                if within is not None:
                    within(db)
                dest.parent.mkdir(exist_ok=True)
                os.rename(staged, dest)
                placed = True
                row = row.with_last_modified(now_ms())
                db.execute(_UPSERT_OBJECT, object_to_sql(row))
        except BaseException:
            staged.unlink(missing_ok=True)
            if placed:
                dest.unlink(missing_ok=True)
            raise
        if old is not None:
            paths.blob(old.blob).unlink(missing_ok=True)
        return row

    def open_object(self, paths: BucketPaths, key: str) -> tuple[ObjectRow, int]:
        """The current row of `key` and an open descriptor on its blob, consistent with each other.

        An overwrite may unlink the blob between the index read and the open; then the newer row is
        read and opened instead. Once open, the descriptor outlives any later unlink.
        """
        for _ in range(_OPEN_ATTEMPTS):
            row = self.get_object(paths, key)
            if row is None:
                raise UpstreamError("NoSuchKey", 404)
            try:
                return row, os.open(paths.blob(row.blob), os.O_RDONLY | _O_CLOEXEC)
            except FileNotFoundError:
                continue
        raise UpstreamError("InternalError", 500)  # the index points at a blob that is gone

    def delete_object(self, paths: BucketPaths, key: str) -> None:
        with self.write(paths.index) as db:
            old = read_object(db, key)
            if old is not None:
                db.execute("DELETE FROM objects WHERE key = ?", (key,))
        if old is not None:
            paths.blob(old.blob).unlink(missing_ok=True)

    def set_tags(self, paths: BucketPaths, key: str, tags: Tags) -> None:
        with self.write(paths.index) as db:
            if read_object(db, key) is None:
                raise UpstreamError("NoSuchKey", 404)
            db.execute("UPDATE objects SET tags = ? WHERE key = ?", (tags_to_json(tags), key))


_UPSERT_OBJECT = (
    f"INSERT OR REPLACE INTO objects ({', '.join(OBJECT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in OBJECT_COLUMNS)})"
)
_SELECT_OBJECT = f"SELECT {', '.join(OBJECT_COLUMNS)} FROM objects WHERE key = ?"  # noqa: S608


def read_object(db: sqlite3.Connection, key: str) -> ObjectRow | None:
    found = db.execute(_SELECT_OBJECT, (key,)).fetchone()
    return None if found is None else object_from_sql(found)


def new_writer(
    paths: BucketPaths, checksum: Checksummer | None = None, *, md5: bool = True
) -> BlobWriter:
    """A fresh temp file in the bucket's tmp/ (a missing directory means a missing bucket)."""
    try:
        return BlobWriter.create(paths.new_tmp(), checksum, md5=md5)
    except FileNotFoundError:
        raise no_such_bucket() from None


def _init_index(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(INDEX_SCHEMA)
    finally:
        db.close()


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None
