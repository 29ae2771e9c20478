"""The one exception of the lifecycle model: an S3 error code and AWS's message.

`ttl` cannot import `gateway`, so it names the S3 code itself (`MalformedXML`, `InvalidArgument`,
`InvalidRequest`); `gateway.boundary` turns it into the S3 error, the admin API into a 400.
"""

from __future__ import annotations

__all__ = ["LifecycleError", "malformed"]


class LifecycleError(Exception):
    """`message` is AWS's text (None: the code's fixed text); `detail` says which element was
    wrong, for logs and tests only: AWS's MalformedXML never names it, so neither do we."""

    def __init__(self, code: str, message: str | None = None, *, detail: str | None = None):
        self.code = code
        self.message = message
        self.detail = detail
        super().__init__(f"{code}: {message or detail or ''}")


def malformed(detail: str) -> LifecycleError:
    """A schema violation: AWS answers MalformedXML with its fixed text."""
    return LifecycleError("MalformedXML", detail=detail)
