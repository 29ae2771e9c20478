"""Cache warm-up jobs in the admin API (`/admin/v1/cache/warm[/{job_id}]`); the jobs themselves
are gateway.warm_jobs.

    POST   /admin/v1/cache/warm            {"pbucket", "prefix"?, "parallel"?, "page_size"?}
                                           or {"resume": job_id, ...} → 202 WarmJob
    GET    /admin/v1/cache/warm            → {"items": [WarmJob]} (newest first)
    GET    /admin/v1/cache/warm/{job_id}   → WarmJob
    DELETE /admin/v1/cache/warm/{job_id}   → WarmJob (stopped; a finished job as it was)

Authorisation: admin:WarmCache / GetWarmJob / CancelWarmJob on `arn:aws:s3:::<pbucket>`, the
job's PBucket for a resumed job or a job named by id (looked up after authentication, before
authorisation: `Endpoint.locate`; an unknown job id is `*`); admin:ListWarmJobs on `*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.admin.access import Scope, any_resource
from gateway.admin.fields import AdminError, Body, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.dispatch import MAX_KEY_BYTES, validate_bucket_name
from gateway.errors import S3Error
from gateway.warm_jobs import (
    DEFAULT_PARALLEL,
    MAX_PAGE,
    MAX_PARALLEL,
    WARM_JOBS,
    JobProblem,
    WarmJobs,
    valid_job_id,
)

__all__ = ["ENDPOINTS"]

#: the located job's PBucket, added to the path parameters by `_locate`
JOB_PBUCKET = "job_pbucket"
_FIELDS = ("pbucket", "prefix", "parallel", "page_size", "resume")


def _jobs(request: web.Request) -> WarmJobs:
    return request.app[WARM_JOBS]


def _job_id(value: object, field: str) -> str:
    if not valid_job_id(value):
        raise validation_error(field, f"{field} must be a job id (32 lower-case hex digits)")
    assert isinstance(value, str)
    return value


def _pbucket_name(value: object) -> str:
    if value is None:
        raise validation_error("pbucket", "pbucket is required")
    if not isinstance(value, str):
        raise validation_error("pbucket", "pbucket must be a string")
    try:
        validate_bucket_name(value)
    except S3Error:
        raise validation_error("pbucket", f"{value[:64]!r} is not a PBucket name") from None
    return value


async def _locate(
    request: web.Request, params: Mapping[str, str], data: Mapping[str, Any]
) -> Mapping[str, str]:
    """The PBucket of the job named by the path (`job_id`) or the body (`resume`)."""
    if "job_id" in params:
        job_id = _job_id(params["job_id"], "job_id")
    elif data.get("resume") is not None:
        job_id = _job_id(data["resume"], "resume")
    else:
        return {}
    pbucket = await _jobs(request).pbucket_of(job_id)
    return {} if pbucket is None else {JOB_PBUCKET: pbucket}


def _job_resource(scope: Scope) -> str:
    """The job's PBucket; for a new job the body's; `*` for an unknown job (404 once
    authorised)."""
    if JOB_PBUCKET in scope.params:
        return f"arn:aws:s3:::{scope.params[JOB_PBUCKET]}"
    if "job_id" in scope.params or scope.data.get("resume") is not None:
        return "*"
    return f"arn:aws:s3:::{_pbucket_name(scope.data.get('pbucket'))}"


def _problem(err: JobProblem) -> AdminError:
    return AdminError(err.code, err.status, err.message)


def _no_such_job(job_id: str) -> AdminError:
    return AdminError("NoSuchJob", 404, f"There is no warm-up job {job_id}.")


async def warm_cache(call: AdminCall) -> Reply:
    data, jobs = call.data, _jobs(call.request)
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise validation_error(unknown[0], f"unknown field {unknown[0][:64]!r}")
    body = Body(data)
    # 0 = not given (both are at least 1 when they are)
    parallel = body.integer("parallel", low=1, high=MAX_PARALLEL, default=0) or None
    page_size = body.integer("page_size", low=1, high=MAX_PAGE, default=0) or None
    prefix = (
        body.text("prefix", max_chars=MAX_KEY_BYTES) if data.get("prefix") is not None else None
    )
    if prefix is not None and len(prefix.encode("utf-8")) > MAX_KEY_BYTES:
        raise validation_error("prefix", f"prefix must be at most {MAX_KEY_BYTES} bytes")
    try:
        if data.get("resume") is None:
            job = await jobs.start(
                call.services,
                _pbucket_name(data.get("pbucket")),
                prefix or "",
                parallel or DEFAULT_PARALLEL,
                page_size or MAX_PAGE,
            )
            return Reply(202, jobs.record(job))
        job_id = _job_id(data["resume"], "resume")
        located = call.params.get(JOB_PBUCKET)
        known = await jobs.read(job_id) if located is not None else None
        if known is None:
            raise _no_such_job(job_id)
        if data.get("pbucket") is not None and data["pbucket"] != known.pbucket:
            raise validation_error("pbucket", f"job {job_id} warms PBucket {known.pbucket}")
        if prefix is not None and prefix != known.prefix:
            raise validation_error("prefix", f"job {job_id} warms prefix {known.prefix!r}")
        job = await jobs.resume(call.services, job_id, parallel, page_size)
    except JobProblem as err:
        raise _problem(err) from None
    return Reply(202, jobs.record(job))


async def list_warm_jobs(call: AdminCall) -> Reply:
    jobs = _jobs(call.request)
    return Reply(body={"items": [jobs.record(job) for job in await jobs.recent()]})


async def get_warm_job(call: AdminCall) -> Reply:
    jobs = _jobs(call.request)
    job_id = call.params["job_id"]
    job = await jobs.read(job_id)
    if job is None:
        raise _no_such_job(job_id)
    return Reply(body=jobs.record(job))


async def cancel_warm_job(call: AdminCall) -> Reply:
    jobs = _jobs(call.request)
    try:
        job = await jobs.cancel(call.params["job_id"])
    except JobProblem as err:
        raise _problem(err) from None
    return Reply(body=jobs.record(job))


_ALL = "/admin/v1/cache/warm"
_ONE = "/admin/v1/cache/warm/{job_id}"
ENDPOINTS = (
    Endpoint("GET", _ALL, "ListWarmJobs", list_warm_jobs, any_resource),
    Endpoint("POST", _ALL, "WarmCache", warm_cache, _job_resource, body="object", locate=_locate),
    Endpoint("GET", _ONE, "GetWarmJob", get_warm_job, _job_resource, locate=_locate),
    Endpoint("DELETE", _ONE, "CancelWarmJob", cancel_warm_job, _job_resource, locate=_locate),
)
