"""The exceptions `auth` raises: one class per S3 error code, each knowing its HTTP status.

    AuthError(code, status, message, extra)   base; `reason` is for logs, never rendered
    ├── AccessDenied                      403  no valid date; presign expired / not yet
    │                                          valid; unsigned x-amz-* (HeadersNotSigned)
    ├── AuthorizationHeaderMalformed      400  bad Authorization header or scope (Region)
    ├── AuthorizationQueryParametersError 400  bad presigned query parameters (Region)
    ├── BadDigest                         400  Content-MD5 / x-amz-checksum-* mismatch
    ├── IncompleteBody                    400  aws-chunked framing broken or short
    ├── InvalidAccessKeyId                403  raised by the caller when no secret is found
    ├── InvalidArgument                   400  bad x-amz-content-sha256; unknown auth type
    ├── InvalidChunkSizeError             400  a non-final aws-chunked chunk < 8192 bytes
    ├── InvalidDigest                     400  Content-MD5 is not base64 of 16 bytes
    ├── InvalidRequest                    400  SigV2; checksum header rules
    ├── MalformedTrailerError             400  trailer missing / undeclared / empty name
    ├── MissingContentLength              411  x-amz-decoded-content-length missing / bad
    ├── RequestTimeTooSkewed              403  header-auth date > 15 min from our clock
    ├── SignatureDoesNotMatch             403  request, chunk or trailer signature wrong
    └── XAmzContentSHA256Mismatch         400  body SHA-256 != x-amz-content-sha256

The gateway maps these to S3 XML at one boundary, by `code`. `message` is AWS's wording (shown to
clients); `extra` holds the additional XML elements AWS puts in the error body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "AccessDenied",
    "AuthError",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "BadDigest",
    "IncompleteBody",
    "InvalidAccessKeyId",
    "InvalidArgument",
    "InvalidChunkSizeError",
    "InvalidDigest",
    "InvalidRequest",
    "MalformedTrailerError",
    "MissingContentLength",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "XAmzContentSHA256Mismatch",
]


class AuthError(Exception):
    """An S3 error caused by authentication or request-body integrity.

    Subclasses fix `CODE`, `STATUS` and `DEFAULT_MESSAGE`; a raise site may pass a more precise
    AWS message, `extra` XML fields (e.g. {"Region": "us-east-1"}) and a log-only `reason`.
    """

    CODE: ClassVar[str] = "AccessDenied"
    STATUS: ClassVar[int] = 403
    DEFAULT_MESSAGE: ClassVar[str] = "Access Denied"

    def __init__(
        self,
        message: str | None = None,
        *,
        extra: Mapping[str, str] | None = None,
        reason: str = "",
    ) -> None:
        self.code: str = self.CODE
        self.status: int = self.STATUS
        self.message: str = message if message is not None else self.DEFAULT_MESSAGE
        self.extra: dict[str, str] = dict(extra or {})
        self.reason: str = reason
        super().__init__(f"{self.code}: {self.message}" + (f" ({reason})" if reason else ""))


class AccessDenied(AuthError):
    CODE = "AccessDenied"
    STATUS = 403
    DEFAULT_MESSAGE = "Access Denied"


class AuthorizationHeaderMalformed(AuthError):
    CODE = "AuthorizationHeaderMalformed"
    STATUS = 400
    DEFAULT_MESSAGE = "The authorization header that you provided is not valid."


class AuthorizationQueryParametersError(AuthError):
    CODE = "AuthorizationQueryParametersError"
    STATUS = 400
    DEFAULT_MESSAGE = "Error parsing the X-Amz-Credential parameter."


class BadDigest(AuthError):
    CODE = "BadDigest"
    STATUS = 400
    DEFAULT_MESSAGE = "The Content-MD5 you specified did not match what we received."


class IncompleteBody(AuthError):
    CODE = "IncompleteBody"
    STATUS = 400
    DEFAULT_MESSAGE = "The request body terminated unexpectedly"


class InvalidAccessKeyId(AuthError):
    CODE = "InvalidAccessKeyId"
    STATUS = 403
    DEFAULT_MESSAGE = "The AWS access key ID that you provided does not exist in our records."


class InvalidArgument(AuthError):
    CODE = "InvalidArgument"
    STATUS = 400
    DEFAULT_MESSAGE = "Invalid Argument"


class InvalidChunkSizeError(AuthError):
    CODE = "InvalidChunkSizeError"
    STATUS = 400
    DEFAULT_MESSAGE = "Only the last chunk is allowed to have a size less than 8192 bytes"


class InvalidDigest(AuthError):
    CODE = "InvalidDigest"
    STATUS = 400
    DEFAULT_MESSAGE = "The Content-MD5 you specified is not valid."


class InvalidRequest(AuthError):
    CODE = "InvalidRequest"
    STATUS = 400
    DEFAULT_MESSAGE = "Invalid Request"


class MalformedTrailerError(AuthError):
    CODE = "MalformedTrailerError"
    STATUS = 400
    DEFAULT_MESSAGE = (
        "The request contained trailing data that was not well-formed or did not conform to "
        "our published schema."
    )


class MissingContentLength(AuthError):
    CODE = "MissingContentLength"
    STATUS = 411
    DEFAULT_MESSAGE = "You must provide the Content-Length HTTP header."


class RequestTimeTooSkewed(AuthError):
    CODE = "RequestTimeTooSkewed"
    STATUS = 403
    DEFAULT_MESSAGE = "The difference between the request time and the current time is too large."


class SignatureDoesNotMatch(AuthError):
    CODE = "SignatureDoesNotMatch"
    STATUS = 403
    DEFAULT_MESSAGE = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class XAmzContentSHA256Mismatch(AuthError):
    CODE = "XAmzContentSHA256Mismatch"
    STATUS = 400
    DEFAULT_MESSAGE = "The provided 'x-amz-content-sha256' header does not match what was computed."
