"""Shared pieces of the lifecycle job tests: rules in Redis, objects on SeaweedFS, a runner."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from router.errors import UpstreamError
from router.models import ListPage
from router.pbucket import BucketView
from ttl.clock import SettableClock
from ttl.job import JobRecord
from ttl.lifecycle_json import from_json
from ttl.run import LifecycleJobs
from ttl.run_context import RunHooks
from ttl.settings import LifecycleSettings
from ttl.store import LifecycleStore

BIG = 128 * 1024 + 1  # S3 transitions nothing smaller by default
DAY = timedelta(days=1)


async def put_rules(client: Redis, pbucket: str, rules: list[dict[str, Any]], **top: Any) -> None:
    await LifecycleStore(client).put(pbucket, from_json({"Rules": rules, **top}))


def later(days: float) -> SettableClock:
    return SettableClock(datetime.now(UTC) + timedelta(days=days))


@dataclass
class Removed:
    keys: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, pbucket: str, key: str) -> None:
        self.keys.append((pbucket, key))


def runner(
    client: Redis,
    view: BucketView,
    clock: SettableClock,
    *,
    removed: Removed | None = None,
    node: str = "node-a",
    **settings: Any,
) -> LifecycleJobs:
    async def views(name: str) -> BucketView:
        # Only this test's PBucket: the shared Redis lists other tests' PBuckets too.
        if name != view.pbucket.name:
            raise UpstreamError("NoSuchBucket", 404)
        return view

    hooks = RunHooks(on_removed=removed) if removed is not None else RunHooks()
    return LifecycleJobs(
        client, views, LifecycleSettings(**settings), clock=clock, hooks=hooks, node=node
    )


async def run(jobs: LifecycleJobs, pbucket: str, *, dry_run: bool = False) -> JobRecord:
    job = await jobs.run(pbucket, dry_run=dry_run)
    assert job is not None
    return job


def put_objects(s3_direct: Any, bucket: str, sizes: dict[str, int], **extra: Any) -> None:
    for key, size in sizes.items():
        s3_direct.put_object(Bucket=bucket, Key=key, Body=b"x" * size, **extra)


class PausingView(BucketView):
    """A real view whose listing stops after its first page until the test says go: a leader
    "paused" between reading a page and acting on it."""

    def __init__(self, inner: BucketView, *, free_pages: int = 0) -> None:
        super().__init__(inner.pbucket, inner.upstream)
        self.listed = asyncio.Event()
        self.go = asyncio.Event()
        self.free_pages = free_pages  # pages listed before the pause

    async def list_objects(self, **kwargs: Any) -> ListPage:
        page = await super().list_objects(**kwargs)
        if self.free_pages > 0:
            self.free_pages -= 1
            return page
        self.listed.set()
        await self.go.wait()
        return page


class FailingListView(BucketView):
    """A real view whose listing fails once after `ok` pages (a vendor outage mid-run)."""

    def __init__(self, inner: BucketView, ok: int) -> None:
        super().__init__(inner.pbucket, inner.upstream)
        self.ok = ok

    async def list_objects(self, **kwargs: Any) -> ListPage:
        if self.ok == 0:
            self.ok = -1
            raise UpstreamError("ServiceUnavailable", 503)
        self.ok -= 1
        return await super().list_objects(**kwargs)
