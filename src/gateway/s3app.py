"""The S3 listener: one entry point that dispatches, authenticates once, authorises once, runs
the operation's handler and renders the result, then writes one access-log line.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway import access_log, metrics
from gateway.authn import authenticate
from gateway.authz import authorize_request
from gateway.boundary import to_s3_error
from gateway.context import SERVICES, RequestContext
from gateway.dispatch import Target, dispatch
from gateway.errors import S3Error
from gateway.handlers import (
    bucket_policy,
    buckets,
    copy,
    delete_many,
    lifecycle,
    listing,
    multipart,
    objects,
    tagging,
)
from gateway.operations import Operation
from gateway.render import error_response, render
from gateway.results import Result

__all__ = ["HANDLERS", "add_s3_routes"]

log = logging.getLogger("pcache.s3")

Handler = Callable[[RequestContext], Awaitable[Result]]

HANDLERS: dict[Operation, Handler] = {
    Operation.ListBuckets: buckets.list_buckets,
    Operation.CreateBucket: buckets.create_bucket,
    Operation.HeadBucket: buckets.head_bucket,
    Operation.DeleteBucket: buckets.delete_bucket,
    Operation.GetBucketLocation: buckets.get_bucket_location,
    Operation.GetBucketVersioning: buckets.get_bucket_versioning,
    Operation.GetBucketPolicy: bucket_policy.get_bucket_policy,
    Operation.PutBucketPolicy: bucket_policy.put_bucket_policy,
    Operation.DeleteBucketPolicy: bucket_policy.delete_bucket_policy,
    Operation.GetBucketLifecycleConfiguration: lifecycle.get_bucket_lifecycle_configuration,
    Operation.PutBucketLifecycleConfiguration: lifecycle.put_bucket_lifecycle_configuration,
    Operation.DeleteBucketLifecycle: lifecycle.delete_bucket_lifecycle,
    Operation.ListObjects: listing.list_objects,
    Operation.ListObjectsV2: listing.list_objects_v2,
    Operation.DeleteObjects: delete_many.delete_objects,
    Operation.GetObject: objects.get_object,
    Operation.HeadObject: objects.head_object,
    Operation.PutObject: objects.put_object,
    Operation.DeleteObject: objects.delete_object,
    Operation.CopyObject: copy.copy_object,
    Operation.GetObjectTagging: tagging.get_object_tagging,
    Operation.PutObjectTagging: tagging.put_object_tagging,
    Operation.DeleteObjectTagging: tagging.delete_object_tagging,
    Operation.CreateMultipartUpload: multipart.create_multipart_upload,
    Operation.UploadPart: multipart.upload_part,
    Operation.UploadPartCopy: multipart.upload_part_copy,
    Operation.CompleteMultipartUpload: multipart.complete_multipart_upload,
    Operation.AbortMultipartUpload: multipart.abort_multipart_upload,
    Operation.ListParts: multipart.list_parts,
    Operation.ListMultipartUploads: multipart.list_multipart_uploads,
}


def _split_raw(request: web.Request) -> tuple[str, str]:
    """The request-target exactly as sent: never aiohttp's decoded path (it aliases keys)."""
    raw = request.raw_path
    path, _, query = raw.partition("?")
    return path, query


# Request ids: 16 upper-case hex digits like S3's, a random per-process prefix and a counter
# (unique across nodes and restarts in practice, and far cheaper than a uuid4 per request).
_ID_PREFIX = secrets.token_hex(4).upper()
_ID_COUNTER = itertools.count(secrets.randbelow(1 << 31))


def next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08X}"


async def handle(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = next_request_id()
    services = request.app[SERVICES]
    raw_path, raw_query = _split_raw(request)
    target: Target | None = None
    status, sent = 500, 0
    cache_label: str | None = None
    head = request.method == "HEAD"
    if log.isEnabledFor(logging.DEBUG):
        # The whole request line and headers, for debugging clients; gateway.redact masks the
        # signatures, credentials and tokens in it before it reaches any handler's output.
        log.debug(
            "request_id=%s %s %s headers=%s",
            request_id,
            request.method,
            request.raw_path,
            dict(request.headers),
        )
    try:
        target = dispatch(
            request.method,
            request.host,
            raw_path,
            raw_query,
            request.headers,
            domain=services.settings.domain,
        )
        principal, verified = await authenticate(request, services, raw_path, raw_query)
        keys = await authorize_request(request, target, principal, services)
        ctx = RequestContext(request, request_id, target, principal, verified, services, keys)
        handler = HANDLERS.get(target.operation)
        if handler is None:
            raise S3Error("NotImplemented")
        result = await handler(ctx)
        cache_label = getattr(result, "cache", None)
        response, sent = await render(request, result, request_id=request_id)
        status = response.status
        return response
    except Exception as exc:
        err = to_s3_error(exc)
        if err is None:
            log.exception("request_id=%s unhandled error", request_id)
            err = S3Error("InternalError")
        status = err.status
        resource = raw_path if target is None else _resource(target)
        response = error_response(err, request_id=request_id, resource=resource, head=head)
        if request.body_exists and not request.content.at_eof():
            # The body was never read (a client awaiting `100 Continue` never sends it): the
            # only safe end of this exchange is closing, or its bytes become the next request.
            response.force_close()
        return response
    finally:
        _log_line(request, request_id, target, status, sent, started, cache_label)


def _resource(target: Target) -> str:
    if target.bucket is None:
        return "/"
    return f"/{target.bucket}" + (f"/{target.key}" if target.key else "")


def _log_line(
    request: web.Request,
    request_id: str,
    target: Target | None,
    status: int,
    sent: int,
    started: float,
    cache_label: str | None = None,
) -> None:
    op = target.operation.value if target else "-"
    if target is not None and target.detail:
        op = f"{op}({target.detail})"
    access_log.record(
        request_id,
        op,
        (target.bucket if target else None) or "-",
        status,
        sent,
        cache_label or "-",
        started,
        request.remote,
    )
    metrics.observe_request(
        target.operation.value if target else "-",
        target.bucket if target else None,
        status,
        sent,
        time.perf_counter() - started,
        cache_label,
    )


async def _no_expect(request: web.Request) -> None:
    """Defer `100 Continue` until the request is authenticated (see gateway.body)."""
    return None


def add_s3_routes(app: web.Application) -> None:
    """The catch-all S3 route; register it after any fixed routes (/healthz, /readyz)."""
    app.router.add_route("*", "/{tail:.*}", handle, expect_handler=_no_expect)
