"""Prometheus counters of lifecycle jobs (ttl.run tells them through its RunObserver hook).

    pcache_lifecycle_objects_total{pbucket, action}  scanned / expired / transitioned /
                                                      aborted / errors (real runs only)
    pcache_lifecycle_bytes_total{pbucket, action}    bytes expired / transitioned
    pcache_lifecycle_jobs_total{pbucket, state, dry_run}   runs that ended, by outcome
    pcache_lifecycle_job_seconds_total{pbucket}      time spent running jobs

The PBucket label is a name with lifecycle rules (created by an administrator), so the series
set stays bounded.
"""

from __future__ import annotations

from prometheus_client import Counter

from gateway.metrics import REGISTRY
from ttl.job import JobRecord

__all__ = ["LifecycleMetrics"]

OBJECTS = Counter(
    "pcache_lifecycle_objects",
    "Objects lifecycle jobs scanned, expired, transitioned, aborted (uploads) or failed on.",
    ["pbucket", "action"],
    registry=REGISTRY,
)
BYTES = Counter(
    "pcache_lifecycle_bytes",
    "Bytes of the objects lifecycle jobs expired or transitioned.",
    ["pbucket", "action"],
    registry=REGISTRY,
)
JOBS = Counter(
    "pcache_lifecycle_jobs",
    "Lifecycle job runs that ended, by outcome (succeeded / failed) and dry run.",
    ["pbucket", "state", "dry_run"],
    registry=REGISTRY,
)
JOB_SECONDS = Counter(
    "pcache_lifecycle_job_seconds",
    "Seconds lifecycle job runs took.",
    ["pbucket"],
    registry=REGISTRY,
)


class LifecycleMetrics:
    """The ttl.run_context.RunObserver of this process."""

    def counted(self, pbucket: str, what: str, objects: int, nbytes: int) -> None:
        OBJECTS.labels(pbucket, what).inc(objects)
        if nbytes:
            BYTES.labels(pbucket, what).inc(nbytes)

    def ended(self, job: JobRecord, seconds: float) -> None:
        JOBS.labels(job.pbucket, job.state, "true" if job.dry_run else "false").inc()
        JOB_SECONDS.labels(job.pbucket).inc(seconds)
