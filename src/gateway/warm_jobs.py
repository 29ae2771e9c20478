"""Cache warm-up jobs: load every object under a prefix into this node's block cache.

A job runs as an asyncio task inside the node that accepted it. It lists the prefix page by page
(`page_size` keys, at most 1000; the next page is listed while workers still warm the current
one, so memory stays at about two pages) and `parallel` workers warm one object each with
`gateway.cache_read.warm_object` (fresh metadata and cached blocks cost no vendor request, so
warming warm data is free). A failed object is counted (`errors`, `last_error`) and the job goes
on; a failed listing fails the job. The cache writes fetched blocks to its tiers beside the
reads: a worker waits while more than WRITE_BACKLOG bytes wait for their write (warming never
outruns the disks), and a run ends once its writes have landed.

State lives in Redis, so any node answers for any job and a job survives its node:

    pc:c:job:{<id>}   hash, TTL 7 days (refreshed on every write)
    pc:c:jobs         sorted set of job ids by start time (the most recent INDEX_KEEP)

Checkpoint: when every object of a page is done (pages complete in listing order), `last_key`
(the page's last key) and the counters at that point are written; live counters and a heartbeat
are written every FLUSH_SECONDS. Resuming a job (after a cancel, a failure or a node restart)
lists again after `last_key` with the checkpoint's counters, so no object is counted twice;
objects warmed after the checkpoint are walked again, and cost nothing as they are cached.
`blocks_fetched` is kept as flushed (a block is never fetched twice), so after a clean stop it
is exact and after a crash it may miss the last few seconds' fetches.

Cancel stops handing out objects and lets the workers finish the object in hand (STOP_GRACE
seconds at most, then the task is cancelled), so the counters match what is cached. A job
running on another node is asked to stop through its hash (`cancel`), seen at its next
checkpoint or heartbeat. A `running` job whose heartbeat is older than STALE_SECONDS is shown
as failed (its node died) and may be resumed. A node that stops (SIGTERM) ends its jobs as
failed, resumable.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import WatchError

from gateway.boundary import to_s3_error
from gateway.cache_read import CacheService, warm_object
from gateway.context import Services
from router.models import ListEntry, ListPage
from router.pbucket import BucketView

__all__ = [
    "DEFAULT_PARALLEL",
    "MAX_PAGE",
    "MAX_PARALLEL",
    "WARM_JOBS",
    "JobProblem",
    "WarmJob",
    "WarmJobs",
    "add_warm_jobs",
    "job_key",
    "valid_job_id",
]

log = logging.getLogger("pcache.warm")

JOB_TTL = 7 * 24 * 3600
INDEX = "pc:c:jobs"
INDEX_KEEP = 200
LIST_LIMIT = 100
FLUSH_SECONDS = 2.0
STALE_SECONDS = 30.0
STOP_GRACE = 5.0
SHUTDOWN_GRACE = 3.0
DEFAULT_PARALLEL = 8
MAX_PARALLEL = 64
MAX_PAGE = 1000
MB = 1_000_000
#: bytes of fetched blocks waiting for their tier write before the workers wait for the disks
WRITE_BACKLOG = 256 * 1024 * 1024
#: how long the end of a run waits for the last tier writes
WRITE_WAIT = 30.0

State = Literal["running", "done", "failed", "cancelled"]


def job_key(job_id: str) -> str:
    # The id is the hash tag: every key of one job lands in one cluster slot.
    return f"pc:c:job:{{{job_id}}}"


def valid_job_id(value: object) -> bool:
    """uuid4 hex: 32 lower-case hex digits."""
    return (
        isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)
    )


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobProblem(Exception):
    """A job request that cannot be served: `code`, HTTP `status`, `message`."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def _no_such_job(job_id: str) -> JobProblem:
    return JobProblem(
        "NoSuchJob", 404, f"There is no warm-up job {job_id} (jobs expire after 7 days)."
    )


@dataclass(slots=True)
class WarmJob:
    """One job: its request, counters, checkpoint and timing (wall-clock seconds)."""

    job_id: str
    pbucket: str
    prefix: str
    parallel: int
    page_size: int
    node: str
    started: float
    updated: float
    state: State = "running"
    objects_done: int = 0
    bytes_done: int = 0
    blocks_fetched: int = 0
    errors: int = 0
    last_error: str = ""
    #: why the job failed ("" otherwise)
    error: str = ""
    finished: float = 0.0
    #: the checkpoint: every key up to `last_key` (listing order) is done, with these counters
    last_key: str = ""
    ck_objects: int = 0
    ck_bytes: int = 0
    ck_errors: int = 0
    #: seconds spent running in earlier runs; the current run began at `run_started`
    elapsed: float = 0.0
    run_started: float = 0.0
    resumes: int = 0
    cancel: bool = False

    # -- Redis ----------------------------------------------------------------------------------
    def to_doc(self, *, runner: bool = False) -> dict[str, str]:
        """Every field as text; the runner's own writes leave `cancel` (another node's request)
        alone."""
        doc: dict[str, str] = {}
        for f in fields(self):
            if runner and f.name == "cancel":
                continue
            value = getattr(self, f.name)
            doc[f.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return doc

    @classmethod
    def from_doc(cls, raw: Mapping[bytes | str, bytes | str]) -> WarmJob:
        doc = {_text(k): _text(v) for k, v in raw.items()}
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in doc:
                continue
            text = doc[f.name]
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if kind == "int":
                values[f.name] = int(text)
            elif kind == "float":
                values[f.name] = float(text)
            elif kind == "bool":
                values[f.name] = text == "1"
            else:
                values[f.name] = text
        return cls(**values)

    # -- the API record -------------------------------------------------------------------------
    def seconds(self, clock: float) -> float:
        """Time spent running over every run, the current one counted up to `clock`."""
        if self.run_started:
            return self.elapsed + max(0.0, clock - self.run_started)
        return self.elapsed

    def fold(self, clock: float) -> None:
        """The current run ended at `clock`: add it to `elapsed`."""
        self.elapsed, self.run_started = self.seconds(clock), 0.0

    def stale(self, now: float) -> bool:
        return self.state == "running" and now - self.updated > STALE_SECONDS

    def to_json(self, now: float, *, local: bool) -> dict[str, Any]:
        state, error = self.state, self.error
        if not local and self.stale(now):
            state = "failed"
            error = (
                f"no heartbeat from node {self.node} for {int(now - self.updated)} s"
                " (did it stop?); resume the job"
            )
        # A record from another node is as recent as its last heartbeat.
        seconds = self.seconds(now if local else self.updated)
        return {
            "job_id": self.job_id,
            "pbucket": self.pbucket,
            "prefix": self.prefix,
            "parallel": self.parallel,
            "page_size": self.page_size,
            "state": state,
            "objects_done": self.objects_done,
            "bytes_done": self.bytes_done,
            "blocks_fetched": self.blocks_fetched,
            "errors": self.errors,
            "last_error": self.last_error or None,
            "error": error or None,
            "started": _iso(self.started),
            "finished": _iso(self.finished) if self.finished else None,
            "updated": _iso(self.updated),
            "last_key": self.last_key or None,
            "seconds": round(seconds, 3),
            "rate_mb_s": round(self.bytes_done / seconds / MB, 2) if seconds > 0 else 0.0,
            "node": self.node,
            "resumes": self.resumes,
            "cancel_requested": self.cancel and state == "running",
        }


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _describe(err: BaseException) -> str:
    """A short, vendor-neutral reason (S3 error code where there is one)."""
    s3 = to_s3_error(err)
    if s3 is not None:
        return s3.code
    return type(err).__name__


class _ListingFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Page:
    """A listed page being warmed: done when it was fed whole and nothing of it remains."""

    end_key: str
    remaining: int
    fed: bool = False
    objects: int = 0
    bytes: int = 0
    errors: int = 0


@dataclass(eq=False)
class _Run:
    """A job running on this node."""

    jobs: WarmJobs
    job: WarmJob
    cache: CacheService
    view: BucketView
    stopping: bool = False
    #: the state a requested stop ends in, and why
    stop_state: State = "cancelled"
    stop_reason: str = ""
    task: asyncio.Task[None] | None = None
    _pages: collections.deque[_Page] = field(default_factory=collections.deque)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def main(self) -> None:
        job = self.job
        flusher = asyncio.ensure_future(self._flush_loop())
        try:
            complete = await self._walk()
            await self._written()
            if complete:
                job.state = "done"  # a stop that came after the last object changes nothing
            else:
                job.state, job.error = self.stop_state, self.stop_reason
        except asyncio.CancelledError:
            job.state, job.error = self.stop_state, self.stop_reason or "interrupted"
            raise
        except _ListingFailed as err:
            log.warning("warm job %s: listing failed: %s", job.job_id, err.reason)
            job.state, job.error = "failed", f"listing failed: {err.reason}"
        except Exception as err:
            log.exception("warm job %s failed", job.job_id)
            job.state, job.error = "failed", _describe(err)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            now = time.time()
            job.fold(now)
            job.finished = now
            try:
                await self.save()
            except Exception:
                log.exception("warm job %s: final state not stored", job.job_id)
            self.jobs.forget(job.job_id)
            log.info(
                "warm job %s %s: objects=%d bytes=%d blocks_fetched=%d errors=%d",
                job.job_id,
                job.state,
                job.objects_done,
                job.bytes_done,
                job.blocks_fetched,
                job.errors,
            )

    async def _walk(self) -> bool:
        """Warm every page; True when the prefix was walked to its end."""
        job = self.job
        queue: asyncio.Queue[tuple[_Page, ListEntry]] = asyncio.Queue(maxsize=2 * job.parallel)
        workers = [asyncio.ensure_future(self._worker(queue)) for _ in range(job.parallel)]
        try:
            listing = asyncio.ensure_future(self._list(job.last_key or None))
            while True:
                try:
                    page = await listing
                except _ListingFailed:
                    await queue.join()  # what is in hand ends normally: the counters stay exact
                    raise
                entries = page.entries
                end = page.next_start_after or (entries[-1].key if entries else "")
                more = page.is_truncated and bool(end) and not self.stopping
                if more:
                    listing = asyncio.ensure_future(self._list(end))
                state = _Page(end_key=end, remaining=len(entries))
                self._pages.append(state)
                for entry in entries:
                    if self.stopping:
                        break
                    await queue.put((state, entry))
                else:
                    state.fed = True
                    await self._advance()
                if not more or self.stopping:
                    break
            await queue.join()
            return not self._pages
        finally:
            if not listing.done():
                listing.cancel()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _list(self, start_after: str | None) -> ListPage:
        job = self.job
        try:
            return await self.view.list_objects(
                prefix=job.prefix, max_keys=job.page_size, start_after=start_after
            )
        except Exception as err:
            raise _ListingFailed(_describe(err)) from err

    async def _worker(self, queue: asyncio.Queue[tuple[_Page, ListEntry]]) -> None:
        while True:
            page, entry = await queue.get()
            try:
                if not self.stopping:
                    await self._warm(page, entry)
                    await self._settle(WRITE_BACKLOG)
            finally:
                queue.task_done()

    async def _warm(self, page: _Page, entry: ListEntry) -> None:
        job = self.job
        try:
            size, fetched = await warm_object(self.cache, self.view, job.pbucket, entry.key)
        except Exception as err:  # one object failed: counted, the job goes on
            reason = _describe(err)
            log.info("warm job %s: %s: %s", job.job_id, entry.key, reason)
            job.errors += 1
            job.last_error = f"{entry.key}: {reason}"[:300]
            page.errors += 1
        else:
            job.objects_done += 1
            job.bytes_done += size
            job.blocks_fetched += fetched
            page.objects += 1
            page.bytes += size
        page.remaining -= 1
        await self._advance()

    async def _settle(self, backlog: int) -> None:
        """Wait until at most `backlog` bytes of fetched blocks still wait for their tier write
        (the cache writes them beside the reads), so warming never outruns the disks."""
        cache = self.cache
        while cache.pending and sum(len(b) for b in cache.filling.values()) > backlog:
            await asyncio.wait(set(cache.pending), return_when=asyncio.FIRST_COMPLETED)

    async def _written(self) -> None:
        """The end of a run: its blocks are in the tiers (so they survive a restart)."""
        try:
            async with asyncio.timeout(WRITE_WAIT):
                await self._settle(0)
        except TimeoutError:
            log.warning("warm job %s: tier writes still pending", self.job.job_id)

    async def _advance(self) -> None:
        """Move the checkpoint past every completed page at the head, in listing order."""
        job, moved = self.job, False
        while self._pages and self._pages[0].fed and self._pages[0].remaining == 0:
            page = self._pages.popleft()
            job.ck_objects += page.objects
            job.ck_bytes += page.bytes
            job.ck_errors += page.errors
            if page.end_key:
                job.last_key = page.end_key
            moved = True
        if moved:
            await self._sync("checkpoint")

    async def save(self) -> None:
        """Write the record (snapshot taken under the lock, so writes never go back)."""
        async with self._lock:
            self.job.updated = time.time()
            await self.jobs.write(self.job, runner=True)

    async def _sync(self, what: str) -> None:
        """Save, then look for a cancel flagged by another node (at every checkpoint and
        heartbeat). A Redis hiccup is logged: the next checkpoint or heartbeat catches up."""
        try:
            await self.save()
            flag = await self.jobs.redis.hget(job_key(self.job.job_id), "cancel")
        except Exception as err:
            log.warning("warm job %s: %s not stored: %s", self.job.job_id, what, err)
            return
        if flag is not None and _text(flag) == "1" and not self.stopping:
            self.stopping, self.stop_state, self.stop_reason = True, "cancelled", ""

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)  # the heartbeat period
            await self._sync("heartbeat")

    async def stop(self, state: State, reason: str, grace: float) -> None:
        """Stop handing out objects; after `grace` seconds, cancel what is still in hand."""
        self.stopping, self.stop_state, self.stop_reason = True, state, reason
        task = self.task
        if task is None or task.done():
            return
        _, pending = await asyncio.wait([task], timeout=grace)
        if pending:
            task.cancel()
            await asyncio.wait([task])


class WarmJobs:
    """This node's warm-up jobs and the job records in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.node = node_name()
        self._running: dict[str, _Run] = {}

    # -- records --------------------------------------------------------------------------------
    async def write(self, job: WarmJob, *, runner: bool = False) -> None:
        key = job_key(job.job_id)
        await self.redis.hset(key, mapping=job.to_doc(runner=runner))  # type: ignore[arg-type]
        await self.redis.expire(key, JOB_TTL)

    async def read(self, job_id: str) -> WarmJob | None:
        run = self._running.get(job_id)
        if run is not None:
            return run.job
        raw = await self.redis.hgetall(job_key(job_id))
        return WarmJob.from_doc(raw) if raw else None

    async def pbucket_of(self, job_id: str) -> str | None:
        run = self._running.get(job_id)
        if run is not None:
            return run.job.pbucket
        value = await self.redis.hget(job_key(job_id), "pbucket")
        return None if value is None else _text(value)

    def is_local(self, job_id: str) -> bool:
        return job_id in self._running

    def forget(self, job_id: str) -> None:
        self._running.pop(job_id, None)

    def record(self, job: WarmJob) -> dict[str, Any]:
        return job.to_json(time.time(), local=self.is_local(job.job_id))

    # -- operations -----------------------------------------------------------------------------
    async def start(
        self, services: Services, pbucket: str, prefix: str, parallel: int, page_size: int
    ) -> WarmJob:
        cache = _cache(services)
        view = await services.router.view(pbucket)  # NoSuchPBucket: 404 NoSuchBucket
        now = time.time()
        job = WarmJob(
            job_id=uuid.uuid4().hex,
            pbucket=pbucket,
            prefix=prefix,
            parallel=parallel,
            page_size=page_size,
            node=self.node,
            started=now,
            updated=now,
            run_started=now,
        )
        await self.write(job)
        await self.redis.zadd(INDEX, {job.job_id: now})
        await self.redis.zremrangebyrank(INDEX, 0, -INDEX_KEEP - 1)
        self._spawn(job, cache, view)
        return job

    async def resume(
        self, services: Services, job_id: str, parallel: int | None, page_size: int | None
    ) -> WarmJob:
        """Continue a cancelled, failed or orphaned job from its checkpoint, on this node."""
        cache = _cache(services)
        if job_id in self._running:
            raise JobProblem("InvalidJobState", 409, f"Job {job_id} is running on this node.")
        key = job_key(job_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                # WATCH: of two nodes resuming one job at once, one wins.
                await pipe.watch(key)
                raw = await pipe.hgetall(key)
                if not raw:
                    raise _no_such_job(job_id)
                job = WarmJob.from_doc(raw)
                now = time.time()
                if job.state == "done":
                    raise JobProblem("InvalidJobState", 409, f"Job {job_id} is done already.")
                if job.state == "running" and not job.stale(now):
                    raise JobProblem(
                        "InvalidJobState", 409, f"Job {job_id} is running on node {job.node}."
                    )
                view = await services.router.view(job.pbucket)
                job.fold(job.updated)  # a run that ended without saying so (its node died)
                job.objects_done, job.bytes_done = job.ck_objects, job.ck_bytes
                job.errors = job.ck_errors
                if not job.errors:
                    job.last_error = ""
                job.parallel = parallel or job.parallel
                job.page_size = page_size or job.page_size
                job.state, job.error, job.cancel = "running", "", False
                job.finished, job.node, job.resumes = 0.0, self.node, job.resumes + 1
                job.updated = job.run_started = now
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping=job.to_doc())  # type: ignore[arg-type]
                pipe.expire(key, JOB_TTL)
                await pipe.execute()
        except WatchError:
            raise JobProblem(
                "ConcurrentModification", 409, f"Job {job_id} changed meanwhile; retry."
            ) from None
        self._spawn(job, cache, view)
        return job

    async def cancel(self, job_id: str) -> WarmJob:
        """Stop a job. Local: waits until it stopped. Elsewhere: flags it for its node (seen at
        its next checkpoint or heartbeat). A finished job is returned as it is."""
        run = self._running.get(job_id)
        if run is not None:
            await run.stop("cancelled", "", STOP_GRACE)
            return run.job
        job = await self.read(job_id)
        if job is None:
            raise _no_such_job(job_id)
        if job.state != "running":
            return job
        now = time.time()
        if job.stale(now):  # its node is gone: nobody else will write it
            job.fold(job.updated)
            job.state, job.finished, job.updated = "cancelled", now, now
            await self.write(job)
        else:
            job.cancel = True
            await self.redis.hset(job_key(job_id), "cancel", "1")
        return job

    async def recent(self) -> list[WarmJob]:
        """The most recent jobs, newest first."""
        found = await self.redis.zrevrange(INDEX, 0, LIST_LIMIT - 1)
        ids = [_text(i) for i in found if isinstance(i, bytes | str)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(job_key(job_id))
            docs = await pipe.execute()
        jobs: list[WarmJob] = []
        gone: list[str] = []
        for job_id, raw in zip(ids, docs, strict=True):
            run = self._running.get(job_id)
            if run is not None:
                jobs.append(run.job)
            elif raw:
                jobs.append(WarmJob.from_doc(raw))
            else:
                gone.append(job_id)  # expired
        if gone:
            await self.redis.zrem(INDEX, *gone)
        return jobs

    async def shutdown(self, app: web.Application) -> None:
        """The node is stopping: its jobs end as failed, to be resumed elsewhere or later."""
        runs = list(self._running.values())
        await asyncio.gather(
            *(
                run.stop("failed", f"the node {self.node} stopped; resume the job", SHUTDOWN_GRACE)
                for run in runs
            ),
            return_exceptions=True,
        )

    def _spawn(self, job: WarmJob, cache: CacheService, view: BucketView) -> None:
        run = _Run(self, job, cache, view)
        self._running[job.job_id] = run
        run.task = asyncio.ensure_future(run.main())


def _cache(services: Services) -> CacheService:
    if services.cache is None:
        raise JobProblem("CacheDisabled", 409, "This node runs without a block cache.")
    return services.cache


WARM_JOBS = web.AppKey("pcache_warm_jobs", WarmJobs)


def add_warm_jobs(app: web.Application, redis: Redis) -> WarmJobs:
    """Give the node's app its job registry; running jobs stop (resumable) at shutdown."""
    jobs = WarmJobs(redis)
    app[WARM_JOBS] = jobs
    app.on_shutdown.append(jobs.shutdown)
    return jobs
