"""The one table of S3 error codes PCache emits, and the `S3Error` every failure becomes.

    Exception
    └── S3Error(code)     rendered by gateway.render as S3 XML (HEAD: no body)

Lower packages raise their own types; `gateway.boundary` maps them, most specific first.
Messages are AWS's own wording where AWS documents one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ERRORS", "ErrorSpec", "S3Error"]


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    message: str


ERRORS: Mapping[str, ErrorSpec] = {
    "AccessDenied": ErrorSpec(403, "Access Denied"),
    "AuthorizationHeaderMalformed": ErrorSpec(
        400, "The authorization header that you provided is not valid."
    ),
    "AuthorizationQueryParametersError": ErrorSpec(
        400, "Error parsing the X-Amz-Credential parameter."
    ),
    "BadDigest": ErrorSpec(
        400, "The Content-MD5 or checksum value that you specified did not match what we received."
    ),
    "BucketAlreadyExists": ErrorSpec(
        409, "The requested bucket name is not available. Please select a different name."
    ),
    "BucketAlreadyOwnedByYou": ErrorSpec(
        409, "Your previous request to create the named bucket succeeded and you already own it."
    ),
    "BucketNotEmpty": ErrorSpec(409, "The bucket you tried to delete is not empty."),
    "EntityTooLarge": ErrorSpec(400, "Your proposed upload exceeds the maximum allowed size."),
    "EntityTooSmall": ErrorSpec(
        400, "Your proposed upload is smaller than the minimum allowed object size."
    ),
    "IncompleteBody": ErrorSpec(
        400, "You did not provide the number of bytes specified by the Content-Length HTTP header."
    ),
    "InternalError": ErrorSpec(500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": ErrorSpec(
        403, "The AWS access key ID that you provided does not exist in our records."
    ),
    "InvalidArgument": ErrorSpec(400, "Invalid Argument"),
    "InvalidBucketName": ErrorSpec(400, "The specified bucket is not valid."),
    "InvalidChunkSizeError": ErrorSpec(
        400, "Only the last chunk is allowed to have a size less than 8192 bytes"
    ),
    "InvalidDigest": ErrorSpec(400, "The Content-MD5 you specified is not valid."),
    "InvalidLocationConstraint": ErrorSpec(400, "The specified location-constraint is not valid"),
    "InvalidObjectState": ErrorSpec(
        403, "The operation is not valid for the current state of the object."
    ),
    "InvalidPart": ErrorSpec(
        400,
        "One or more of the specified parts could not be found. The part might not have been "
        "uploaded, or the specified entity tag might not have matched the part's entity tag.",
    ),
    "InvalidPartNumber": ErrorSpec(416, "The requested partnumber is not satisfiable"),
    "InvalidPartOrder": ErrorSpec(
        400, "The list of parts was not in ascending order. Parts must be ordered by part number."
    ),
    "InvalidRange": ErrorSpec(416, "The requested range is not satisfiable"),
    "InvalidRequest": ErrorSpec(400, "Invalid Request"),
    "InvalidStorageClass": ErrorSpec(400, "The storage class you specified is not valid"),
    "InvalidTag": ErrorSpec(400, "The tag provided was not a valid tag."),
    "KeyTooLongError": ErrorSpec(400, "Your key is too long"),
    "MalformedTrailerError": ErrorSpec(
        400,
        "The request contained trailing data that was not well-formed or did not conform to "
        "our published schema.",
    ),
    "MalformedXML": ErrorSpec(
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "MetadataTooLarge": ErrorSpec(
        400, "Your metadata headers exceed the maximum allowed metadata size."
    ),
    "MethodNotAllowed": ErrorSpec(
        405, "The specified method is not allowed against this resource."
    ),
    "MissingContentLength": ErrorSpec(411, "You must provide the Content-Length HTTP header."),
    "MissingRequestBodyError": ErrorSpec(400, "Request Body is empty"),
    "NoSuchBucket": ErrorSpec(404, "The specified bucket does not exist"),
    "NoSuchKey": ErrorSpec(404, "The specified key does not exist."),
    "NoSuchTagSet": ErrorSpec(404, "The TagSet does not exist"),
    "NoSuchUpload": ErrorSpec(
        404,
        "The specified multipart upload does not exist. The upload ID might be invalid, or the "
        "multipart upload might have been aborted or completed.",
    ),
    "NotImplemented": ErrorSpec(
        501, "A header you provided implies functionality that is not implemented."
    ),
    "NotModified": ErrorSpec(304, "Not Modified"),
    "PreconditionFailed": ErrorSpec(
        412, "At least one of the pre-conditions you specified did not hold"
    ),
    "RequestTimeTooSkewed": ErrorSpec(
        403, "The difference between the request time and the server's time is too large."
    ),
    "RequestTimeout": ErrorSpec(
        400,
        "Your socket connection to the server was not read from or written to within the "
        "timeout period.",
    ),
    "ServiceUnavailable": ErrorSpec(503, "Please reduce your request rate."),
    "SignatureDoesNotMatch": ErrorSpec(
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "SlowDown": ErrorSpec(503, "Please reduce your request rate."),
    "XAmzContentSHA256Mismatch": ErrorSpec(
        400, "The provided 'x-amz-content-sha256' header does not match what was computed."
    ),
    "InvalidTokenId": ErrorSpec(403, "The security token included in the request is invalid."),
    "ExpiredToken": ErrorSpec(400, "The provided token has expired."),
    "InvalidToken": ErrorSpec(400, "The provided token is malformed or otherwise invalid."),
    "MalformedPolicy": ErrorSpec(400, "Policies must be valid JSON and the first byte must be '{'"),
    "PolicyTooLarge": ErrorSpec(400, "Policies must be at most 20 KiB."),
    "NoSuchBucketPolicy": ErrorSpec(404, "The bucket policy does not exist"),
    "NoSuchLifecycleConfiguration": ErrorSpec(404, "The lifecycle configuration does not exist"),
}


class S3Error(Exception):
    """An S3 error response. `fields` become extra XML elements, `headers` extra HTTP headers."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        spec = ERRORS.get(code) or ERRORS["InternalError"]
        self.code = code if code in ERRORS else "InternalError"
        self.status = status if status is not None else spec.status
        self.message = message or spec.message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})
        super().__init__(f"{self.code}: {self.message}")
