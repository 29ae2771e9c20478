"""The listing-page cache: expiry, bounds, per-PBucket drops, tags and the generation race."""

from __future__ import annotations

from cache.list_cache import ListCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(**kw: int) -> tuple[ListCache[str], Clock]:
    clock = Clock()
    return ListCache(clock=clock, **kw), clock


def _put(
    lists: ListCache[str],
    scope: str,
    key: str,
    value: str,
    *,
    ttl: float = 10.0,
    weight: int = 1,
    tag: object = "pb",
    generation: int | None = None,
) -> bool:
    gen = lists.generation(scope) if generation is None else generation
    return lists.put(scope, key, value, tag=tag, ttl=ttl, weight=weight, generation=gen)


def test_list_cache__serves_a_page_until_its_time_is_up() -> None:
    lists, clock = _cache()
    assert lists.get("b", "k", "pb") is None
    assert _put(lists, "b", "k", "page", ttl=5.0)
    clock.now += 4.9
    assert lists.get("b", "k", "pb") == "page"
    clock.now += 0.2
    assert lists.get("b", "k", "pb") is None
    assert len(lists) == 0 and lists.weight == 0  # an expired page is forgotten when met
    assert (lists.hits, lists.misses) == (1, 2)


def test_list_cache__no_ttl_means_not_stored() -> None:
    lists, _ = _cache()
    assert not _put(lists, "b", "k", "page", ttl=0.0)
    assert lists.get("b", "k", "pb") is None


def test_list_cache__another_tag_misses() -> None:
    """The PBucket record the page was listed against: a re-created PBucket is another one."""
    lists, _ = _cache()
    _put(lists, "b", "k", "page", tag=("b", "created-1"))
    assert lists.get("b", "k", ("b", "created-2")) is None
    assert lists.get("b", "k", ("b", "created-1")) is None  # the mismatch dropped it
    _put(lists, "b", "k", "page", tag=("b", "created-1"))
    assert lists.get("b", "k", ("b", "created-1")) == "page"  # equal, not only identical


def test_list_cache__drop_forgets_every_page_of_one_scope_only() -> None:
    lists, _ = _cache()
    for key in ("k1", "k2", "k3"):
        _put(lists, "b", key, "page-" + key, weight=10)
    _put(lists, "other", "k1", "kept", weight=7)
    lists.drop("b")
    assert [lists.get("b", k, "pb") for k in ("k1", "k2", "k3")] == [None, None, None]
    assert lists.get("other", "k1", "pb") == "kept"
    assert (len(lists), lists.weight) == (1, 7)
    lists.clear()
    assert lists.get("other", "k1", "pb") is None
    assert (len(lists), lists.weight) == (0, 0)


def test_list_cache__entry_bound_evicts_least_recently_used() -> None:
    lists, _ = _cache(max_entries=3)
    for key in ("a", "b", "c"):
        _put(lists, "s", key, key)
    assert lists.get("s", "a", "pb") == "a"  # a is now the most recently used
    _put(lists, "s", "d", "d")
    assert lists.get("s", "b", "pb") is None  # b was the least recently used
    assert [lists.get("s", k, "pb") for k in ("a", "c", "d")] == ["a", "c", "d"]
    assert len(lists) == 3 and lists.evictions == 1


def test_list_cache__weight_bound_counts_names_held() -> None:
    lists, _ = _cache(max_weight=2500)
    _put(lists, "s", "p1", "p1", weight=1000)
    _put(lists, "s", "p2", "p2", weight=1000)
    assert lists.weight == 2000
    _put(lists, "s", "p3", "p3", weight=1000)  # 3000 > 2500: the oldest page goes
    assert lists.get("s", "p1", "pb") is None
    assert lists.weight == 2000 and len(lists) == 2
    assert not _put(lists, "s", "huge", "huge", weight=2501)  # heavier than the whole cache
    assert lists.weight == 2000
    _put(lists, "s", "p2", "p2 again", weight=10)  # replacing a page replaces its weight
    assert lists.weight == 1010 and lists.get("s", "p2", "pb") == "p2 again"


def test_list_cache__a_listing_begun_before_a_drop_is_not_stored() -> None:
    lists, _ = _cache()
    before = lists.generation("b")
    other = lists.generation("other")
    lists.drop("b")  # a write landed while the vendor was listing
    assert not _put(lists, "b", "k", "stale", generation=before)
    assert lists.get("b", "k", "pb") is None
    assert _put(lists, "other", "k", "fine", generation=other)  # other scopes unaffected
    assert _put(lists, "b", "k", "fresh")  # a listing begun after the drop is stored


def test_list_cache__a_listing_begun_before_a_clear_is_not_stored() -> None:
    lists, _ = _cache()
    before = {s: lists.generation(s) for s in ("b", "c")}
    lists.drop("c")
    lists.clear()
    assert not _put(lists, "b", "k", "stale", generation=before["b"])
    assert not _put(lists, "c", "k", "stale", generation=before["c"])
    assert _put(lists, "b", "k", "fresh")


def test_list_cache__forgetting_stamps_past_max_scopes_stays_safe() -> None:
    lists, _ = _cache(max_scopes=2)
    begun = lists.generation("b")
    lists.drop("b")
    lists.drop("x")
    lists.drop("y")  # a third scope: stamps are forgotten, the floor rises
    assert not _put(lists, "b", "k", "stale", generation=begun)
    assert _put(lists, "b", "k", "fresh")
    assert lists.generation("b") >= lists.generation("x")
