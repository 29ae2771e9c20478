"""ListObjects pages from the listing-page cache (`cache.list_cache`), per node.

A page is cached under (prefix, delimiter, start-after, max-keys) of its PBucket for as long as
the PBucket's cache rules let metadata be trusted (`PolicyBook.listing_freshness`: the rule of
the listed prefix, or a stricter one for a prefix under it):

- `max-age=N`: N seconds;
- `revalidate`: never cached, every listing asks the vendor;
- `immutable`: the node's default `[cache] max_age`. Immutable objects never change, but keys
  still appear (new objects) and an out-of-band write would otherwise never be listed.

Writes, copies, deletes, multipart completions, lifecycle expiries and PBucket changes through
any node drop every cached page of the PBucket on every node (the meta cache's invalidation
channel and the router's change channel, wired in `gateway.server`), so a listing after a write
through PCache shows it. Out-of-band vendor changes show once the page's time is up.

Concurrent identical misses share one vendor listing (single-flight), but only among callers
that arrived with no invalidation in between: a listing asked after a write never joins one
that began before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.cache_policy import FreshnessMode
from gateway.cache_read import CacheService
from router.models import ListPage
from router.pbucket import PBucket

__all__ = ["cached_list", "listing_ttl"]


def listing_ttl(cache: CacheService, pbucket: str, prefix: str) -> float:
    """Seconds a listing of `prefix` in `pbucket` may be served from this node's cache."""
    assert cache.policies is not None  # set in CacheService.__post_init__
    freshness = cache.policies.listing_freshness(pbucket, prefix)
    if freshness.mode is FreshnessMode.IMMUTABLE:
        return cache.settings.max_age
    return freshness.max_age


async def cached_list(
    cache: CacheService,
    record: PBucket,
    *,
    prefix: str,
    delimiter: str | None,
    start_after: str | None,
    max_keys: int,
    fetch: Callable[[], Awaitable[ListPage]],
) -> tuple[ListPage, str]:
    """The page, and "hit", "miss" or "bypass" (not cacheable: asked the vendor)."""
    pbucket = record.name
    ttl = listing_ttl(cache, pbucket, prefix)
    if ttl <= 0:
        cache.lists_bypassed += 1
        return await fetch(), "bypass"
    request: tuple[object, ...] = (prefix, delimiter, start_after, max_keys)
    lists = cache.lists
    page = lists.get(pbucket, request, record)
    if page is not None:
        return page, "hit"
    generation = lists.generation(pbucket)

    async def fill() -> ListPage:
        page = await fetch()
        weight = len(page.entries) + len(page.common_prefixes)
        lists.put(pbucket, request, page, tag=record, ttl=ttl, weight=weight, generation=generation)
        return page

    return await cache.list_flights.run((pbucket, request, generation), fill), "miss"
