"""The cache-TTL document (`ttl.cache_ttl`): parsing, limits, the longest prefix wins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ttl.cache_ttl import CacheTtl, CacheTtlRule, parse_cache_ttl


def test_seconds_for__longest_matching_prefix_wins_and_no_rule_is_no_limit() -> None:
    ttl = parse_cache_ttl(
        {
            "rules": [
                {"prefix": "", "seconds": 100},
                {"prefix": "tmp/", "seconds": 5},
                {"prefix": "tmp/keep/", "seconds": 50},
            ]
        }
    )
    assert ttl.seconds_for("data/x") == 100
    assert ttl.seconds_for("tmp/x") == 5
    assert ttl.seconds_for("tmp/keep/x") == 50
    assert CacheTtl((CacheTtlRule("a/", 9),)).seconds_for("b/x") is None


@given(
    st.lists(
        st.tuples(st.text(max_size=6), st.integers(1, 10_000)),
        max_size=8,
        unique_by=lambda r: r[0],
    ),
    st.text(max_size=10),
)
def test_seconds_for__equals_the_rule_with_the_longest_prefix_of_the_key(
    rules: list[tuple[str, int]], key: str
) -> None:
    ttl = parse_cache_ttl({"rules": [{"prefix": p, "seconds": s} for p, s in rules]})
    matching = [(len(p), s) for p, s in rules if key.startswith(p)]
    assert ttl.seconds_for(key) == (max(matching)[1] if matching else None)
    assert parse_cache_ttl(ttl.to_json()) == ttl
