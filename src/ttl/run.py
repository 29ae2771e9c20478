"""Lifecycle jobs on this node: take a PBucket's lease, open (or resume) its job record, walk
objects then multipart uploads, record the outcome, give the lease back.

    start(pb, dry_run)  → LeaseBusy       another node (or this one) runs the PBucket now
                        → NoLifecycle     the PBucket has no rules
                        → JobRecord       running as a task on this node

Resuming: a job that did not finish (its node died, lost its lease, or its listing failed) and
started less than `interval` ago is continued by the next run of the same kind (dry or not)
from its checkpoint, with its counters; an older one is closed as failed and a new job starts.
The counters in Redis are those of the last checkpoint: a stopped job never writes counts
past its checkpoint, so a resumed job counts nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import redis.asyncio

from router.errors import UpstreamError
from router.pbucket import BucketView
from ttl.abort import walk_uploads
from ttl.clock import Clock, SystemClock
from ttl.job import JobRecord
from ttl.job_store import JobStore
from ttl.lease import Lease, LeaseLost, acquire
from ttl.objects import walk_objects
from ttl.plan import acts_on_objects, acts_on_uploads
from ttl.run_context import RunContext, RunHooks
from ttl.settings import LifecycleSettings
from ttl.store import LifecycleStore

__all__ = ["LeaseBusy", "LifecycleJobs", "NoLifecycle"]

log = logging.getLogger("pcache.lifecycle")
#: what a stopped job writes: never its counters, which stay those of its checkpoint
_OUTCOME = ("state", "error", "finished", "node")


class LeaseBusy(Exception):
    """A job for this PBucket holds the lease (on this node or another)."""


class NoLifecycle(Exception):
    """The PBucket has no lifecycle configuration."""


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _describe(err: BaseException) -> str:
    if isinstance(err, UpstreamError):
        return err.code
    return type(err).__name__


class LifecycleJobs:
    """Runs lifecycle jobs on this node; `views` resolves a PBucket through the router."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        views: Callable[[str], Awaitable[BucketView]],
        settings: LifecycleSettings,
        *,
        clock: Clock | None = None,
        hooks: RunHooks | None = None,
        node: str | None = None,
    ) -> None:
        self.redis = client
        self.views = views
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.hooks = hooks or RunHooks()
        self.node = node or node_name()
        self.store = JobStore(client)
        self.rules = LifecycleStore(client)
        self._tasks: dict[str, asyncio.Task[JobRecord]] = {}
        #: records of the jobs running here: live counters, ahead of the last checkpoint
        self._live: dict[str, JobRecord] = {}

    async def start(
        self, pbucket: str, *, dry_run: bool = False, due_after: timedelta | None = None
    ) -> JobRecord | None:
        """Start a run in the background. With `due_after`, only if the last successful run
        evaluated at least that long ago (checked under the lease: None if not due)."""
        started = await self._begin(pbucket, dry_run=dry_run, due_after=due_after)
        return None if started is None else started[0]

    async def run(
        self, pbucket: str, *, dry_run: bool = False, due_after: timedelta | None = None
    ) -> JobRecord | None:
        """Run to the end; the finished record (None: not due)."""
        started = await self._begin(pbucket, dry_run=dry_run, due_after=due_after)
        return None if started is None else await started[1]

    async def _begin(
        self, pbucket: str, *, dry_run: bool, due_after: timedelta | None
    ) -> tuple[JobRecord, asyncio.Task[JobRecord]] | None:
        config = await self.rules.get(pbucket)
        if config is None:
            raise NoLifecycle(pbucket)
        view = await self.views(pbucket)
        ttl_ms = int(self.settings.lease_ttl.total_seconds() * 1000)
        lease = await acquire(self.redis, pbucket, ttl_ms)
        if lease is None:
            raise LeaseBusy(pbucket)
        try:
            now = self.clock.now()
            last = await self.store.last_run(pbucket)
            if due_after is not None and last is not None and now - last < due_after:
                await lease.release()
                return None
            job = await self._open(pbucket, dry_run, lease, now)
        except BaseException:
            await lease.release()
            raise
        ctx = RunContext(view, config, job, lease, now, self.settings, self.hooks)
        task = asyncio.ensure_future(self._main(ctx))
        self._tasks[job.job_id], self._live[job.job_id] = task, job

        def done(_: object) -> None:
            self._tasks.pop(job.job_id, None)
            self._live.pop(job.job_id, None)

        task.add_done_callback(done)
        return job, task

    async def _open(self, pbucket: str, dry_run: bool, lease: Lease, now: datetime) -> JobRecord:
        """The unfinished job to resume, or a new one. We hold the lease, so any job still
        marked running lost its holder."""
        prev = await self.store.latest(pbucket)
        if prev is not None and prev.state != "succeeded":
            age = now - datetime.fromisoformat(prev.started)
            if prev.dry_run == dry_run and prev.phase != "done" and age < self.settings.interval:
                prev.state, prev.error, prev.finished = "running", "", ""
                prev.fence, prev.node, prev.resumes = lease.fence, self.node, prev.resumes + 1
                prev.evaluated_at = now.isoformat()
                await self.store.save(prev)
                log.info("lifecycle %s: resuming job %s after %r", pbucket, prev.job_id,
                         prev.last_key)  # fmt: skip
                return prev
            if prev.state == "running":
                closed = replace(prev, state="failed", fence=lease.fence, finished=now.isoformat())
                closed.error = "abandoned: its node stopped and the job was not resumed"
                await self.store.save(closed)
        job = JobRecord(
            job_id=uuid.uuid4().hex,
            pbucket=pbucket,
            dry_run=dry_run,
            node=self.node,
            started=now.isoformat(),
            evaluated_at=now.isoformat(),
            fence=lease.fence,
        )
        await self.store.add(job, now)
        return job

    async def _main(self, ctx: RunContext) -> JobRecord:
        job, began = ctx.job, time.monotonic()

        async def checkpoint() -> None:
            if not await self.store.save(job):
                raise LeaseLost(f"job {job.job_id} was taken over (fence {job.fence})")

        try:
            await self._phases(ctx, checkpoint)
            job.state = "succeeded"
        except LeaseLost as err:
            job.state, job.error = "failed", str(err)
            log.warning("lifecycle %s: %s; stopped", job.pbucket, err)
        except asyncio.CancelledError:
            job.state, job.error = "failed", f"the node {self.node} stopped; the next run resumes"
            raise
        except Exception as err:
            log.exception("lifecycle %s: job %s failed", job.pbucket, job.job_id)
            job.state, job.error = "failed", _describe(err)
        finally:
            await self._close(ctx, time.monotonic() - began)
        return job

    async def _phases(self, ctx: RunContext, checkpoint: Callable[[], Awaitable[None]]) -> None:
        job, config = ctx.job, ctx.config
        if job.phase == "objects":
            if acts_on_objects(config):
                await walk_objects(ctx, checkpoint)
            job.phase = "uploads"
            await checkpoint()
        if job.phase == "uploads":
            if acts_on_uploads(config):
                await walk_uploads(ctx, checkpoint)
            job.phase = "done"

    async def _close(self, ctx: RunContext, seconds: float) -> None:
        job = ctx.job
        job.finished = self.clock.now().isoformat()
        with contextlib.suppress(Exception):  # Redis gone: the record says running, resumable
            if job.state == "succeeded":
                await self.store.save(job)
                if not job.dry_run:
                    await self.store.set_last_run(job.pbucket, ctx.now)
            else:
                await self.store.save_fields(job, _OUTCOME)
        with contextlib.suppress(Exception):
            await ctx.lease.release()
        if self.hooks.observer is not None:
            self.hooks.observer.ended(job, seconds)
        log.info(
            "lifecycle %s: job %s %s: scanned=%d expired=%d transitioned=%d aborted=%d errors=%d",
            job.pbucket, job.job_id, job.state, job.scanned, job.expired, job.transitioned,
            job.aborted, job.errors,
        )  # fmt: skip

    async def wait(self, job_id: str) -> JobRecord | None:
        """The end of a job running on this node (None: not running here)."""
        task = self._tasks.get(job_id)
        return None if task is None else await asyncio.shield(task)

    async def record(self, pbucket: str, job_id: str) -> JobRecord | None:
        """A job's record: live if it runs on this node, else as last written."""
        live = self._live.get(job_id)
        if live is not None and live.pbucket == pbucket:
            return live
        return await self.store.get(pbucket, job_id)

    async def history(self, pbucket: str) -> list[JobRecord]:
        """The PBucket's jobs, newest first (live records for those running here)."""
        return [self._live.get(j.job_id, j) for j in await self.store.history(pbucket)]

    async def shutdown(self) -> None:
        """Stop this node's jobs (each ends failed, resumable from its checkpoint)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
