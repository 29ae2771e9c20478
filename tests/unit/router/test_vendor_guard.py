"""GuardedUpstream's decisions (breaker, retries, budget) over a scripted vendor: a stand-in
that raises what a real vendor's errors map to, with time and sleeps injected."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from router.breaker import BreakerSettings, BreakerState
from router.errors import CircuitOpen, NotModified, UpstreamError, VendorUnavailable
from router.retry import RetrySettings
from router.upstream import Upstream
from router.vendor_guard import READS, WRITES, GuardedUpstream, GuardSettings


class Scripted(Upstream):
    """Each call pops the next outcome: an exception to raise, or a value to return."""

    name = "scripted"

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    async def _next(self, op: str) -> Any:
        self.calls.append(op)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def head_object(self, bucket: str, key: str, **_: Any) -> Any:
        return await self._next("head_object")

    async def list_objects(self, bucket: str, **_: Any) -> Any:
        return await self._next("list_objects")

    async def delete_object(self, bucket: str, key: str) -> None:
        await self._next("delete_object")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def guarded(inner: Upstream, *, retries: int = 2, failures: int = 5, burst: float = 10) -> Any:
    clock = Clock()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    settings = GuardSettings(
        BreakerSettings(failures=failures, cooldown=5.0),
        RetrySettings(retries=retries, burst=burst, floor_per_second=0),
    )
    g = GuardedUpstream(inner, settings, clock=clock, rng=lambda: 1.0, sleep=sleep)
    return g, clock, sleeps


def down(status: int | None = None) -> VendorUnavailable:
    return VendorUnavailable("HeadObject: test", status=status)


def test_every_upstream_operation_is_guarded() -> None:
    ops = {
        name
        for name, fn in inspect.getmembers(Upstream, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "close"
    }
    assert ops == READS | WRITES
    assert not READS & WRITES


async def test_read__retried_on_5xx_and_connection_errors_then_succeeds() -> None:
    inner = Scripted(down(500), down(None), "info")
    g, _, sleeps = guarded(inner)
    assert await g.head_object("b", "k") == "info"
    assert inner.calls == ["head_object"] * 3
    assert sleeps == [0.05, 0.1]  # full jitter at rng = 1.0: the capped exponential ceiling


async def test_read__at_most_one_plus_retries_attempts() -> None:
    inner = Scripted(down(503), down(503), down(503), "never reached")
    g, _, _ = guarded(inner, retries=2)
    with pytest.raises(VendorUnavailable):
        await g.head_object("b", "k")
    assert len(inner.calls) == 3 and g.attempts == 3


@pytest.mark.parametrize(
    "error",
    [
        UpstreamError("NoSuchKey", 404),
        UpstreamError("PreconditionFailed", 412),
        UpstreamError("AccessDenied", 403),
        NotModified(),
        VendorUnavailable("slow down", status=429),
        VendorUnavailable("not implemented-ish 5xx", status=505),
    ],
)
async def test_read__4xx_and_non_retryable_statuses_are_not_retried(error: Exception) -> None:
    inner = Scripted(error)
    g, _, _ = guarded(inner)
    with pytest.raises(type(error)):
        await g.head_object("b", "k")
    assert len(inner.calls) == 1


async def test_write__never_retried() -> None:
    inner = Scripted(down(500))
    g, _, _ = guarded(inner)
    with pytest.raises(VendorUnavailable):
        await g.delete_object("b", "k")
    assert inner.calls == ["delete_object"]


async def test_budget__caps_retries_in_an_outage() -> None:
    inner = Scripted(*[down(None)] * 100)
    g, _, _ = guarded(inner, retries=2, failures=1000, burst=3)
    for _ in range(10):
        with pytest.raises(VendorUnavailable):
            await g.list_objects("b")
    # 10 first attempts; the full bucket's 3 tokens pay 3 retries; what the 10 requests earned
    # afterwards (0.1 each) never adds up to another whole retry: 3 retries, not 20
    assert len(inner.calls) == 10 + 3
    assert g.stats()["retries_refused"] == 9  # each request gives up at its first refusal


async def test_breaker__opens_after_failures_and_answers_without_calling() -> None:
    inner = Scripted(*[down(None)] * 5)
    g, clock, _ = guarded(inner, retries=0, failures=5)
    for _ in range(5):
        with pytest.raises(VendorUnavailable):
            await g.head_object("b", "k")
    assert g.health() == "open"
    with pytest.raises(CircuitOpen) as err:
        await g.head_object("b", "k")
    assert err.value.retry_after == 5.0
    assert len(inner.calls) == 5  # the sixth never reached the vendor
    clock.now += 5.0
    assert g.health() == "half_open"
    assert await g.head_object("b", "k") == "ok"  # the probe succeeds
    assert g.breaker.state is BreakerState.CLOSED


async def test_breaker__4xx_is_the_vendor_answering() -> None:
    inner = Scripted(*[down(None)] * 4, UpstreamError("NoSuchKey", 404), *[down(None)] * 4)
    g, _, _ = guarded(inner, retries=0, failures=5)
    for _ in range(9):
        with pytest.raises((VendorUnavailable, UpstreamError)):
            await g.head_object("b", "k")
    assert g.health() == "closed"  # never 5 in a row


async def test_breaker__retries_stop_once_it_opens() -> None:
    inner = Scripted(*[down(None)] * 10)
    g, _, sleeps = guarded(inner, retries=2, failures=2)
    with pytest.raises(VendorUnavailable) as err:
        await g.head_object("b", "k")
    assert not isinstance(err.value, CircuitOpen)  # the vendor's own failure, not the breaker's
    assert len(inner.calls) == 2 and len(sleeps) == 1  # no backoff spent on a dead vendor
    assert g.budget.retries == 1


async def test_cancellation__is_not_a_failure() -> None:
    class Hangs(Scripted):
        async def head_object(self, bucket: str, key: str, **_: Any) -> Any:
            await asyncio.Event().wait()

    g, clock, _ = guarded(Hangs(), failures=1)
    g.breaker.failure(g.breaker.allow())  # open it
    clock.now += 5
    task = asyncio.create_task(g.head_object("b", "k"))  # the probe
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert g.breaker.allow() is not None  # the probe slot is free again


class Slow(Upstream):
    """Takes `delays` seconds of the fake clock per call, in turn; fails where asked."""

    name = "slow"

    def __init__(self, clock: Clock, *delays: tuple[float, Exception | None]) -> None:
        self.clock, self.delays = clock, list(delays)

    async def head_object(self, bucket: str, key: str, **_: Any) -> Any:
        seconds, error = self.delays.pop(0)
        self.clock.now += seconds
        if error is not None:
            raise error
        return "info"


async def test_latency__every_attempt_is_timed_per_operation() -> None:
    clock = Clock()
    settings = GuardedUpstream(Scripted()).settings
    inner = Slow(clock, (0.004, down(503)), (0.2, None), (0.0005, NoSuchKey()))
    g = GuardedUpstream(inner, settings, clock=clock, rng=lambda: 1.0, sleep=_no_sleep)
    assert await g.head_object("b", "k") == "info"  # a retried 503 (4 ms), then 200 ms
    with pytest.raises(UpstreamError):
        await g.head_object("b", "k")  # a 404 answer is latency too
    histogram = g.latency.by_operation["head_object"]
    assert sum(histogram.counts) == 3
    assert histogram.total == pytest.approx(0.2045)
    cumulative = dict(histogram.cumulative())
    assert (cumulative["0.001"], cumulative["0.005"], cumulative["0.25"], cumulative["+Inf"]) == (
        1,
        2,
        3,
        3,
    )


async def _no_sleep(seconds: float) -> None:
    return None


def NoSuchKey() -> UpstreamError:
    return UpstreamError("NoSuchKey", 404)
