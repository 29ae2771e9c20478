"""Fill a local-directory vendor bucket with many objects fast: one object written through the
vendor, then its index row copied under other keys in one SQLite transaction (~1 s for 100,000
rows, against minutes through PutObject). The copies point at blob names that do not exist:
listing, HEAD-free lifecycle decisions and DeleteObject work; reading their bodies does not."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from router.local_store import LocalStore, random_name
from router.local_upstream import LocalUpstream
from router.models import PutOptions

__all__ = ["seed_rows"]


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_rows(
    vendor: LocalUpstream,
    root: Path,
    bucket: str,
    keys: Iterable[str],
    *,
    size: int = 1,
    modified_ms: int | None = None,
) -> int:
    """Write `keys` (each `size` bytes, Last-Modified `modified_ms` if given); returns the
    number of rows."""
    template = "\x00seed-template"
    await vendor.put_object(bucket, template, _body(b"x" * size), size, PutOptions())
    index = LocalStore(root).bucket(bucket).index
    db = sqlite3.connect(index)
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(objects)")]
        row = dict(
            zip(columns, db.execute("SELECT * FROM objects WHERE key = ?", (template,)).fetchone(),
                strict=True)
        )  # fmt: skip
        if modified_ms is not None:
            row["last_modified"] = modified_ms
        marks = ",".join("?" * len(columns))

        def rows() -> Iterable[list[object]]:
            for key in keys:
                row["key"], row["blob"] = key, random_name()
                yield [row[c] for c in columns]

        with db:
            db.executemany(f"INSERT OR REPLACE INTO objects VALUES ({marks})", rows())  # noqa: S608
            db.execute("DELETE FROM objects WHERE key = ?", (template,))
        (count,) = db.execute("SELECT COUNT(*) FROM objects").fetchone()
    finally:
        db.close()
    return int(count)
