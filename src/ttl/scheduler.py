"""The lifecycle scheduler: on every node, now and then, run each PBucket's rules once per
`interval`.

Every node runs one; the PBucket's lease decides which node does a given run, and the last
successful run's time (read under the lease) decides whether one is due, so N nodes make one
run per PBucket per interval. A node wakes every `interval` / 24 (between 1 s and 1 h), so a
run is never more than that late, and goes through the PBuckets that have rules one after the
other: one job per node at a time keeps the load on vendors and Redis flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from router.errors import RouterError
from ttl.job import JobRecord
from ttl.run import LeaseBusy, LifecycleJobs, NoLifecycle

__all__ = ["Scheduler", "wake_period"]

log = logging.getLogger("pcache.lifecycle")


def wake_period(interval: timedelta) -> float:
    return min(3600.0, max(1.0, interval.total_seconds() / 24))


class Scheduler:
    def __init__(self, jobs: LifecycleJobs) -> None:
        self.jobs = jobs
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> list[JobRecord]:
        """One pass over the PBuckets with rules; the jobs this node ran."""
        ran: list[JobRecord] = []
        interval = self.jobs.settings.interval
        for pbucket in await self.jobs.rules.buckets():
            try:
                job = await self.jobs.run(pbucket, due_after=interval)
            except (LeaseBusy, NoLifecycle):
                continue  # another node runs it, or its rules are gone
            except RouterError as err:  # e.g. rules left behind by a PBucket deleted meanwhile
                log.warning("lifecycle %s: not run: %s", pbucket, err)
                continue
            except Exception:  # a PBucket that cannot run must not stop the others
                log.exception("lifecycle %s: scheduled run not started", pbucket)
                continue
            if job is not None:
                ran.append(job)
        return ran

    async def _loop(self) -> None:
        period = wake_period(self.jobs.settings.interval)
        while True:
            # Sleep first: a node that restarts does not rescan at once (runs are daily; a
            # due one waits one period at most).
            await asyncio.sleep(period)  # the schedule itself, not a synchronisation
            try:
                await self.tick()
            except Exception:  # Redis away: try again next time
                log.exception("lifecycle scheduler pass failed")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.jobs.shutdown()
