"""PBucket jobs in the admin API: `rebalance` (a `balance` PBucket) and `migrate` (a `migrate`
PBucket); the jobs themselves are router.router_jobs.

    POST /admin/v1/pbuckets/{name}/rebalance      {"dry_run"?, "parallel"?, "page_size"?}
    POST /admin/v1/pbuckets/{name}/migrate        (same body)            → 202 RouterJob
    GET  /admin/v1/pbuckets/{name}/jobs           → {"items": [RouterJob]} (newest first)
    GET  /admin/v1/router-jobs/{job_id}           → RouterJob
    POST /admin/v1/router-jobs/{job_id}/cancel    → RouterJob (stopped; a finished job as it was)
    POST /admin/v1/router-jobs/{job_id}/resume    {"parallel"?} → 202 RouterJob

409 InvalidPolicy when the PBucket's policy does not fit the job, 409 JobRunning while another
job runs for the PBucket (on any node), 409 InvalidJobState to resume a done or running job.

Authorisation: admin:<Action> on `arn:aws:s3:::<pbucket>`, for a job named by id its PBucket
(looked up after authentication, before authorisation; an unknown job id is `*`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from gateway.admin.access import Scope, pbucket
from gateway.admin.fields import AdminError, Body, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from router.job_record import valid_job_id
from router.router_jobs import DEFAULT_PARALLEL, MAX_PAGE, MAX_PARALLEL, JobProblem, RouterJobs

__all__ = ["ENDPOINTS", "ROUTER_JOBS", "add_router_jobs"]

ROUTER_JOBS = web.AppKey("pcache_router_jobs", RouterJobs)
#: the located job's PBucket, added to the path parameters by `_locate`
JOB_PBUCKET = "job_pbucket"


def add_router_jobs(app: web.Application, jobs: RouterJobs) -> None:
    """Give the node's app its job registry; running jobs stop (resumable) at shutdown."""

    async def shutdown(app: web.Application) -> None:
        await jobs.shutdown()

    app[ROUTER_JOBS] = jobs
    app.on_shutdown.append(shutdown)


def _jobs(call: AdminCall) -> RouterJobs:
    return call.request.app[ROUTER_JOBS]


def _problem(err: JobProblem) -> AdminError:
    return AdminError(err.code, err.status, err.message)


def _no_such_job(job_id: str) -> AdminError:
    return AdminError("NoSuchJob", 404, f"There is no router job {job_id}.")


async def _locate(
    request: web.Request, params: Mapping[str, str], data: Mapping[str, Any]
) -> Mapping[str, str]:
    job_id = params["job_id"]
    if not valid_job_id(job_id):
        raise validation_error("job_id", "job_id must be a job id (32 lower-case hex digits)")
    job = await request.app[ROUTER_JOBS].read(job_id)
    return {} if job is None else {JOB_PBUCKET: job.pbucket}


def _job_resource(scope: Scope) -> str:
    """The job's PBucket; `*` for an unknown job (404 once authorised)."""
    located = scope.params.get(JOB_PBUCKET)
    return "*" if located is None else f"arn:aws:s3:::{located}"


async def _located(call: AdminCall) -> str:
    job_id = call.params["job_id"]
    if JOB_PBUCKET not in call.params:
        raise _no_such_job(job_id)
    return job_id


def _start(kind: str) -> Callable[[AdminCall], Awaitable[Reply]]:
    async def start(call: AdminCall) -> Reply:
        body = Body(call.data)
        dry_run = body.boolean("dry_run", False)
        parallel = body.integer("parallel", low=1, high=MAX_PARALLEL, default=DEFAULT_PARALLEL)
        page_size = body.integer("page_size", low=1, high=MAX_PAGE, default=MAX_PAGE)
        body.done()
        jobs = _jobs(call)
        try:
            job = await jobs.start(
                kind, call.params["name"], dry_run=dry_run, parallel=parallel, page_size=page_size
            )
        except JobProblem as err:
            raise _problem(err) from None
        return Reply(202, jobs.record(job))

    return start


async def list_jobs(call: AdminCall) -> Reply:
    name = call.params["name"]
    jobs = _jobs(call)
    items = await jobs.recent(name)
    if not items and await call.services.router.get(name) is None:
        raise AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")
    return Reply(body={"items": [jobs.record(job) for job in items]})


async def get_job(call: AdminCall) -> Reply:
    job_id = await _located(call)
    jobs = _jobs(call)
    job = await jobs.read(job_id)
    if job is None:
        raise _no_such_job(job_id)
    return Reply(body=jobs.record(job))


async def cancel_job(call: AdminCall) -> Reply:
    job_id = await _located(call)
    jobs = _jobs(call)
    try:
        job = await jobs.cancel(job_id)
    except JobProblem as err:
        raise _problem(err) from None
    return Reply(body=jobs.record(job))


async def resume_job(call: AdminCall) -> Reply:
    job_id = await _located(call)
    body = Body(call.data)
    parallel = body.integer("parallel", low=1, high=MAX_PARALLEL, default=0) or None
    body.done()
    jobs = _jobs(call)
    try:
        job = await jobs.resume(job_id, parallel)
    except JobProblem as err:
        raise _problem(err) from None
    return Reply(202, jobs.record(job))


_ONE = "/admin/v1/router-jobs/{job_id}"
ENDPOINTS = (
    Endpoint(
        "POST",
        "/admin/v1/pbuckets/{name}/rebalance",
        "RebalancePBucket",
        _start("rebalance"),
        pbucket,
        body="object",
    ),
    Endpoint(
        "POST",
        "/admin/v1/pbuckets/{name}/migrate",
        "MigratePBucket",
        _start("migrate"),
        pbucket,
        body="object",
    ),
    Endpoint("GET", "/admin/v1/pbuckets/{name}/jobs", "ListRouterJobs", list_jobs, pbucket),
    Endpoint("GET", _ONE, "GetRouterJob", get_job, _job_resource, locate=_locate),
    Endpoint(
        "POST", _ONE + "/cancel", "CancelRouterJob", cancel_job, _job_resource, locate=_locate
    ),
    Endpoint(
        "POST",
        _ONE + "/resume",
        "ResumeRouterJob",
        resume_job,
        _job_resource,
        body="object",
        locate=_locate,
    ),
)
