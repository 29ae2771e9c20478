"""The job runner across nodes: two `RouterJobs` (two nodes) over one real Redis and real
local-directory vendors. What a single gateway cannot show cheaply: a job orphaned by a dead
node resumed elsewhere, a cancel asked through another node, the cluster-wide lock, and a job
stopped by a change of its PBucket's targets."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from router.balance import BalanceView
from router.job_model import RouterJob
from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.models import PutOptions
from router.pbucket import PBucket, TargetSpec
from router.registry import Router, RouterSettings
from router.router_jobs import JobProblem, RouterJobs
from tests.unit.router._local import body

TWO = (TargetSpec("loc", "a"), TargetSpec("loc", "b"))
THREE = (*TWO, TargetSpec("loc", "c"))
KEYS = [f"k{i:03d}" for i in range(40)]


@pytest_asyncio.fixture
async def router(tmp_path: Path, redis_server: str) -> AsyncIterator[Router]:
    vendor = LocalUpstream(LocalVendorSettings("loc", tmp_path / "loc"))
    for bucket in ("a", "b", "c"):
        await vendor.create_bucket(bucket)
    redis = Redis.from_url(redis_server)
    router = Router(redis, {"loc": vendor}, RouterSettings(cache_seconds=0))
    yield router
    await router.close()
    await redis.aclose()


async def _grown(router: Router) -> tuple[str, set[str]]:
    """A balance PBucket written on two targets, then given a third; (name, misplaced keys)."""
    name = f"jr-{uuid.uuid4().hex[:8]}"
    await router.put(PBucket(name, TWO, policy="balance"))
    view = await router.view(name)
    for key in KEYS:
        await view.put_object(key, body(key.encode()), len(key), PutOptions())
    await router.put(PBucket(name, THREE, policy="balance"))
    grown = await router.view(name)
    assert isinstance(view, BalanceView) and isinstance(grown, BalanceView)
    return name, {k for k in KEYS if grown.owner_index(k) != view.owner_index(k)}


async def _ended(jobs: RouterJobs, job_id: str) -> RouterJob:
    for _ in range(500):
        job = await jobs.read(job_id)
        assert job is not None
        if job.state != "running":
            return job
        await asyncio.sleep(0.01)  # poll period
    raise AssertionError(f"job {job_id} still running")


async def _all_on_owners(router: Router, name: str) -> None:
    view = await router.view(name)
    assert isinstance(view, BalanceView)
    for i, part in enumerate(view.parts):
        page = await part.list_objects()
        assert all(view.owner_index(e.key) == i for e in page.entries), i


async def test_resume__a_job_orphaned_by_its_node_continues_on_another_from_its_checkpoint(
    router: Router,
) -> None:
    name, misplaced = await _grown(router)
    one, two = RouterJobs(router), RouterJobs(router)
    job = await one.start("rebalance", name, dry_run=False, parallel=1, page_size=2)
    while job.counters["scanned"] < 6:
        await asyncio.sleep(0)  # let the job run a few keys
    await one.cancel(job.job_id)
    # Make the record look like its node died mid-run: still "running", heartbeat long ago,
    # live counters past the checkpoint.
    loaded = await one.records.load(job.job_id)
    assert loaded is not None
    doc = loaded[0]
    assert doc["last_key"] and doc["checkpoint"]["scanned"] >= 6
    doc.update(state="running", updated=time.time() - 100, finished=0.0)
    doc["counters"] = {k: v + 50 for k, v in doc["counters"].items()}
    await one.records.save(job.job_id, doc)

    seen = await two.read(job.job_id)
    assert seen is not None and two.record(seen)["state"] == "failed"  # no heartbeat
    resumed = await two.resume(job.job_id, parallel=4)
    assert resumed.node == two.node and resumed.resumes == 1
    done = await _ended(two, job.job_id)
    assert done.state == "done", done.error
    # The checkpoint's counters, then the rest: every key counted once (moved ones twice in
    # scanned, on their new target, walked last).
    assert done.counters["moved"] == len(misplaced)
    assert done.counters["scanned"] == len(KEYS) + len(misplaced)
    await _all_on_owners(router, name)


async def test_cancel__asked_through_another_node_stops_the_job_at_its_next_checkpoint(
    router: Router,
) -> None:
    name, _ = await _grown(router)
    one, two = RouterJobs(router), RouterJobs(router)
    job = await one.start("rebalance", name, dry_run=True, parallel=1, page_size=1)
    flagged = await two.cancel(job.job_id)
    assert two.record(flagged)["cancel_requested"] is True
    stopped = await _ended(one, job.job_id)
    assert stopped.state == "cancelled"
    assert stopped.counters["scanned"] < len(KEYS)
    # The lock went with the job: a new one may start.
    again = await two.start("rebalance", name, dry_run=True, parallel=8, page_size=100)
    assert (await _ended(two, again.job_id)).state == "done"


async def test_start__one_job_per_pbucket_cluster_wide_and_the_policy_must_fit(
    router: Router,
) -> None:
    name, _ = await _grown(router)
    one, two = RouterJobs(router), RouterJobs(router)
    job = await one.start("rebalance", name, dry_run=True, parallel=1, page_size=1)
    with pytest.raises(JobProblem) as running:
        await two.start("rebalance", name, dry_run=True, parallel=1, page_size=1)
    assert (running.value.status, running.value.code) == (409, "JobRunning")
    with pytest.raises(JobProblem) as policy:
        await two.start("migrate", name, dry_run=True, parallel=1, page_size=1)
    assert (policy.value.status, policy.value.code) == (409, "InvalidPolicy")
    with pytest.raises(JobProblem) as missing:
        await two.start("rebalance", "no-such-pbucket", dry_run=True, parallel=1, page_size=1)
    assert missing.value.status == 404
    with pytest.raises(JobProblem) as busy:
        await two.resume(job.job_id, None)
    assert busy.value.code == "InvalidJobState"
    await one.cancel(job.job_id)


async def test_targets_changed__the_job_fails_rather_than_use_old_owners(router: Router) -> None:
    name, _ = await _grown(router)
    jobs = RouterJobs(router)
    job = await jobs.start("rebalance", name, dry_run=True, parallel=1, page_size=1)
    await router.put(PBucket(name, TWO, policy="balance"))
    failed = await _ended(jobs, job.job_id)
    assert failed.state == "failed" and "targets changed" in failed.error
