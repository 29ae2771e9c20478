"""Backoff and the retry budget, with an injected clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from router.retry import RetryBudget, RetrySettings, backoff


@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0.0, max_value=1.0))
def test_backoff__full_jitter_under_a_capped_exponential(attempt: int, r: float) -> None:
    s = RetrySettings(base=0.05, cap=1.0)
    wait = backoff(attempt, s, lambda: r)
    assert 0.0 <= wait <= min(1.0, 0.05 * 2 ** (attempt - 1))


def test_backoff__ceilings() -> None:
    s = RetrySettings()
    assert [backoff(n, s, lambda: 1.0) for n in (1, 2, 3, 5, 6, 9)] == [
        0.05,
        0.1,
        0.2,
        0.8,
        1.0,
        1.0,
    ]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget__retries_are_about_ten_percent_of_requests_plus_the_floor() -> None:
    clock = Clock()
    budget = RetryBudget(RetrySettings(ratio=0.1, floor_per_second=1.0, burst=10), clock=clock)
    taken = 0
    # 10 000 requests over 100 s, every one wanting a retry (a full outage).
    for i in range(10_000):
        clock.now = i / 100
        budget.record_request()
        taken += budget.try_retry()
    # 10 % of 10 000, plus 1/s for 100 s, plus the initial burst of 10
    assert 1000 <= taken <= 1000 + 100 + 10
    assert budget.refused == 10_000 - taken


def test_budget__a_quiet_gateway_can_retry_its_first_failures() -> None:
    budget = RetryBudget(RetrySettings(burst=3, floor_per_second=0), clock=Clock())
    assert [budget.try_retry() for _ in range(4)] == [True, True, True, False]


def test_budget__refills_with_time() -> None:
    clock = Clock()
    budget = RetryBudget(RetrySettings(burst=1, floor_per_second=0.5, ratio=0), clock=clock)
    assert budget.try_retry() and not budget.try_retry()
    clock.now += 2
    assert budget.try_retry()
