"""Gateway-side retries: how long to back off, and a budget so retries cannot multiply an outage.

The SDK's own retries are off (`total_max_attempts = 1`), so these are the only ones: a client
GET costs at most `1 + retries` vendor attempts, and across all requests retries are capped at
about `ratio` of the requests plus a small floor. Without the budget, an outage turns every
request into `1 + retries` requests exactly when the vendor can least take them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RetryBudget", "RetrySettings", "backoff"]


@dataclass(frozen=True, slots=True)
class RetrySettings:
    retries: int = 2  # extra attempts after the first, for idempotent reads only
    base: float = 0.05  # seconds; the first backoff is drawn from [0, base]
    cap: float = 1.0  # seconds; no backoff is longer
    ratio: float = 0.1  # retries earned per request
    floor_per_second: float = 1.0  # retries earned per second regardless of traffic
    burst: float = 10.0  # most retries the budget can hold

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("need 0 < base <= cap")
        if self.ratio < 0 or self.floor_per_second < 0 or self.burst < 1:
            raise ValueError("ratio and floor must be >= 0 and burst >= 1")


def backoff(
    attempt: int, settings: RetrySettings, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): capped exponential with full
    jitter, uniform in [0, min(cap, base * 2**(attempt-1))] (the AWS "full jitter" scheme, so
    clients that failed together do not come back together)."""
    ceiling = min(settings.cap, settings.base * 2.0 ** max(0, attempt - 1))
    return rng() * ceiling


class RetryBudget:
    """A token bucket: each request deposits `ratio` tokens, time deposits `floor_per_second`,
    the bucket holds at most `burst`, and each retry withdraws one token. It starts full, so a
    quiet gateway can still retry the first failures it sees."""

    def __init__(
        self, settings: RetrySettings | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or RetrySettings()
        self._clock = clock
        self._tokens = self.settings.burst
        self._stamp = clock()
        self.requests = 0
        self.retries = 0
        self.refused = 0  # retries the budget said no to (a metric: the vendor is struggling)

    def _refill(self) -> None:
        now = self._clock()
        earned = (now - self._stamp) * self.settings.floor_per_second
        self._stamp = now
        self._tokens = min(self.settings.burst, self._tokens + earned)

    def record_request(self) -> None:
        """A first attempt went out."""
        self.requests += 1
        self._refill()
        self._tokens = min(self.settings.burst, self._tokens + self.settings.ratio)

    def try_retry(self) -> bool:
        """Take a token for one retry; False means do not retry."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.retries += 1
            return True
        self.refused += 1
        return False

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens
