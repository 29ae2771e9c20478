"""Rules a PBucket's target list must follow, shared by the config loader and the admin API.

Pure: works on anything with `vendor`, `bucket` and `prefix` (config targets, `TargetSpec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["TargetLike", "first_overlap", "overlap"]


class TargetLike(Protocol):
    @property
    def vendor(self) -> str: ...

    @property
    def bucket(self) -> str: ...

    @property
    def prefix(self) -> str: ...


def overlap(a: TargetLike, b: TargetLike) -> bool:
    """Two targets that could hold the same vendor key: listings would show it twice and
    placement could write it through one target and delete it through the other."""
    return (a.vendor, a.bucket) == (b.vendor, b.bucket) and (
        a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    )


def first_overlap(targets: Sequence[TargetLike]) -> tuple[int, int] | None:
    """(earlier, later) indexes of the first overlapping pair in list order, or None."""
    for j, target in enumerate(targets):
        for k in range(j):
            if overlap(target, targets[k]):
                return k, j
    return None
