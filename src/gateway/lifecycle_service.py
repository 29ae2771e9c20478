"""The node's lifecycle jobs and scheduler, wired to the router, the cache and the metrics.

Jobs resolve PBuckets through the router (so every policy's targets are acted on), drop the
cache entry of every object they expire or transition (`CacheService.forget`: this node's
copy and, through the invalidation channel, every other node's), and count into Prometheus.
The scheduler starts with the app (when `[lifecycle] enabled`) and stops before it; running
jobs stop at their next step, resumable.
"""

from __future__ import annotations

from aiohttp import web

from gateway.context import Services
from gateway.lifecycle_metrics import LifecycleMetrics
from router.pbucket import BucketView
from ttl.run import LifecycleJobs
from ttl.run_context import RunHooks
from ttl.scheduler import Scheduler
from ttl.settings import LifecycleSettings

__all__ = ["LIFECYCLE_JOBS", "add_lifecycle"]

LIFECYCLE_JOBS = web.AppKey("pcache_lifecycle_jobs", LifecycleJobs)


def add_lifecycle(
    app: web.Application, services: Services, settings: LifecycleSettings
) -> LifecycleJobs:
    async def views(pbucket: str) -> BucketView:
        return await services.router.view(pbucket)

    async def forget(pbucket: str, key: str) -> None:
        if services.cache is not None:
            await services.cache.forget(pbucket, key)

    jobs = LifecycleJobs(
        services.router.redis,
        views,
        settings,
        hooks=RunHooks(on_removed=forget, observer=LifecycleMetrics()),
    )
    scheduler = Scheduler(jobs)
    app[LIFECYCLE_JOBS] = jobs

    async def start(_: web.Application) -> None:
        if settings.enabled:
            scheduler.start()

    async def stop(_: web.Application) -> None:
        await scheduler.stop()  # also stops on-demand runs

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return jobs
