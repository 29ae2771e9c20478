"""Background `rebalance` and `migrate` jobs: walk a PBucket's targets page by page and fix each
key (`router.job_steps`), resumable, cancellable, one job per PBucket cluster-wide.

A job runs as an asyncio task in the node that accepted it. It lists one target at a time
(`page_size` keys a page, so memory stays at one page) and `parallel` workers handle the page's
keys, handed out in key order. Records live in Redis (`router.job_record`, namespace `pc:rt`),
so any node answers for any job and a job outlives its node:

* Checkpoint after each page: (target, last key) and the counters at that point. A stop hands
  out no more keys and lets those in hand finish (STOP_GRACE seconds at most), so it can
  checkpoint at the last key handed out; a crash resumes from the last page checkpoint.
  Keys after a checkpoint are walked again on resume; a key already fixed is then found in
  place (rebalance: gone from the wrong target; migrate: present on new), so nothing is
  copied twice and the counters restart from the checkpoint's.
* Heartbeat every FLUSH_SECONDS: live counters, the lock extended, another node's cancel seen.
  A `running` job with an older heartbeat than STALE_SECONDS is shown as failed (its node
  died) and may be resumed; its lock has lapsed by then.
* Lock: `pc:rt:lock:{<pbucket>}` holds the running job's id. Starting or resuming a job
  while another holds it is refused (JobProblem 409).
* After each page walked (not on a dry run), `on_moved(pbucket)`: the gateway drops the
  PBucket's cached listings on every node, as a moved or copied key has a new LastModified.
* The PBucket is looked up again for every page: if its targets or policy changed, the job
  fails (each key's owner may have changed) and a new job is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from router.balance import BalanceView
from router.errors import NoSuchPBucket, RouterError, UpstreamError, VendorUnavailable
from router.job_model import KINDS, PLAN_KEEP, RouterJob
from router.job_record import JobRecords, new_job_id, node_name
from router.job_steps import Step, migrate_key, rebalance_key, target_label
from router.migrate import MigrateView
from router.models import ListEntry, ListPage
from router.pbucket import BucketView
from router.registry import Router
from router.transfer import VerifyFailed

__all__ = [
    "DEFAULT_PARALLEL",
    "MAX_PAGE",
    "MAX_PARALLEL",
    "JobProblem",
    "RouterJobs",
]

log = logging.getLogger("pcache.router.jobs")

NAMESPACE = "pc:rt"
FLUSH_SECONDS = 2.0
STOP_GRACE = 5.0
SHUTDOWN_GRACE = 3.0
DEFAULT_PARALLEL = 8
MAX_PARALLEL = 64
MAX_PAGE = 1000
LIST_LIMIT = 100


class JobProblem(Exception):
    """A job request that cannot be served: `code`, HTTP `status`, `message`."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class _Failed(Exception):
    """The job cannot go on (`reason` says why); it ends `failed`, resumable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(err: BaseException) -> str:
    """A short, vendor-neutral reason (an S3 error code where there is one)."""
    if isinstance(err, UpstreamError):
        return err.code
    if isinstance(err, VendorUnavailable):
        return "ServiceUnavailable"
    if isinstance(err, VerifyFailed):
        return f"VerifyFailed: {err}"
    return type(err).__name__


def _shape(view: BucketView) -> list[str]:
    return [f"{target_label(view, i)} w={t.weight:g}" for i, t in enumerate(view.pbucket.targets)]


def _no_such_job(job_id: str) -> JobProblem:
    return JobProblem(
        "NoSuchJob", 404, f"There is no router job {job_id} (jobs expire after 7 days)."
    )


class _Run:
    """A job running on this node."""

    def __init__(self, jobs: RouterJobs, job: RouterJob) -> None:
        self.jobs, self.job = jobs, job
        self.stopping = False
        self.stop_state, self.stop_reason = "cancelled", ""
        self.task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def main(self) -> None:
        job = self.job
        beat = asyncio.ensure_future(self._heartbeat())
        try:
            if await self._walk():
                job.state = "done"
            else:
                job.state, job.error = self.stop_state, self.stop_reason
        except asyncio.CancelledError:
            job.state, job.error = self.stop_state, self.stop_reason or "interrupted"
            raise
        except _Failed as err:
            log.warning("%s job %s failed: %s", job.kind, job.job_id, err.reason)
            job.state, job.error = "failed", err.reason
        except Exception as err:
            log.exception("%s job %s failed", job.kind, job.job_id)
            job.state, job.error = "failed", _describe(err)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            now = time.time()
            job.fold(now)
            job.finished = now
            try:
                await self.save()
                await self.jobs.records.unlock(job.pbucket, job.job_id)
            except Exception:
                log.exception("%s job %s: final state not stored", job.kind, job.job_id)
            self.jobs.forget(job.job_id)
            log.info("%s job %s %s: %s", job.kind, job.job_id, job.state, job.counters)

    async def _view(self) -> BucketView:
        job = self.job
        try:
            view = await self.jobs.router.view(job.pbucket)
        except NoSuchPBucket:
            raise _Failed(f"the PBucket {job.pbucket} was deleted") from None
        if view.pbucket.policy != KINDS[job.kind] or _shape(view) != job.targets:
            raise _Failed("the PBucket's policy or targets changed; start a new job")
        return view

    async def _walk(self) -> bool:
        """Walk every target in `job.walk` from the checkpoint; True when all were walked."""
        job = self.job
        while job.cursor < len(job.walk):
            if self.stopping:
                return False
            view = await self._view()
            index = job.walk[job.cursor]
            page = await self._list(view, index)
            try:
                handed = await self._page(view, index, page.entries)
            finally:
                if self.jobs.on_moved is not None and not job.dry_run and page.entries:
                    await self.jobs.on_moved(job.pbucket)
            if handed is not None:  # stopped inside the page
                job.last_key = handed or job.last_key
                await self._checkpoint()
                return False
            end = page.next_start_after or (page.entries[-1].key if page.entries else "")
            if page.is_truncated and end:
                job.last_key = end
            else:
                job.cursor, job.last_key = job.cursor + 1, ""
            await self._checkpoint()
        return True

    async def _list(self, view: BucketView, index: int) -> ListPage:
        job = self.job
        assert isinstance(view, BalanceView)  # `_view` checked the policy (migrate is one too)
        try:
            return await view.parts[index].list_objects(
                max_keys=job.page_size, start_after=job.last_key or None
            )
        except RouterError as err:
            where = target_label(view, index)
            raise _Failed(f"listing {where} failed: {_describe(err)}") from err

    async def _page(self, view: BucketView, index: int, entries: list[ListEntry]) -> str | None:
        """Fix every key of a page, `parallel` at once; None when the whole page was handed out,
        else the last key handed out before a stop ("" for none)."""
        room = asyncio.Semaphore(self.job.parallel)
        tasks: list[asyncio.Task[None]] = []
        handed: str | None = None
        try:
            for entry in entries:
                await room.acquire()
                if self.stopping:
                    room.release()
                    handed = handed or ""
                    break
                tasks.append(asyncio.ensure_future(self._one(room, view, index, entry)))
                handed = entry.key
            else:
                handed = None
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        return handed

    def _step(self, view: BucketView, index: int, entry: ListEntry) -> Awaitable[Step]:
        dry = self.job.dry_run
        if isinstance(view, MigrateView):
            return migrate_key(view, entry, dry_run=dry)
        assert isinstance(view, BalanceView)  # `_view` checked the policy
        return rebalance_key(view, index, entry, dry_run=dry)

    async def _one(
        self, room: asyncio.Semaphore, view: BucketView, index: int, entry: ListEntry
    ) -> None:
        job = self.job
        try:
            step = await self._step(view, index, entry)
        except Exception as err:  # one key failed: counted, the job goes on
            reason = _describe(err)
            log.info("%s job %s: %r: %s", job.kind, job.job_id, entry.key, reason)
            job.counters["scanned"] += 1
            job.counters["errors"] += 1
            job.last_error = f"{entry.key}: {reason}"[:300]
        else:
            for name, amount in step.counts.items():
                job.counters[name] += amount
            if step.plan is not None and len(job.plan) < PLAN_KEEP:
                job.plan.append(step.plan)
        finally:
            room.release()

    async def _checkpoint(self) -> None:
        self.job.take_checkpoint()
        await self._sync("checkpoint")

    async def save(self) -> None:
        """Write the record (under a lock, so an older snapshot never lands after a newer)."""
        async with self._lock:
            self.job.updated = time.time()
            await self.jobs.records.save(self.job.job_id, self.job.to_doc())

    async def _sync(self, what: str) -> None:
        """Save, extend the lock, and look for a cancel asked by another node. A Redis hiccup
        is logged: the next checkpoint or heartbeat catches up."""
        job, records = self.job, self.jobs.records
        try:
            await self.save()
            held = await records.refresh_lock(job.pbucket, job.job_id)
            cancel = await records.cancel_requested(job.job_id)
        except Exception as err:
            log.warning("%s job %s: %s not stored: %s", job.kind, job.job_id, what, err)
            return
        if self.stopping:
            return
        if not held:
            self.stopping, self.stop_state = True, "failed"
            self.stop_reason = "the job lost its PBucket lock (heartbeats were late); resume it"
        elif cancel:
            self.stopping, self.stop_state, self.stop_reason = True, "cancelled", ""
            job.cancel = True

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self._sync("heartbeat")

    async def stop(self, state: str, reason: str, grace: float) -> None:
        """Hand out no more keys; after `grace` seconds cancel what is still in hand."""
        self.stopping, self.stop_state, self.stop_reason = True, state, reason
        task = self.task
        if task is None or task.done():
            return
        _, pending = await asyncio.wait([task], timeout=grace)
        if pending:
            task.cancel()
            await asyncio.wait([task])


class RouterJobs:
    """This node's rebalance and migrate jobs, and every node's job records in Redis."""

    def __init__(
        self, router: Router, on_moved: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.router = router
        #: called with the PBucket's name after a page's keys were moved or copied (not on a
        #: dry run): copies carry new LastModified dates, so cached listings are dropped
        self.on_moved = on_moved
        self.records = JobRecords(router.redis, NAMESPACE)
        self.node = node_name()
        self._running: dict[str, _Run] = {}

    # -- records ----------------------------------------------------------------------------------
    async def read(self, job_id: str) -> RouterJob | None:
        run = self._running.get(job_id)
        if run is not None:
            return run.job
        loaded = await self.records.load(job_id)
        if loaded is None:
            return None
        doc, cancel = loaded
        return RouterJob.from_doc(doc, cancel=cancel)

    async def recent(self, pbucket: str | None = None) -> list[RouterJob]:
        """The most recent jobs (of one PBucket), newest first."""
        out: list[RouterJob] = []
        for job_id, doc in await self.records.recent(pbucket, LIST_LIMIT):
            run = self._running.get(job_id)
            out.append(run.job if run is not None else RouterJob.from_doc(doc))
        return out

    def record(self, job: RouterJob) -> dict[str, object]:
        return job.to_json(time.time(), local=job.job_id in self._running)

    def forget(self, job_id: str) -> None:
        self._running.pop(job_id, None)

    # -- operations -------------------------------------------------------------------------------
    async def _fitting_view(self, kind: str, pbucket: str) -> BucketView:
        try:
            view = await self.router.view(pbucket)
        except NoSuchPBucket:
            raise JobProblem(
                "NoSuchBucket", 404, f"The PBucket {pbucket} does not exist."
            ) from None
        policy = KINDS[kind]
        if view.pbucket.policy != policy:
            raise JobProblem(
                "InvalidPolicy",
                409,
                f"A {kind} job needs a PBucket with policy '{policy}';"
                f" {pbucket} has '{view.pbucket.policy}'.",
            )
        return view

    async def _lock(self, pbucket: str, job_id: str) -> None:
        if not await self.records.lock(pbucket, job_id):
            holder = await self.records.holder(pbucket)
            raise JobProblem(
                "JobRunning", 409, f"Job {holder} is running for PBucket {pbucket} already."
            )

    async def start(
        self, kind: str, pbucket: str, *, dry_run: bool, parallel: int, page_size: int
    ) -> RouterJob:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        view = await self._fitting_view(kind, pbucket)
        now = time.time()
        shape = _shape(view)
        job = RouterJob(
            job_id=new_job_id(),
            kind=kind,
            pbucket=pbucket,
            dry_run=dry_run,
            parallel=parallel,
            page_size=page_size,
            node=self.node,
            started=now,
            updated=now,
            run_started=now,
            targets=shape,
            walk=list(range(len(shape))) if kind == "rebalance" else [1],
        )
        await self._lock(pbucket, job.job_id)
        try:
            await self.records.save(job.job_id, job.to_doc(), cancel=False)
            await self.records.index(job.job_id, pbucket, now)
        except BaseException:
            await self.records.unlock(pbucket, job.job_id)
            raise
        self._spawn(job)
        return job

    async def resume(self, job_id: str, parallel: int | None) -> RouterJob:
        """Continue a cancelled, failed or orphaned job from its checkpoint, on this node."""
        if job_id in self._running:
            raise JobProblem("InvalidJobState", 409, f"Job {job_id} is running on this node.")
        job = await self.read(job_id)
        if job is None:
            raise _no_such_job(job_id)
        now = time.time()
        if job.state == "done":
            raise JobProblem("InvalidJobState", 409, f"Job {job_id} is done already.")
        if job.state == "running" and not job.stale(now):
            raise JobProblem("InvalidJobState", 409, f"Job {job_id} is running on node {job.node}.")
        await self._fitting_view(job.kind, job.pbucket)
        await self._lock(job.pbucket, job_id)  # of two nodes resuming one job, one wins
        try:
            job.fold(job.updated)  # a run that ended without saying so (its node died)
            job.restore_checkpoint()
            job.parallel = parallel or job.parallel
            job.state, job.error, job.cancel = "running", "", False
            job.finished, job.node, job.resumes = 0.0, self.node, job.resumes + 1
            job.updated = job.run_started = now
            await self.records.save(job_id, job.to_doc(), cancel=False)
        except BaseException:
            await self.records.unlock(job.pbucket, job_id)
            raise
        self._spawn(job)
        return job

    async def cancel(self, job_id: str) -> RouterJob:
        """Stop a job. Here: waits until it stopped. Elsewhere: flags it for its node (seen at
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
        if job.stale(now):  # its node is gone: nobody else will write the record
            job.fold(job.updated)
            job.state, job.finished, job.updated = "cancelled", now, now
            await self.records.save(job_id, job.to_doc())
        else:
            job.cancel = True
            await self.records.request_cancel(job_id)
        return job

    async def shutdown(self) -> None:
        """The node is stopping: its jobs end as failed, to be resumed elsewhere or later."""
        reason = f"the node {self.node} stopped; resume the job"
        await asyncio.gather(
            *(run.stop("failed", reason, SHUTDOWN_GRACE) for run in list(self._running.values())),
            return_exceptions=True,
        )

    def _spawn(self, job: RouterJob) -> None:
        run = _Run(self, job)
        self._running[job.job_id] = run
        run.task = asyncio.ensure_future(run.main())
