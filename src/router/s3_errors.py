"""The one boundary where SDK and transport exceptions become router errors (`router.errors`).

Most specific first, always chained with `from` so logs keep the vendor's detail:

    botocore ClientError, status 304         -> NotModified (info from the 304's headers)
    ClientError, 501                         -> UnsupportedOperation
    ClientError, 5xx / 429 / no status       -> VendorUnavailable (the gateway owns retries)
    ClientError, other 3xx/4xx               -> UpstreamError(vendor code, status); a HEAD has no
                                                body, so its code comes from the status
    ParamValidationError                     -> UpstreamError InvalidBucketName / InvalidArgument
    other BotoCoreError, aiohttp, OSError    -> VendorUnavailable (refused, reset, timeout, TLS)

Messages carry the operation and the vendor's error code only: never the endpoint, bucket, key or
credentials, because a message may be logged next to a client's request or echoed by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from router.errors import (
    NotModified,
    RouterError,
    UnsupportedOperation,
    UpstreamError,
    VendorUnavailable,
)
from router.s3_convert import not_modified_info

__all__ = ["map_exception", "vendor_errors"]

# Codes for bodiless errors (HEAD), as S3 itself names them.
_STATUS_CODES = {
    301: "PermanentRedirect",  # HeadBucket in the wrong region
    307: "TemporaryRedirect",
    400: "InvalidRequest",  # a bodiless 400 (HEAD): the nearest code clients know
    403: "AccessDenied",
    405: "MethodNotAllowed",
    409: "OperationAborted",
    411: "MissingContentLength",
    412: "PreconditionFailed",
    416: "InvalidRange",
}
_RETRYABLE_4XX = {408, 429}  # request timeout / throttling: the vendor is busy, not refusing
_UNSATISFIED_RANGE = re.compile(r"bytes \*/(\d+)")
_MAPPED = (ClientError, BotoCoreError, aiohttp.ClientError, OSError)


@contextmanager
def vendor_errors(
    operation: str, *, not_found: str = "NoSuchKey", key: str | None = None
) -> Iterator[None]:
    """Map whatever the SDK raises inside the block; `not_found` names a bodiless 404."""
    try:
        yield
    except RouterError:
        raise
    except _MAPPED as exc:
        raise map_exception(exc, operation, not_found=not_found, key=key) from exc


def map_exception(
    exc: BaseException, operation: str, *, not_found: str = "NoSuchKey", key: str | None = None
) -> RouterError:
    if isinstance(exc, ClientError):
        return _map_client_error(exc, operation, not_found=not_found, key=key)
    if isinstance(exc, ParamValidationError):
        # botocore checks bucket names (and parameter types) before sending anything.
        code = "InvalidBucketName" if "bucket name" in str(exc).lower() else "InvalidArgument"
        return UpstreamError(code, 400)
    return VendorUnavailable(f"{operation}: {type(exc).__name__}")


def _map_client_error(
    exc: ClientError, operation: str, *, not_found: str, key: str | None
) -> RouterError:
    response: Mapping[str, Any] = exc.response
    meta = response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0)
    headers: Mapping[str, str] = meta.get("HTTPHeaders", {})
    error: Mapping[str, Any] = response.get("Error", {})
    code = str(error.get("Code") or "")
    if status == 304:
        return NotModified(not_modified_info(key, headers))
    if status == 501:
        return UnsupportedOperation(operation)
    if status >= 500 or status in _RETRYABLE_4XX or status < 300:
        # < 300: an error inside a 200 body (CopyObject, CompleteMultipartUpload): S3 says retry.
        return VendorUnavailable(f"{operation}: {code or status}", status=status or None)
    if not code or code.isdigit():
        code = not_found if status == 404 else _STATUS_CODES.get(status, "InvalidRequest")
    return UpstreamError(code, status, extra=_extra(code, error, headers))


def _extra(code: str, error: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, str]:
    """Fields the gateway may echo; today only InvalidRange's ActualObjectSize."""
    if code != "InvalidRange":
        return {}
    size = error.get("ActualObjectSize")
    if size is None and (match := _UNSATISFIED_RANGE.fullmatch(headers.get("content-range", ""))):
        size = match.group(1)
    return {} if size is None else {"ActualObjectSize": str(size)}
