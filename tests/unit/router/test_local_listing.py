"""Listing on the local-directory vendor: prefix / delimiter roll-up, pagination markers and key
order, checked against a naive model of S3 with hypothesis."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.local_listing import list_objects_page, prefix_upper_bound
from router.local_rows import ObjectMeta, ObjectRow, object_to_sql
from router.local_store import INDEX_SCHEMA
from router.local_upstream import LocalUpstream
from router.models import ListPage
from tests.unit.router._local import BUCKET, put, vendor

__all__ = ["vendor"]

Item = tuple[str, str]  # ("key" | "prefix", value)


def s3_order(keys: set[str] | list[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def model(keys: set[str], prefix: str, delimiter: str | None) -> list[Item]:
    """S3's listing, written the slow obvious way."""
    out: list[Item] = []
    for key in s3_order(keys):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            rolled = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if ("prefix", rolled) not in out:
                out.append(("prefix", rolled))
        else:
            out.append(("key", key))
    return out


def page_items(page: ListPage) -> list[Item]:
    items = [("key", e.key) for e in page.entries] + [("prefix", p) for p in page.common_prefixes]
    return sorted(items, key=lambda item: item[1].encode("utf-8"))


def index_with(keys: set[str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(INDEX_SCHEMA)
    for key in keys:
        row = ObjectRow(key, "0" * 32, len(key), '"e"', 0, ObjectMeta())
        db.execute(f"INSERT INTO objects VALUES ({', '.join('?' * 18)})", object_to_sql(row))  # noqa: S608
    return db


def paginate(
    db: sqlite3.Connection, prefix: str, delimiter: str | None, max_keys: int
) -> Iterator[ListPage]:
    start_after: str | None = None
    for _ in range(10_000):
        page = list_objects_page(
            db, prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=start_after
        )
        yield page
        if not page.is_truncated:
            return
        assert page.next_start_after is not None
        start_after = page.next_start_after
    raise AssertionError("pagination did not end")


def check_pages(keys: set[str], prefix: str, delimiter: str | None, max_keys: int) -> None:
    db = index_with(keys)
    collected: list[Item] = []
    for page in paginate(db, prefix, delimiter, max_keys):
        items = page_items(page)
        assert len(items) <= max_keys
        if page.is_truncated:
            assert len(items) == max_keys  # S3 fills a page before truncating
            assert page.next_start_after == items[-1][1]
        collected += items
    assert collected == model(keys, prefix, delimiter)


ALPHABET = "ab/é\uffff\U00010000"
_keys = st.sets(st.text(alphabet=ALPHABET, min_size=1, max_size=6), max_size=40)


@given(
    keys=_keys,
    prefix=st.text(alphabet=ALPHABET, max_size=2),
    delimiter=st.sampled_from([None, "/", "b", "ab", "\uffff"]),
    max_keys=st.integers(1, 6),
)
def test_list_objects__pages_concatenate_to_model(
    keys: set[str], prefix: str, delimiter: str | None, max_keys: int
) -> None:
    check_pages(keys, prefix, delimiter, max_keys)


TWO_HUNDRED = {
    f"{d}/{s}/{n:03d}" for d in ("alpha", "beta", "gamma", "é") for s in "xyz" for n in range(15)
}
TWO_HUNDRED |= {f"top-{n:02d}" for n in range(20)}
assert len(TWO_HUNDRED) == 200


@settings(max_examples=60)
@given(
    max_keys=st.integers(1, 250),
    prefix=st.sampled_from(["", "alpha/", "beta", "é/y/", "top-1", "zzz"]),
    delimiter=st.sampled_from([None, "/", "-"]),
)
def test_list_objects__200_keys_random_page_sizes(
    max_keys: int, prefix: str, delimiter: str | None
) -> None:
    check_pages(TWO_HUNDRED, prefix, delimiter, max_keys)


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [
        ("", None),
        ("a", "b"),
        ("a/", "a0"),
        ("\ud7ff", "\ue000"),  # never a surrogate: those cannot be stored as UTF-8
        ("a\U0010ffff", "b"),
        ("\U0010ffff", None),
    ],
)
def test_prefix_upper_bound(prefix: str, bound: str | None) -> None:
    assert prefix_upper_bound(prefix) == bound


def test_list_objects__markers_and_edges() -> None:
    db = index_with({"a", "b/1", "b/2", "c"})

    def listing(**kwargs: Any) -> ListPage:
        args: dict[str, Any] = {"prefix": "", "delimiter": "/", "max_keys": 1000}
        args.update(kwargs)
        args.setdefault("start_after", None)
        return list_objects_page(db, **args)

    empty = listing(max_keys=0)
    assert (empty.entries, empty.common_prefixes, empty.is_truncated) == ([], [], False)
    # A marker that is a returned common prefix resumes after everything under it.
    after_prefix = listing(start_after="b/")
    assert [e.key for e in after_prefix.entries] == ["c"] and after_prefix.common_prefixes == []
    # A marker inside a prefix still shows the rest of it as that prefix.
    inside = listing(start_after="b/1")
    assert inside.common_prefixes == ["b/"]
    # A marker before the prefix starts at the prefix; one past it gives nothing.
    assert [e.key for e in listing(prefix="b/", start_after="a").entries] == ["b/1", "b/2"]
    assert listing(prefix="b/", start_after="c").entries == []
    whole = listing(delimiter=None, max_keys=4)
    assert (whole.is_truncated, whole.next_start_after) == (False, "c")


async def test_list_objects__through_vendor(vendor: LocalUpstream) -> None:
    keys = {f"dir{d}/file{n}" for d in range(3) for n in range(5)} | {"é", "z", "\U0001f600"}
    for key in keys:
        await put(vendor, key, key.encode())
    rng = random.Random(7)
    seen: list[str] = []
    start_after: str | None = None
    while True:
        page = await vendor.list_objects(
            BUCKET, delimiter="/", max_keys=rng.randint(1, 3), start_after=start_after
        )
        seen += [e.key for e in page.entries] + page.common_prefixes
        if not page.is_truncated:
            break
        start_after = page.next_start_after
    assert seen == ["dir0/", "dir1/", "dir2/", "z", "é", "\U0001f600"]
    flat = await vendor.list_objects(BUCKET, prefix="dir1/")
    assert [e.key for e in flat.entries] == [f"dir1/file{n}" for n in range(5)]
    entry = flat.entries[0]
    assert (entry.size, entry.storage_class) == (len(b"dir1/file0"), "STANDARD")
    assert entry.last_modified.microsecond == 0
