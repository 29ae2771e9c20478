"""A per-vendor circuit breaker: a pure state machine with an injectable clock.

    closed ──N consecutive failures──▶ open ──cool-down elapsed──▶ half-open (one probe)
      ▲                                  ▲                              │
      └────────── probe succeeded ───────┼──────────────────────────────┤
                                         └──────── probe failed ────────┘

While open every call is refused at once (the caller raises VendorUnavailable, no socket is
touched), so an outage costs clients one dictionary lookup instead of a connect/read timeout
each. The first cool-down is `cooldown` seconds exactly; each re-open after a failed probe
doubles it, with jitter, up to `max_cooldown`, so a vendor that stays down is probed less and
less often and many nodes do not probe it in lockstep. Only one probe is in flight at a time.

"Failure" is decided by the caller (`router.vendor_guard`): connection errors, timeouts and 5xx.
A 4xx is the vendor answering, so it counts as a success.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BreakerSettings", "BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5  # consecutive failures that open the breaker
    cooldown: float = 5.0  # seconds open before the first half-open probe
    max_cooldown: float = 60.0  # cap of the doubling cool-down after failed probes

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ValueError("failures must be at least 1")
        if self.cooldown <= 0 or self.max_cooldown < self.cooldown:
            raise ValueError("need 0 < cooldown <= max_cooldown")


class CircuitBreaker:
    """Call `allow()` before a vendor call; when it returns a ticket, report the call's outcome
    with exactly one of `success(ticket)`, `failure(ticket)` or `abandon(ticket)` (cancelled,
    no outcome). A ticket from before the last open/close is stale and its report is ignored,
    so a slow call that started while the vendor was healthy cannot close or re-open it."""

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._rng = rng
        self._state = BreakerState.CLOSED
        self._generation = 0  # bumped on every open and close; tickets carry it
        self._failures = 0  # consecutive, while closed
        self._reopens = 0  # failed probes since the breaker last closed
        self._open_until = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state as a metric would show it: open past its cool-down reads half-open."""
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            return BreakerState.HALF_OPEN
        return self._state

    def retry_after(self) -> float:
        """Seconds until the next probe may go out (0 when calls are allowed now)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def allow(self) -> int | None:
        """A ticket for one call, or None: refuse the call without touching the vendor."""
        if self._state is BreakerState.CLOSED:
            return self._generation
        if self._state is BreakerState.OPEN:
            if self._clock() < self._open_until:
                return None
            self._state = BreakerState.HALF_OPEN
        if self._probing:  # half-open: exactly one probe at a time
            return None
        self._probing = True
        return self._generation

    def success(self, ticket: int) -> None:
        if ticket != self._generation:
            return
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._generation += 1
            self._reopens = 0
            self._probing = False

    def failure(self, ticket: int) -> None:
        if ticket != self._generation:
            return
        if self._state is BreakerState.HALF_OPEN:
            self._reopens += 1
            self._open()
            return
        self._failures += 1
        if self._failures >= self.settings.failures:
            self._open()

    def abandon(self, ticket: int) -> None:
        """The allowed call ended without an outcome (cancelled): free the probe slot."""
        if ticket == self._generation and self._state is BreakerState.HALF_OPEN:
            self._probing = False

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._generation += 1
        self._probing = False
        self._failures = 0
        self._open_until = self._clock() + self._cooldown()

    def _cooldown(self) -> float:
        s = self.settings
        if self._reopens == 0:
            return s.cooldown
        # "Equal jitter": half the capped exponential delay is fixed, half is random, so the
        # wait still grows while nodes that opened together spread their probes apart.
        delay = min(s.max_cooldown, s.cooldown * 2.0**self._reopens)
        return delay / 2 + self._rng() * delay / 2
