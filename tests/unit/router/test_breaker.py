"""The circuit breaker's state machine, driven by a fake clock (no sleeps)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.breaker import BreakerSettings, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, rng: float = 0.5, **settings: float) -> CircuitBreaker:
    return CircuitBreaker(BreakerSettings(**settings), clock=clock, rng=lambda: rng)  # type: ignore[arg-type]


def state(b: CircuitBreaker) -> BreakerState:
    """Read through a call, so mypy does not keep narrowing `b.state` across method calls."""
    return b.state


def fail(b: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        ticket = b.allow()
        assert ticket is not None
        b.failure(ticket)


def test_opens_after_n_consecutive_failures_only() -> None:
    clock = Clock()
    b = breaker(clock, failures=3)
    fail(b, 2)
    b.success(b.allow() or 0)  # a success in between resets the count
    fail(b, 2)
    assert state(b) is BreakerState.CLOSED
    fail(b, 1)
    assert state(b) is BreakerState.OPEN
    assert b.allow() is None  # fails fast


def test_cooldown_then_exactly_one_probe_and_success_closes() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=5.0)
    fail(b, 1)
    clock.now += 4.999
    assert b.allow() is None and b.retry_after() == pytest.approx(0.001)
    clock.now += 0.001
    assert state(b) is BreakerState.HALF_OPEN
    probe = b.allow()
    assert probe is not None
    assert b.allow() is None  # a second caller while the probe is out
    b.success(probe)
    assert state(b) is BreakerState.CLOSED
    assert b.allow() is not None


def test_failed_probe_reopens_with_growing_capped_jittered_cooldown() -> None:
    clock = Clock()
    b = breaker(clock, rng=1.0, failures=1, cooldown=5.0, max_cooldown=60.0)
    fail(b, 1)
    waits = []
    for _ in range(6):
        waits.append(b.retry_after())
        clock.now += b.retry_after()
        probe = b.allow()
        assert probe is not None
        b.failure(probe)
    # rng = 1.0 is the top of the jitter range: 5 (first open is exact), 10, 20, 40, 60, 60
    assert waits == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


@given(st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=1, max_value=12))
def test_reopen_cooldown_is_within_half_and_full_of_the_capped_delay(
    jitter: float, reopens: int
) -> None:
    clock = Clock()
    b = breaker(clock, rng=jitter, failures=1, cooldown=5.0, max_cooldown=60.0)
    fail(b, 1)
    for _ in range(reopens):
        clock.now += b.retry_after()
        probe = b.allow()
        assert probe is not None
        b.failure(probe)
    delay = min(60.0, 5.0 * 2.0**reopens)
    assert delay / 2 <= b.retry_after() <= delay


def test_success_after_recovery_resets_the_backoff() -> None:
    clock = Clock()
    b = breaker(clock, rng=1.0, failures=1, cooldown=5.0)
    fail(b, 1)
    clock.now += 5
    probe = b.allow()
    assert probe is not None
    b.failure(probe)  # re-open: 10 s
    clock.now += 10
    probe = b.allow()
    assert probe is not None
    b.success(probe)
    fail(b, 1)
    assert b.retry_after() == 5.0  # back to the first cool-down


def test_stale_reports_are_ignored() -> None:
    """A slow call that started while healthy must not close or re-open the breaker later."""
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=5.0)
    slow = b.allow()
    assert slow is not None
    fail(b, 1)  # opens
    b.success(slow)  # stale: still open
    assert state(b) is BreakerState.OPEN
    clock.now += 5
    probe = b.allow()
    assert probe is not None
    b.failure(slow)  # stale: the probe is still the one that decides
    assert state(b) is BreakerState.HALF_OPEN
    b.success(probe)
    assert state(b) is BreakerState.CLOSED


def test_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=1.0)
    fail(b, 1)
    clock.now += 1
    probe = b.allow()
    assert probe is not None
    b.abandon(probe)  # cancelled: no outcome
    assert b.allow() is not None


@pytest.mark.parametrize(
    "settings",
    [{"failures": 0}, {"cooldown": 0}, {"cooldown": 10, "max_cooldown": 5}],
)
def test_settings_are_validated(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerSettings(**settings)  # type: ignore[arg-type]
