"""One node at a time: the lease keeps two runners apart, and a paused leader that lost its
lease changes nothing when it wakes up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from router.pbucket import BucketView
from tests.integration.ttl.conftest import lease_gone, objects
from tests.integration.ttl.jobs_helpers import (
    PausingView,
    Removed,
    later,
    put_objects,
    put_rules,
    runner,
)
from ttl.job_store import JobStore
from ttl.run import LeaseBusy
from ttl.scheduler import Scheduler

EXPIRE_ALL = [{"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]


async def test_paused_leader__acts_no_more_after_losing_its_lease(
    redis_client: Redis,
    redis_server: str,
    view: BucketView,
    s3_direct: Any,
    vendor_bucket: str,
    pb_name: str,
) -> None:
    await put_rules(redis_client, pb_name, EXPIRE_ALL)
    put_objects(s3_direct, vendor_bucket, {"a": 1, "b": 1, "c": 1})
    clock = later(2)
    paused_a, removed_a = PausingView(view), Removed()
    a = runner(redis_client, paused_a, clock, removed=removed_a, node="a",
               lease_ttl=timedelta(milliseconds=200))  # fmt: skip
    job_a = await a.start(pb_name)
    assert job_a is not None
    await paused_a.listed.wait()  # A has its page and is "paused" before acting on it
    lease_gone(redis_server, pb_name)  # ... for longer than its lease

    paused_b, removed_b = PausingView(view), Removed()
    b = runner(redis_client, paused_b, clock, removed=removed_b, node="b")
    job_b = await b.start(pb_name)
    assert job_b is not None and job_b.job_id == job_a.job_id  # B resumes A's job
    assert job_b.fence > job_a.fence
    await paused_b.listed.wait()

    paused_a.go.set()  # A wakes up holding a page of due objects
    done_a = await a.wait(job_a.job_id)
    assert done_a is not None
    assert done_a.state == "failed" and "lost" in done_a.error
    assert removed_a.keys == []
    assert set(objects(s3_direct, vendor_bucket)) == {"a", "b", "c"}  # A deleted nothing

    paused_b.go.set()
    done_b = await b.wait(job_b.job_id)
    assert done_b is not None
    assert (done_b.state, done_b.expired) == ("succeeded", 3)
    assert objects(s3_direct, vendor_bucket) == {}
    stored = await JobStore(redis_client).get(pb_name, job_a.job_id)
    assert stored is not None  # A's stale "failed" never overwrote B's record
    assert (stored.state, stored.node, stored.fence) == ("succeeded", "b", job_b.fence)


async def test_two_runners__never_at_once(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    await put_rules(redis_client, pb_name, EXPIRE_ALL)
    put_objects(s3_direct, vendor_bucket, {"a": 1})
    clock = later(2)
    paused = PausingView(view)
    first = runner(redis_client, paused, clock, node="a")
    second = runner(redis_client, view, clock, node="b")
    started = await first.start(pb_name)
    assert started is not None
    await paused.listed.wait()
    with pytest.raises(LeaseBusy):
        await second.start(pb_name)
    with pytest.raises(LeaseBusy):
        await second.start(pb_name, dry_run=True)
    paused.go.set()
    done = await first.wait(started.job_id)
    assert done is not None and done.state == "succeeded"


async def test_schedulers__one_run_per_interval(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    """Two nodes' schedulers tick at once: one run. Again the same day: none. Later: one
    more."""
    await put_rules(redis_client, pb_name, EXPIRE_ALL)
    put_objects(s3_direct, vendor_bucket, {"a": 1})
    clock = later(0)
    nodes = [Scheduler(runner(redis_client, view, clock, node=n)) for n in ("a", "b")]
    passes = await asyncio.gather(*(n.tick() for n in nodes))
    mine = [j for ran in passes for j in ran if j.pbucket == pb_name]
    assert len(mine) == 1 and mine[0].state == "succeeded"
    clock.advance(timedelta(hours=23))
    again = await asyncio.gather(*(n.tick() for n in nodes))
    assert [j for ran in again for j in ran if j.pbucket == pb_name] == []
    clock.advance(timedelta(days=2))  # due again, and the object is now old enough
    later_day = await nodes[1].tick()
    assert [j.expired for j in later_day if j.pbucket == pb_name] == [1]
    assert len(await JobStore(redis_client).history(pb_name)) == 2
