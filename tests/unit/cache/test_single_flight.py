"""Single-flight: one fetch per key in flight, shared by all callers (FLT-01, FLT-03)."""

from __future__ import annotations

import asyncio
import functools

import pytest

from cache.single_flight import SingleFlight


async def test_single_flight__100_concurrent_calls_run_fetch_once() -> None:
    flight: SingleFlight[str, bytes] = SingleFlight()
    started = 0
    release = asyncio.Event()

    async def fetch() -> bytes:
        nonlocal started
        started += 1
        await release.wait()
        return b"the block bytes"

    calls = [asyncio.create_task(flight.run("block-1", fetch)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*calls)

    assert started == 1
    assert set(results) == {b"the block bytes"}
    assert (flight.runs, flight.joins, len(flight)) == (1, 99, 0)


async def test_single_flight__different_keys_do_not_share() -> None:
    flight: SingleFlight[int, int] = SingleFlight()

    async def fetch_for(n: int) -> int:
        await asyncio.sleep(0)
        return n * 10

    results = await asyncio.gather(
        *(flight.run(n, functools.partial(fetch_for, n)) for n in range(5))
    )
    assert results == [0, 10, 20, 30, 40] and flight.joins == 0


async def test_single_flight__a_cancelled_caller_does_not_cancel_the_fetch() -> None:
    """A client disconnect cancels its own wait only; the fetch completes for the others."""
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()
    finished: list[str] = []

    async def fetch() -> str:
        await release.wait()
        finished.append("fetched")
        return "bytes"

    leaver = asyncio.create_task(flight.run("k", fetch))
    stayer = asyncio.create_task(flight.run("k", fetch))
    await asyncio.sleep(0)
    leaver.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaver
    release.set()
    assert await stayer == "bytes"
    assert finished == ["fetched"]


async def test_single_flight__fetch_survives_when_every_caller_leaves() -> None:
    """Nobody waits any more, the fetch still finishes (so the cache gets filled)."""
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()
    done = asyncio.Event()

    async def fetch() -> str:
        await release.wait()
        done.set()
        raise RuntimeError("nobody is listening")  # and no "never retrieved" warning

    caller = asyncio.create_task(flight.run("k", fetch))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    release.set()
    await asyncio.wait_for(done.wait(), 1)
    await asyncio.sleep(0)
    assert len(flight) == 0


async def test_single_flight__an_error_reaches_all_waiters_and_is_not_remembered() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()
    attempts = 0

    async def failing() -> str:
        nonlocal attempts
        attempts += 1
        await release.wait()
        raise ConnectionError("vendor said 500")

    waiters = [asyncio.create_task(flight.run("k", failing)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert attempts == 1
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)

    async def working() -> str:
        return "fresh"

    assert await flight.run("k", working) == "fresh"  # the next call fetches again
    assert flight.runs == 2
