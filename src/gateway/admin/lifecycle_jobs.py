"""Lifecycle jobs in the admin API: run a PBucket's rules now, and read the job history.

    POST /admin/v1/pbuckets/{name}/lifecycle/run          {"dry_run"?: bool} → 202 LifecycleJob
    GET  /admin/v1/pbuckets/{name}/lifecycle/jobs         → {"items": [LifecycleJob]} newest first
    GET  /admin/v1/pbuckets/{name}/lifecycle/jobs/{job_id} → LifecycleJob (live while running
                                                            on the node that answers)

Authorisation as for the rules themselves: admin:RunLifecycleJob, ListLifecycleJobs,
GetLifecycleJob on `arn:aws:s3:::<name>`. A run while another holds the PBucket's lease is 409
LifecycleJobRunning; a PBucket without rules is 404 NoSuchLifecycleConfiguration.
"""

from __future__ import annotations

from aiohttp import web

from gateway.admin.access import pbucket
from gateway.admin.fields import AdminError, Body, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.lifecycle_service import LIFECYCLE_JOBS
from ttl.run import LeaseBusy, LifecycleJobs, NoLifecycle

__all__ = ["ENDPOINTS"]


def _jobs(request: web.Request) -> LifecycleJobs:
    return request.app[LIFECYCLE_JOBS]


async def _existing(call: AdminCall) -> str:
    name = call.params["name"]
    if await call.services.router.get(name) is None:
        raise AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")
    return name


def _job_id(value: str) -> str:
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise validation_error("job_id", "job_id must be a job id (32 lower-case hex digits)")
    return value


async def run_lifecycle(call: AdminCall) -> Reply:
    name = await _existing(call)
    body = Body(call.data)
    dry_run = body.boolean("dry_run", default=False)
    body.done()
    try:
        job = await _jobs(call.request).start(name, dry_run=dry_run)
    except LeaseBusy:
        raise AdminError(
            "LifecycleJobRunning", 409, f"A lifecycle job for {name} is running already."
        ) from None
    except NoLifecycle:
        raise AdminError(
            "NoSuchLifecycleConfiguration", 404, f"The PBucket {name} has no lifecycle rules."
        ) from None
    assert job is not None  # no `due_after`: a run always starts
    return Reply(202, job.to_json())


async def list_lifecycle_jobs(call: AdminCall) -> Reply:
    name = await _existing(call)
    jobs = await _jobs(call.request).history(name)
    return Reply(body={"items": [j.to_json() for j in jobs]})


async def get_lifecycle_job(call: AdminCall) -> Reply:
    name = await _existing(call)
    job_id = _job_id(call.params["job_id"])
    job = await _jobs(call.request).record(name, job_id)
    if job is None:
        raise AdminError("NoSuchJob", 404, f"The PBucket {name} has no lifecycle job {job_id}.")
    return Reply(body=job.to_json())


_BASE = "/admin/v1/pbuckets/{name}/lifecycle"
ENDPOINTS = (
    Endpoint("POST", _BASE + "/run", "RunLifecycleJob", run_lifecycle, pbucket, body="object"),
    Endpoint("GET", _BASE + "/jobs", "ListLifecycleJobs", list_lifecycle_jobs, pbucket),
    Endpoint("GET", _BASE + "/jobs/{job_id}", "GetLifecycleJob", get_lifecycle_job, pbucket),
)
