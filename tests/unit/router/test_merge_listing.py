"""The k-way listing merge against a brute-force model of S3 listing over the union of targets."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from router.merge_listing import merge_object_pages, merge_upload_pages
from router.models import ListEntry, ListPage, UploadInfo, UploadsPage

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _rolled(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def model_list(
    keys: dict[str, str],
    *,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
) -> ListPage:
    """S3 ListObjectsV2 by brute force; `keys` maps key -> etag. A marker that is a rolled-up
    common prefix skips everything under it (what our upstreams do with next_start_after)."""
    skip_under = None
    if start_after is not None and _rolled(start_after, prefix, delimiter) == start_after:
        skip_under = start_after
    items: list[tuple[str, str | None]] = []  # (key or prefix, etag or None for a prefix)
    for key in sorted(keys):
        if not key.startswith(prefix) or (start_after is not None and key <= start_after):
            continue
        if skip_under is not None and key.startswith(skip_under):
            continue
        rolled = _rolled(key, prefix, delimiter)
        if rolled is None:
            items.append((key, keys[key]))
        elif not items or items[-1][0] != rolled:
            items.append((rolled, None))
    page, more = items[:max_keys], len(items) > max_keys
    return ListPage(
        entries=[ListEntry(k, 1, e, T0) for k, e in page if e is not None],
        common_prefixes=[k for k, e in page if e is None],
        is_truncated=more,
        next_start_after=page[-1][0] if more else None,
    )


def _owner_of(n: int):  # type: ignore[no-untyped-def]
    # Any deterministic function of the key will do for the merge; the hash is tested elsewhere.
    return lambda key: sum(map(ord, key)) % n


KEY = st.text(alphabet="ab/c", min_size=1, max_size=5)
TARGETS = st.lists(st.sets(KEY, max_size=25), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    targets=TARGETS,
    prefix=st.sampled_from(["", "a", "a/", "b/c"]),
    delimiter=st.sampled_from([None, "/", "c", "b/"]),
    max_keys=st.integers(1, 7),
    start_after=st.one_of(st.none(), KEY),
)
def test_merge__each_page_equals_the_model_on_the_union(
    targets: list[set[str]],
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
) -> None:
    owner = _owner_of(len(targets))
    # A key on several targets carries the etag of the target that should win: its owner if
    # the owner holds it, else the first target that does.
    union: dict[str, str] = {}
    for key in sorted(set().union(*targets)):
        holders = [i for i, t in enumerate(targets) if key in t]
        union[key] = f"t{owner(key) if owner(key) in holders else holders[0]}"
    marker, pages_seen, seen_items = start_after, 0, []
    while True:
        pages = [
            model_list(
                {k: f"t{i}" for k in t},
                prefix=prefix,
                delimiter=delimiter,
                max_keys=max_keys,
                start_after=marker,
            )
            for i, t in enumerate(targets)
        ]
        merged = merge_object_pages(pages, max_keys, owner)
        expected = model_list(
            union, prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=marker
        )
        assert merged == expected
        seen_items += [e.key for e in merged.entries] + merged.common_prefixes
        pages_seen += 1
        assert pages_seen < 200
        if not merged.is_truncated:
            break
        marker = merged.next_start_after
    # Pagination from the start returns every item of the full listing exactly once.
    full = model_list(
        union, prefix=prefix, delimiter=delimiter, max_keys=10**6, start_after=start_after
    )
    assert sorted(seen_items) == sorted([e.key for e in full.entries] + full.common_prefixes)
    assert len(seen_items) == len(set(seen_items))


def test_merge__common_prefix_on_every_target_is_listed_once_and_counts_once() -> None:
    pages = [
        ListPage([ListEntry("a", 1, "x", T0)], ["d/"], is_truncated=False),
        ListPage([ListEntry("b", 1, "x", T0)], ["d/"], is_truncated=False),
        ListPage([], ["d/", "e/"], is_truncated=False),
    ]
    merged = merge_object_pages(pages, 3, lambda k: 0)
    assert [e.key for e in merged.entries] == ["a", "b"]
    assert merged.common_prefixes == ["d/"]
    assert merged.is_truncated and merged.next_start_after == "d/"


def test_merge__max_keys_zero_is_an_empty_untruncated_page() -> None:
    pages = [ListPage([ListEntry("a", 1, "x", T0)], [], is_truncated=True, next_start_after="a")]
    assert merge_object_pages(pages, 0, lambda k: 0) == ListPage([], [], False)


def _uploads_model(uploads: list[tuple[str, int, str]]) -> list[tuple[str, str]]:
    return [(k, f"{t}.{u}") for k, t, u in sorted(uploads)]


@settings(max_examples=200, deadline=None)
@given(
    per_target=st.lists(
        st.lists(st.tuples(KEY, st.text(alphabet="xyz", min_size=1, max_size=3)), max_size=8),
        min_size=1,
        max_size=3,
    ),
    max_uploads=st.integers(1, 5),
)
def test_merge_uploads__pagination_returns_each_upload_once_in_order(
    per_target: list[list[tuple[str, str]]], max_uploads: int
) -> None:
    # Keys are made distinct per target (an upload is pinned to its key's owner), ids unique.
    targets = [
        sorted({(f"{k}{i}", f"{u}{n}") for n, (k, u) in enumerate(ups)})
        for i, ups in enumerate(per_target)
    ]

    def vendor_page(i: int, key_marker: str | None, id_marker: str | None) -> UploadsPage:
        rows = [
            (k, u)
            for k, u in targets[i]
            if key_marker is None
            or k > key_marker
            or (k == key_marker and id_marker is not None and u > id_marker)
        ]
        page, more = rows[:max_uploads], len(rows) > max_uploads
        return UploadsPage(
            [UploadInfo(k, f"{i}.{u}", T0) for k, u in page],
            [],
            is_truncated=more,
            next_key_marker=page[-1][0] if more else None,
            next_upload_id_marker=f"{i}.{page[-1][1]}" if more else None,
        )

    got: list[tuple[str, str]] = []
    key_marker: str | None = None
    id_marker: str | None = None
    for _ in range(200):
        marked = int(id_marker.split(".")[0]) if id_marker else None
        pages = [
            vendor_page(
                i, key_marker, id_marker.split(".", 1)[1] if id_marker and i == marked else None
            )
            for i in range(len(targets))
        ]
        merged = merge_upload_pages(pages, max_uploads)
        assert len(merged.uploads) <= max_uploads
        got += [(u.key, u.upload_id) for u in merged.uploads]
        if not merged.is_truncated:
            break
        key_marker, id_marker = merged.next_key_marker, merged.next_upload_id_marker
    expected = _uploads_model([(k, i, u) for i, t in enumerate(targets) for k, u in t])
    assert got == expected
