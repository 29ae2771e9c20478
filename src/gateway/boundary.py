"""Map exceptions from the lower packages to S3 errors, most specific first, at one boundary.

Vendor error codes pass through when they are S3 codes we know; everything else becomes
InternalError / ServiceUnavailable without a word about the vendor's endpoint, bucket or keys.
"""

from __future__ import annotations

import asyncio
import math

from auth.errors import AuthError
from gateway.errors import ERRORS, S3Error
from router.errors import (
    CircuitOpen,
    NoSuchPBucket,
    NotModified,
    UnsupportedOperation,
    UpstreamError,
    VendorUnavailable,
)
from ttl.errors import LifecycleError

__all__ = ["to_s3_error"]

# Vendor codes that mean something else on our side of the gateway.
_RENAMED = {
    "BucketAlreadyExists": "BucketAlreadyOwnedByYou",
    "NotFound": "NoSuchKey",
    "ServiceUnavailable": "ServiceUnavailable",
    "SlowDown": "SlowDown",
    # Credentials of the vendor account, not the client's: never echo a vendor auth failure.
    "AccessDenied": "InternalError",
    "InvalidAccessKeyId": "InternalError",
    "SignatureDoesNotMatch": "InternalError",
}


def to_s3_error(exc: BaseException) -> S3Error | None:
    """The S3 error for a known exception, or None for a bug (logged, answered InternalError)."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, AuthError):
        return S3Error(exc.code, exc.message, status=exc.status, fields=exc.extra)
    if isinstance(exc, LifecycleError):  # AWS's code and message for a refused configuration
        return S3Error(exc.code, exc.message)
    if isinstance(exc, NotModified):
        return S3Error("NotModified", headers=_info_headers(exc))
    if isinstance(exc, UpstreamError):
        return _upstream(exc)
    if isinstance(exc, NoSuchPBucket):
        return S3Error("NoSuchBucket", fields={"BucketName": exc.name})
    if isinstance(exc, CircuitOpen):  # the vendor's breaker says when it will try again
        retry_after = str(max(1, math.ceil(exc.retry_after)))
        return S3Error("ServiceUnavailable", headers={"Retry-After": retry_after})
    if isinstance(exc, VendorUnavailable):
        return S3Error("ServiceUnavailable")
    if isinstance(exc, UnsupportedOperation):
        return S3Error("NotImplemented")
    if isinstance(exc, asyncio.TimeoutError):
        return S3Error("ServiceUnavailable")
    return None


def _upstream(exc: UpstreamError) -> S3Error:
    code = _RENAMED.get(exc.code, exc.code)
    if code not in ERRORS:
        return S3Error("InternalError" if exc.status < 500 else "ServiceUnavailable")
    fields: dict[str, str] = {}
    headers: dict[str, str] = {}
    if code == "InvalidRange" and "ActualObjectSize" in exc.extra:
        size = exc.extra["ActualObjectSize"]
        fields = {"RangeRequested": "bytes", "ActualObjectSize": size}
        headers = {"Content-Range": f"bytes */{size}"}
    return S3Error(code, fields=fields, headers=headers)


def _info_headers(exc: NotModified) -> dict[str, str]:
    from gateway.headers import http_date

    if exc.info is None:
        return {}
    return {"ETag": exc.info.etag, "Last-Modified": http_date(exc.info.last_modified)}
