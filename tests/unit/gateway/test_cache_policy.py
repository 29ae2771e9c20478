"""Cache rules: freshness parsing and which rule answers for a key."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cache_policy import (
    Freshness,
    FreshnessMode,
    ObjectPolicy,
    PolicyBook,
    Rule,
    WriteMode,
    parse_freshness,
)

DEFAULTS = ObjectPolicy(Freshness(FreshnessMode.MAX_AGE, 60.0), WriteMode.THROUGH, 8 << 20)


def test_parse_freshness__the_three_modes() -> None:
    assert parse_freshness("immutable").max_age == math.inf
    assert parse_freshness(" Revalidate ").max_age == 0.0
    assert parse_freshness("max-age=90").max_age == 90.0
    assert parse_freshness("max-age=0").max_age == 0.0
    assert str(parse_freshness("max-age=1.5")) == "max-age=1.5"


@pytest.mark.parametrize(
    "text", ["", "max-age", "max-age=", "max-age=-1", "max-age=nan", "max-age=inf", "forever"]
)
def test_parse_freshness__rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_freshness(text)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_parse_freshness__max_age_round_trips(seconds: float) -> None:
    parsed = parse_freshness(f"max-age={seconds!r}")
    assert parsed.mode is FreshnessMode.MAX_AGE and parsed.max_age == seconds
    assert parse_freshness(str(parsed)).max_age == pytest.approx(seconds, rel=1e-5)


def test_lookup__each_setting_from_the_longest_prefix_that_sets_it() -> None:
    book = PolicyBook(
        DEFAULTS,
        [
            Rule("pb", freshness=parse_freshness("max-age=5"), block_size=1 << 20),
            Rule("pb", "models/", freshness=parse_freshness("immutable")),
            Rule("pb", "models/live/", write_mode=WriteMode.AROUND),
        ],
    )
    live = book.lookup("pb", "models/live/x")
    assert live == ObjectPolicy(parse_freshness("immutable"), WriteMode.AROUND, 1 << 20)
    assert book.lookup("pb", "models/x").freshness.mode is FreshnessMode.IMMUTABLE
    assert book.lookup("pb", "data/x") == ObjectPolicy(
        parse_freshness("max-age=5"), WriteMode.THROUGH, 1 << 20
    )
    assert book.lookup("other", "models/x") == DEFAULTS
    assert book.block_size("pb") == 1 << 20


@given(
    st.lists(st.sampled_from(["", "a", "a/", "a/b", "b"]), unique=True),
    st.text(alphabet="ab/", max_size=6),
)
def test_lookup__agrees_with_a_brute_force_longest_match(prefixes: list[str], key: str) -> None:
    rules = [Rule("pb", p, freshness=Freshness(FreshnessMode.MAX_AGE, len(p))) for p in prefixes]
    matching = [p for p in prefixes if key.startswith(p)]
    want = len(max(matching, key=len)) if matching else 60.0
    assert PolicyBook(DEFAULTS, rules).lookup("pb", key).freshness.max_age == want


def test_listing_freshness__the_listed_prefix_rule_or_a_stricter_one_below_it() -> None:
    immutable = Freshness(FreshnessMode.IMMUTABLE)
    revalidate = Freshness(FreshnessMode.REVALIDATE)
    short = Freshness(FreshnessMode.MAX_AGE, 5.0)
    book = PolicyBook(
        DEFAULTS,
        [
            Rule("pb", "data/", freshness=immutable),
            Rule("pb", "data/live/", freshness=revalidate),
            Rule("pb", "logs/", freshness=short),
            Rule("pb", "blocks/", block_size=1 << 20),  # sets no freshness: ignored here
            Rule("other", "", freshness=revalidate),
        ],
    )
    assert book.listing_freshness("pb", "data/frozen/") == immutable
    assert book.listing_freshness("pb", "data/live/x") == revalidate
    # Listing data/ shows data/live/ keys too: the stricter rule wins.
    assert book.listing_freshness("pb", "data/") == revalidate
    assert book.listing_freshness("pb", "logs/2026") == short
    assert book.listing_freshness("pb", "blocks/") == DEFAULTS.freshness
    assert book.listing_freshness("pb", "") == revalidate  # the whole PBucket holds data/live/
    assert book.listing_freshness("nobody", "") == DEFAULTS.freshness
    assert book.listing_freshness("other", "x") == revalidate


def test_info_doc__round_trips_and_leaves_unset_fields_out() -> None:
    from datetime import UTC, datetime

    from gateway.cache_read import info_from_doc, info_to_doc
    from router.models import ObjectInfo

    moment = datetime(2026, 12, 8, 3, 0, 0, tzinfo=UTC)
    bare = ObjectInfo(key="k", size=3, etag='"e"', last_modified=moment)
    full = ObjectInfo(
        key="k",
        size=3,
        etag='"e"',
        last_modified=moment,
        content_type="text/plain",
        user_metadata={"a": "b"},
        checksums={"CRC32": "AAAAAA=="},
        checksum_type="FULL_OBJECT",
        tag_count=2,
    )
    assert set(info_to_doc(bare)) == {"key", "size", "etag", "last_modified"}
    for info in (bare, full):
        assert info_from_doc(info_to_doc(info)) == info
