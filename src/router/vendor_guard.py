"""`GuardedUpstream`: every call to one vendor goes through its circuit breaker, and idempotent
reads get a few retries within the vendor's retry budget.

It wraps any `Upstream` at one place instead of touching each method: the constructor replaces
each operation named in `READS` / `WRITES` with a guarded version of the inner one. A unit test
checks that every operation of `Upstream` is in one of the two sets, so a new operation cannot
bypass the breaker by being forgotten here.

What counts (see `is_failure` / `is_retryable`):

    VendorUnavailable, no status (refused, reset, timeout)   breaker failure; retried
    VendorUnavailable 500 / 502 / 503 / 504                  breaker failure; retried
    VendorUnavailable other 5xx, or an error inside a 200    breaker failure; not retried
    VendorUnavailable 429 / 408 (the vendor is busy)         the vendor answered; not retried
    any other RouterError (NoSuchKey, 412, 403, 304 ...)     the vendor answered; not retried
    anything else (cancellation, a client's broken body)     no outcome

Retries cover HEAD, GET before its first body byte (`get_object` returns once the response head
arrived, so a retry never follows a byte handed to the caller) and LISTs. Writes are never
retried here: their bodies stream from the client and cannot be sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router.breaker import BreakerSettings, BreakerState, CircuitBreaker
from router.errors import CircuitOpen, RouterError, VendorUnavailable
from router.latency import LatencyStats
from router.retry import RetryBudget, RetrySettings, backoff
from router.upstream import Upstream

__all__ = [
    "READS",
    "WRITES",
    "GuardSettings",
    "GuardedUpstream",
    "health_states",
    "is_failure",
    "is_retryable",
]

log = logging.getLogger("pcache.vendor")

READS = frozenset(
    {
        "list_buckets",
        "head_bucket",
        "head_object",
        "get_object",
        "list_objects",
        "get_object_tagging",
        "list_parts",
        "list_multipart_uploads",
    }
)
WRITES = frozenset(
    {
        "create_bucket",
        "delete_bucket",
        "put_object",
        "copy_object",
        "delete_object",
        "put_object_tagging",
        "delete_object_tagging",
        "create_multipart_upload",
        "upload_part",
        "upload_part_copy",
        "complete_multipart_upload",
        "abort_multipart_upload",
    }
)
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_BUSY_STATUSES = frozenset({408, 429})


def is_failure(exc: BaseException) -> bool:
    """Does this outcome say the vendor is unhealthy (a breaker failure)?"""
    if not isinstance(exc, VendorUnavailable) or isinstance(exc, CircuitOpen):
        return False
    return exc.status not in _BUSY_STATUSES


def is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, VendorUnavailable) or isinstance(exc, CircuitOpen):
        return False
    return exc.status is None or exc.status in _RETRY_STATUSES


@dataclass(frozen=True, slots=True)
class GuardSettings:
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)


class GuardedUpstream(Upstream):
    """One vendor behind its breaker and retry budget. `clock`, `rng` and `sleep` are injectable
    so tests drive time instead of waiting for it."""

    def __init__(
        self,
        inner: Upstream,
        settings: GuardSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.storage_classes = inner.storage_classes
        self.settings = settings or GuardSettings()
        self.breaker = CircuitBreaker(self.settings.breaker, clock=clock, rng=rng)
        self.budget = RetryBudget(self.settings.retry, clock=clock)
        self.attempts = 0  # vendor calls actually made (first attempts and retries)
        self.refused = 0  # calls answered by the open breaker alone
        self.latency = LatencyStats()  # per attempt that reached the vendor, by operation
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        for operation in READS | WRITES:
            setattr(self, operation, self._guarded(operation, operation in READS))

    def _guarded(self, operation: str, idempotent: bool) -> Callable[..., Awaitable[Any]]:
        call: Callable[..., Awaitable[Any]] = getattr(self.inner, operation)

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            return await self._run(operation, call, args, kwargs, idempotent=idempotent)

        guarded.__name__ = guarded.__qualname__ = operation
        return guarded

    async def _run(
        self,
        operation: str,
        call: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        idempotent: bool,
    ) -> Any:
        self.budget.record_request()
        retries = self.settings.retry.retries if idempotent else 0
        attempt = 0
        while True:
            ticket = self.breaker.allow()
            if ticket is None:
                self.refused += 1
                raise CircuitOpen(
                    f"{operation}: circuit open", retry_after=self.breaker.retry_after()
                )
            self.attempts += 1
            started = self._clock()
            try:
                result = await call(*args, **kwargs)
            except VendorUnavailable as exc:
                self.latency.observe(operation, self._clock() - started)
                (self.breaker.failure if is_failure(exc) else self.breaker.success)(ticket)
                attempt += 1
                if not (attempt <= retries and is_retryable(exc)):
                    raise
                if self.breaker.state is not BreakerState.CLOSED or not self.budget.try_retry():
                    raise  # this failure opened the breaker, or the budget is spent
                delay = backoff(attempt, self.settings.retry, self._rng)
                log.debug(
                    "vendor %s: %s failed (%s); retry %d in %.3fs",
                    self.name,
                    operation,
                    exc,
                    attempt,
                    delay,
                )
                await self._sleep(delay)
                continue
            except RouterError:
                self.latency.observe(operation, self._clock() - started)
                self.breaker.success(ticket)  # the vendor answered (a 4xx, a 304 ...)
                raise
            except BaseException:
                self.breaker.abandon(ticket)
                raise
            self.latency.observe(operation, self._clock() - started)
            self.breaker.success(ticket)
            return result

    async def start(self) -> None:
        start = getattr(self.inner, "start", None)
        if start is not None:
            await start()

    async def close(self) -> None:
        await self.inner.close()

    def health(self) -> str:
        """ "closed" (healthy), "open" (failing fast) or "half_open" (a probe may go out)."""
        return self.breaker.state.value

    def stats(self) -> dict[str, float]:
        """Counters for metrics: attempts made, answered by the open breaker, retries taken and
        refused by the budget."""
        return {
            "attempts": self.attempts,
            "breaker_refused": self.refused,
            "retries": self.budget.retries,
            "retries_refused": self.budget.refused,
        }


def health_states(vendors: Mapping[str, Upstream]) -> dict[str, str]:
    """Vendor name → breaker state, for every guarded vendor (the local directory has none)."""
    return {
        name: upstream.health()
        for name, upstream in vendors.items()
        if isinstance(upstream, GuardedUpstream)
    }
