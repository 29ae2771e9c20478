"""Exceptions the router raises; the gateway maps them to S3 errors at one boundary.

    RouterError
    ├── UpstreamError(code)          the vendor answered with an S3 error code (NoSuchKey, ...)
    │   └── NotModified(info)        a conditional read matched If-None-Match / If-Modified-Since
    ├── VendorUnavailable            the vendor could not be reached, timed out or answered 5xx
    │   └── CircuitOpen              not even tried: the vendor's circuit breaker is open
    ├── NoSuchPBucket                the PBucket is not configured
    └── UnsupportedOperation         this vendor cannot do this operation

Vendors speak S3, so their error codes pass through as `UpstreamError.code`; the message a client
sees comes from the gateway's table, never from the vendor (no endpoint, bucket or key leaks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from router.models import ObjectInfo

__all__ = [
    "CircuitOpen",
    "NoSuchPBucket",
    "NotModified",
    "RouterError",
    "UnsupportedOperation",
    "UpstreamError",
    "VendorUnavailable",
]


class RouterError(Exception):
    """Base of everything the router raises on purpose."""


class UpstreamError(RouterError):
    """The vendor answered with an S3 error.

    `code` is the S3 error code (e.g. "NoSuchKey"); `status` the vendor's HTTP status; `extra`
    carries fields the gateway may echo (e.g. {"ActualObjectSize": "10"} for InvalidRange).
    """

    def __init__(self, code: str, status: int = 400, *, extra: dict[str, str] | None = None):
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra or {}


class NotModified(UpstreamError):
    def __init__(self, info: ObjectInfo | None = None):
        super().__init__("NotModified", 304)
        self.info = info


class VendorUnavailable(RouterError):
    """Connection refused / reset, timeout, or a 5xx after retries: the client gets a 503.

    `status` is the vendor's HTTP status when it answered (500, 503, 429 ...), None when no
    answer came (refused, reset, timeout, TLS): retries and the breaker decide on it.
    """

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CircuitOpen(VendorUnavailable):
    """Refused without a vendor call; `retry_after` is seconds until the next probe."""

    def __init__(self, message: str = "", *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NoSuchPBucket(RouterError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class UnsupportedOperation(RouterError):
    def __init__(self, operation: str):
        super().__init__(operation)
        self.operation = operation
