"""`pcache admin lifecycle run|jobs`: run a PBucket's lifecycle rules now, read the history.

    lifecycle run BUCKET [--dry-run] [--wait [--interval S]]
    lifecycle jobs BUCKET [JOB_ID]

`--wait` polls the job until it ends, printing a progress line per poll on stderr, then the
summary; the exit code is 1 when the job failed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from gateway.admin_cli.client import ApiError, path
from gateway.admin_cli.commands import Context
from gateway.admin_cli.output import Column

__all__ = ["add_lifecycle_job_commands"]

JOBS: list[Column] = [
    ("JOB_ID", "job_id"),
    ("STATE", "state"),
    ("DRY_RUN", "dry_run"),
    ("STARTED", "started"),
    ("SCANNED", "scanned"),
    ("EXPIRED", "expired"),
    ("TRANSITIONED", "transitioned"),
    ("ABORTED", "aborted"),
    ("ERRORS", "errors"),
]


def _progress(job: dict[str, Any]) -> str:
    return (
        f"{job['state']}: scanned {job['scanned']}, expired {job['expired']}, "
        f"transitioned {job['transitioned']}, aborted {job['aborted']}, errors {job['errors']}"
    )


def lifecycle_run(ctx: Context, a: argparse.Namespace) -> None:
    target = path("pbuckets", a.bucket, "lifecycle", "run")
    job = ctx.client.call("POST", target, {"dry_run": bool(a.dry_run)})
    if a.wait:
        one = path("pbuckets", a.bucket, "lifecycle", "jobs", job["job_id"])
        while job["state"] == "running":
            ctx.err.write(_progress(job) + "\n")
            time.sleep(a.interval)  # the polling period, not a synchronisation
            job = ctx.client.call("GET", one)
    ctx.show(job)
    if a.wait and job["state"] == "failed":  # printed as `code: message`, exit code 1
        raise ApiError("LifecycleJobFailed", str(job.get("error") or "the job failed"))


def lifecycle_jobs(ctx: Context, a: argparse.Namespace) -> None:
    if a.job_id:
        ctx.show(ctx.client.call("GET", path("pbuckets", a.bucket, "lifecycle", "jobs", a.job_id)))
        return
    reply = ctx.client.call("GET", path("pbuckets", a.bucket, "lifecycle", "jobs"))
    ctx.show(reply, columns=JOBS)


def add_lifecycle_job_commands(verb: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds `run` and `jobs` to the `lifecycle` noun."""
    leaf = verb("run", lifecycle_run, "apply a PBucket's lifecycle rules now", "bucket")
    leaf.add_argument(
        "--dry-run", action="store_true", help="list what would happen, change nothing"
    )
    leaf.add_argument("--wait", action="store_true", help="poll until the job ends")
    leaf.add_argument("--interval", type=float, default=1.0, metavar="S", help="poll period")
    leaf = verb("jobs", lifecycle_jobs, "a PBucket's lifecycle jobs, or one of them", "bucket")
    leaf.add_argument("job_id", nargs="?", metavar="JOB_ID")
