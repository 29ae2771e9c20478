"""Listing-page cache: whole ListObjects pages, per process, bounded, dropped per PBucket.

A page is an opaque value to this module (the gateway stores its `ListPage`s); it is keyed by
a scope (the PBucket name) and a hashable request key (prefix, delimiter, start-after, max-keys),
and carries:

- `tag`: what the page was listed against (the gateway passes the PBucket record). A lookup
  with another tag misses, so a PBucket deleted and created again, or given other targets,
  never answers from pages of its former self.
- an expiry (monotonic clock): the caller picks the time to live from the freshness rules.
- a `weight` (the names the page holds): the cache keeps at most `max_entries` pages and at
  most `max_weight` names in all, evicting least recently used pages first.

Invalidation is per scope: `drop(scope)` forgets every page of that PBucket (a write, copy or
delete of any of its keys changes some listing, and finding which pages is not worth it);
`clear()` forgets everything (the invalidation channel was lost, so messages may have been
missed).

Race: a listing that began before an invalidation may carry the old state. `generation(scope)`,
read before the vendor is asked, is handed back to `put`, which stores nothing if the scope was
dropped (or the cache cleared) meanwhile. Generations come from one counter: each drop stamps
the scope with the next value, a clear raises the floor every scope starts from. Stamps are
kept for at most `max_scopes` scopes; past that they are forgotten by raising the floor, which
only costs in-flight listings their store.

One instance belongs to one event loop and is not thread-safe.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ListCache"]

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    tag: object
    expires: float
    weight: int


class ListCache(Generic[V]):
    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_weight: int = 100_000,
        max_scopes: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._max_scopes = max_scopes
        self._clock = clock
        self._pages: OrderedDict[tuple[str, Hashable], _Entry[V]] = OrderedDict()
        self._by_scope: dict[str, set[Hashable]] = {}
        self._weight = 0
        self._counter = 0
        self._floor = 0
        self._stamps: dict[str, int] = {}
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def weight(self) -> int:
        """Names held by every cached page together."""
        return self._weight

    def generation(self, scope: str) -> int:
        """Changes whenever `scope` is dropped or the cache cleared; read it before listing."""
        return max(self._floor, self._stamps.get(scope, 0))

    def get(self, scope: str, key: Hashable, tag: object) -> V | None:
        name = (scope, key)
        entry = self._pages.get(name)
        if entry is not None:
            if entry.expires > self._clock() and (entry.tag is tag or entry.tag == tag):
                self._pages.move_to_end(name)
                self.hits += 1
                return entry.value
            self._remove(name)
        self.misses += 1
        return None

    def put(
        self,
        scope: str,
        key: Hashable,
        value: V,
        *,
        tag: object,
        ttl: float,
        weight: int,
        generation: int,
    ) -> bool:
        """Keep `value` for `ttl` seconds, unless `scope` changed since `generation` was read
        or the page alone is heavier than the whole cache; True if it was stored."""
        if ttl <= 0 or generation != self.generation(scope):
            return False
        weight = max(1, weight)
        if weight > self.max_weight or self.max_entries <= 0:
            return False
        name = (scope, key)
        if name in self._pages:
            self._remove(name)
        self._pages[name] = _Entry(value, tag, self._clock() + ttl, weight)
        self._by_scope.setdefault(scope, set()).add(key)
        self._weight += weight
        while len(self._pages) > self.max_entries or self._weight > self.max_weight:
            oldest = next(iter(self._pages))
            self._remove(oldest)
            self.evictions += 1
        return True

    def drop(self, scope: str) -> None:
        """Forget every page of `scope`; listings of it in flight will not be stored."""
        self._counter += 1
        if scope not in self._stamps and len(self._stamps) >= self._max_scopes:
            self._stamps.clear()
            self._floor = self._counter
        else:
            self._stamps[scope] = self._counter
        for key in self._by_scope.pop(scope, ()):
            entry = self._pages.pop((scope, key))
            self._weight -= entry.weight

    def clear(self) -> None:
        """Forget every page; no listing in flight will be stored."""
        self._counter += 1
        self._floor = self._counter
        self._stamps.clear()
        self._pages.clear()
        self._by_scope.clear()
        self._weight = 0

    def _remove(self, name: tuple[str, Hashable]) -> None:
        entry = self._pages.pop(name)
        self._weight -= entry.weight
        scope, key = name
        keys = self._by_scope.get(scope)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_scope[scope]
