"""Per PBucket and key prefix cache behaviour: freshness mode, write mode and block size.

Rules come from `[[cache.rule]]` in the config; each names a PBucket and optionally a key prefix
and sets any of the three. For an object, each setting comes from the longest matching prefix
rule that sets it, then the PBucket's own rule, then the node's `[cache]` defaults, so a rule
for `models/` can make that prefix immutable while the PBucket keeps its block size.

Freshness (how long cached metadata is used without asking the vendor):
- `immutable`: forever (until a write through PCache invalidates it, or the Redis entry ages
  out). For data that is never overwritten in place: datasets, model checkpoints.
- `max-age=N`: N seconds; past them one conditional HEAD revalidates (an unchanged ETag keeps
  every cached block).
- `revalidate`: a conditional HEAD on every read (the blocks are still served from the cache).

Listings follow the same rules (`listing_freshness`, used by `gateway.cache_list`).

Write mode: `through` (a PutObject's bytes are cached as they go to the vendor, admitted once
the vendor has acknowledged) or `around` (a write only invalidates).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Freshness",
    "FreshnessMode",
    "ObjectPolicy",
    "PolicyBook",
    "Rule",
    "WriteMode",
    "parse_freshness",
]


class FreshnessMode(enum.Enum):
    IMMUTABLE = "immutable"
    MAX_AGE = "max-age"
    REVALIDATE = "revalidate"


class WriteMode(enum.Enum):
    THROUGH = "through"
    AROUND = "around"


@dataclass(frozen=True, slots=True)
class Freshness:
    mode: FreshnessMode
    seconds: float = 0.0

    @property
    def max_age(self) -> float:
        """Seconds cached metadata may be used without asking the vendor."""
        if self.mode is FreshnessMode.IMMUTABLE:
            return math.inf
        if self.mode is FreshnessMode.REVALIDATE:
            return 0.0
        return self.seconds

    def __str__(self) -> str:
        if self.mode is FreshnessMode.MAX_AGE:
            return f"max-age={self.seconds:g}"
        return str(self.mode.value)


def parse_freshness(text: str) -> Freshness:
    """`immutable`, `revalidate` or `max-age=N` (N >= 0 seconds); ValueError otherwise."""
    value = text.strip().lower()
    if value == "immutable":
        return Freshness(FreshnessMode.IMMUTABLE)
    if value == "revalidate":
        return Freshness(FreshnessMode.REVALIDATE)
    name, sep, number = value.partition("=")
    if name == "max-age" and sep:
        try:
            seconds = float(number)
        except ValueError:
            seconds = -1.0
        if math.isfinite(seconds) and seconds >= 0:
            return Freshness(FreshnessMode.MAX_AGE, seconds)
    raise ValueError(f"expected immutable, revalidate or max-age=<seconds>, got {text!r}")


@dataclass(frozen=True, slots=True)
class Rule:
    pbucket: str
    prefix: str = ""
    freshness: Freshness | None = None
    write_mode: WriteMode | None = None
    block_size: int | None = None


@dataclass(frozen=True, slots=True)
class ObjectPolicy:
    freshness: Freshness
    write_mode: WriteMode
    block_size: int


class PolicyBook:
    """The rules, indexed by PBucket, longest prefix first."""

    def __init__(self, defaults: ObjectPolicy, rules: Iterable[Rule] = ()) -> None:
        self.defaults = defaults
        self._by_pbucket: dict[str, list[Rule]] = {}
        for rule in rules:
            self._by_pbucket.setdefault(rule.pbucket, []).append(rule)
        for listed in self._by_pbucket.values():
            listed.sort(key=lambda r: len(r.prefix), reverse=True)

    def lookup(self, pbucket: str, key: str) -> ObjectPolicy:
        rules = self._by_pbucket.get(pbucket)
        if not rules:
            return self.defaults
        freshness = write_mode = block_size = None
        for rule in rules:
            if not key.startswith(rule.prefix):
                continue
            freshness = freshness or rule.freshness
            write_mode = write_mode or rule.write_mode
            block_size = block_size or rule.block_size
        return ObjectPolicy(
            freshness or self.defaults.freshness,
            write_mode or self.defaults.write_mode,
            block_size or self.defaults.block_size,
        )

    def listing_freshness(self, pbucket: str, prefix: str) -> Freshness:
        """The freshness of a listing of `prefix`: the rule its keys get (as `lookup`), unless
        a rule for a longer prefix under it is stricter (the listing shows those keys too)."""
        freshness = self.lookup(pbucket, prefix).freshness
        for rule in self._by_pbucket.get(pbucket, ()):
            if (
                rule.freshness is not None
                and rule.prefix.startswith(prefix)
                and rule.freshness.max_age < freshness.max_age
            ):
                freshness = rule.freshness
        return freshness

    def block_size(self, pbucket: str) -> int:
        """A PBucket's block size (set only at PBucket level: see the config check)."""
        return self.lookup(pbucket, "").block_size
