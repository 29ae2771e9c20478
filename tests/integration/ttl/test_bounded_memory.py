"""A run over a large listing holds one page at a time: 20,000 objects on the local-directory
vendor, walked with every object due (a dry run: the plan is capped) and peak Python memory
measured with tracemalloc."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from redis.asyncio import Redis

from router.local_upstream import LocalUpstream, LocalVendorSettings
from router.pbucket import BucketView, PBucket, TargetSpec
from tests.integration.ttl.jobs_helpers import later, put_rules, run, runner
from tests.rig.local_seed import seed_rows

COUNT = 20_000
# One page of 1,000 entries is ~0.5 MB of Python objects (0.8 MB peak measured); the whole
# listing, or an uncapped plan, would be several times the limit.
PEAK_LIMIT = 2 * 1024 * 1024


@pytest_asyncio.fixture(loop_scope="session")
async def local_view(tmp_path: Path, pb_name: str) -> AsyncIterator[BucketView]:
    root = tmp_path / "vendor"
    vendor = LocalUpstream(LocalVendorSettings(name="local", root=root))
    await vendor.create_bucket("bkt")
    old = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)
    keys = (f"logs/{i:08d}" for i in range(COUNT))
    assert await seed_rows(vendor, root, "bkt", keys, size=10, modified_ms=old) == COUNT
    yield BucketView(PBucket(name=pb_name, targets=(TargetSpec("local", "bkt"),)), vendor)
    await vendor.close()


async def test_run__large_listing_in_bounded_memory(
    redis_client: Redis, local_view: BucketView, pb_name: str
) -> None:
    await put_rules(
        redis_client,
        pb_name,
        [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
          "Expiration": {"Days": 30}}],
    )  # fmt: skip
    jobs = runner(redis_client, local_view, later(0), dry_run_cap=100)
    tracemalloc.start()
    began = time.monotonic()
    try:
        job = await run(jobs, pb_name, dry_run=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.monotonic() - began
    assert (job.state, job.scanned, job.expired, job.planned_total) == (
        "succeeded",
        COUNT,
        COUNT,
        COUNT,
    )
    assert len(job.planned) == 100
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB over {COUNT} objects in {seconds:.1f} s"
