"""Weighted rendezvous (highest-random-weight) hashing: which target owns a key.

Pure and deterministic: every node computes the same owner from the target list alone, with no
shared state. Each target scores every key with `-weight / ln(u)`, `u` a uniform number in (0, 1)
drawn from a stable hash of (target identity, key); the highest score owns the key. A target wins
a share of keys proportional to its weight, and adding a target only moves the keys it now wins
(about weight_new / total_weight of them) — the others keep their owner because their scores do
not change.

The identity is what names a target (vendor, bucket, key prefix), never its position in the list
or its weight, so reordering targets moves nothing and changing one weight moves only the keys
that weight decides.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Candidate", "owner", "ranked", "score", "target_identity"]

_TWO_64 = float(2**64)


@dataclass(frozen=True, slots=True)
class Candidate:
    identity: str
    weight: float = 1.0


def target_identity(vendor: str, bucket: str, prefix: str) -> str:
    """A stable name for one vendor bucket (+ prefix); length-prefixed so no two differ only by
    where the separators fall."""
    return f"{len(vendor)}:{vendor}{len(bucket)}:{bucket}{len(prefix)}:{prefix}"


def _unit(identity: str, key: str) -> float:
    """A uniform number strictly inside (0, 1), from blake2b (stable across processes and
    Python versions, unlike `hash()`)."""
    h = hashlib.blake2b(digest_size=8, person=b"pcache-hrw")
    h.update(identity.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    h.update(key.encode("utf-8", "surrogatepass"))
    # +0.5 keeps u away from 0 and 1, where ln(u) is -inf or 0.
    return (int.from_bytes(h.digest(), "big") + 0.5) / _TWO_64


def score(candidate: Candidate, key: str) -> float:
    return -candidate.weight / math.log(_unit(candidate.identity, key))


def ranked(candidates: Sequence[Candidate], key: str) -> list[int]:
    """Indexes of `candidates`, best first (ties: lower index first, so the order is total)."""
    scores = [score(c, key) for c in candidates]
    return sorted(range(len(candidates)), key=lambda i: (-scores[i], i))


def owner(candidates: Sequence[Candidate], key: str) -> int:
    """Index of the candidate that owns `key`."""
    if not candidates:
        raise ValueError("no candidates")
    best, best_score = 0, score(candidates[0], key)
    for i in range(1, len(candidates)):
        s = score(candidates[i], key)
        if s > best_score:
            best, best_score = i, s
    return best
