"""SIEVE on a small trace whose evictions were worked out by hand from the algorithm."""

from __future__ import annotations

import random

import pytest

from cache.sieve import SievePolicy


def _simulate(trace: str, capacity: int, policy: SievePolicy[str]) -> list[str]:
    """A count-based cache driven by the policy; returns the evictions in order."""
    evicted: list[str] = []
    for key in trace:
        if policy.access(key):
            continue
        if len(policy) >= capacity:
            evicted.append(policy.evict())
        policy.insert(key)
    return evicted


def test_sieve__hand_checked_trace() -> None:
    """Capacity 3, queue written oldest → newest, * = visited, ^ = the hand.

    A B C      A B C          misses fill the queue
    A          A* B C         hit: only the bit is set, A does not move
    D          A B C → A C D  hand starts at the oldest: clears A, evicts B; ^ C
    E          evicts C (unvisited), ^ D                          → A D E
    B          evicts D, ^ E                                      → A E B
    E, A       hits                                               → A* E* B
    F          at E: clear, move; evicts B; ^ wraps (none newer)  → A* E F
    G          from the oldest: clear A, evicts E (cleared at F); ^ F → A F G
    H          evicts F, ^ G                                      → A G H
    """
    policy: SievePolicy[str] = SievePolicy()
    assert _simulate("ABCADEBEAFGH", 3, policy) == ["B", "C", "D", "B", "E", "F"]
    assert list(policy.oldest_first()) == [("A", False), ("G", False), ("H", False)]
    # Removing the key under the hand moves the hand on to the next newer key.
    assert policy.remove("G")
    policy.insert("I")
    policy.access("A")
    assert policy.evict() == "H"
    assert list(policy.oldest_first()) == [("A", True), ("I", False)]


def test_sieve__all_visited_clears_every_bit_then_evicts_the_oldest() -> None:
    policy: SievePolicy[int] = SievePolicy()
    for key in range(4):
        policy.insert(key)
        policy.access(key)
    assert policy.evict() == 0
    assert [visited for _key, visited in policy.oldest_first()] == [False, False, False]


def test_sieve__empty_and_unknown_keys() -> None:
    policy: SievePolicy[int] = SievePolicy()
    with pytest.raises(KeyError):
        policy.evict()
    assert not policy.access(1) and not policy.remove(1)
    policy.insert(1)
    policy.insert(1)  # re-insert is an access, not a duplicate
    assert len(policy) == 1 and list(policy.oldest_first()) == [(1, True)]


def test_sieve__random_operations_keep_the_queue_consistent() -> None:
    rng = random.Random(7)
    policy: SievePolicy[int] = SievePolicy()
    model: set[int] = set()
    for _ in range(5000):
        key = rng.randrange(50)
        roll = rng.random()
        if roll < 0.4:
            policy.insert(key)
            model.add(key)
        elif roll < 0.7:
            assert policy.access(key) == (key in model)
        elif roll < 0.85:
            assert policy.remove(key) == (key in model)
            model.discard(key)
        elif model:
            model.remove(policy.evict())
        assert len(policy) == len(model)
        assert {key for key, _ in policy.oldest_first()} == model
