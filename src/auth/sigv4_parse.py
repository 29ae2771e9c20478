"""Read SigV4 credentials out of a request: the Authorization header or a presigned query.

Only parsing happens here (what the request claims); `auth.sigv4.verify` decides whether the
claim holds. Formats: S3 API Reference, "Signature Calculations for the Authorization Header"
and "Authenticating Requests: Using Query Parameters".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from auth.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidArgument,
    InvalidRequest,
)
from auth.sigv4_values import (
    ALGORITHM,
    AMZ_DATE_FORMAT,
    AUTHORIZATION,
    DATE,
    HEADER_AUTH,
    MAX_PRESIGN_EXPIRES,
    PRESIGNED_AUTH,
    Q_ALGORITHM,
    Q_CONTENT_SHA256,
    Q_CREDENTIAL,
    Q_DATE,
    Q_EXPIRES,
    Q_SECURITY_TOKEN,
    Q_SIGNATURE,
    Q_SIGNED_HEADERS,
    Q_V2_ACCESS_KEY,
    Q_V2_SIGNATURE,
    UNSIGNED_PAYLOAD,
    V2_ALGORITHM,
    X_AMZ_CONTENT_SHA256,
    X_AMZ_DATE,
    X_AMZ_SECURITY_TOKEN,
    AuthParams,
    CredentialScope,
    RequestView,
    split_query,
)

__all__ = ["header_values", "parse_auth", "split_query", "wire_bytes"]

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_EXPIRES = re.compile(r"(-?)(\d+)")
_SCOPE_PARTS = 4  # date / region / service / terminal after the access key
_PARSE_CACHE_SIZE = 256  # bounded LRUs of pure parses of request fields

_V2_MESSAGE = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)
_TWO_MECHANISMS = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
    "string parameter or the Authorization header should be specified"
)
_HEADER_COMPONENTS = ("Credential", "SignedHeaders", "Signature")
_MISSING_COMPONENTS = (
    "The authorization header is malformed; the authorization header requires three "
    "components: Credential, SignedHeaders, and Signature."
)
_BAD_CREDENTIAL = (
    "The authorization header is malformed; the Credential is mal-formed; expecting "
    '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_PRESIGN_REQUIRED = (Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE, Q_DATE, Q_SIGNED_HEADERS, Q_EXPIRES)
_PRESIGN_PARAMS = frozenset((*_PRESIGN_REQUIRED, Q_SECURITY_TOKEN, Q_CONTENT_SHA256))
_MISSING_PRESIGN = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_MISSING_DATE = "AWS authentication requires a valid Date or x-amz-date header"


def header_values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Every value of header `name` (case-insensitive), in arrival order."""
    lname = name.lower()
    return [value for hname, value in headers if hname.lower() == lname]


def _header(req: RequestView, name: str) -> str | None:
    # A repeated header reads as its values joined with ',' (as SigV4 canonicalises it), so a
    # doubled x-amz-date or x-amz-content-sha256 fails its format check instead of being picked.
    # `name` is lower case.
    values = req.header_index.get(name)
    return ",".join(values) if values else None


def wire_bytes(text: str) -> bytes:
    """The bytes `text` arrived as: aiohttp decodes request bytes as UTF-8 with surrogateescape,
    so encoding the same way restores invalid UTF-8 exactly; anything else cannot have come off
    the wire and becomes U+FFFD (its signature will simply not match)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _decode(component: str) -> str:
    # '+' stays a plus sign: S3 clients encode spaces as %20.
    if "%" not in component and component.isascii():
        return component  # nothing to decode (most names, dates, signatures)
    return _decode_escaped(component)


# A presign's X-Amz-Credential (and SignedHeaders, when several) carries escapes and repeats on
# every URL a client signs that day: decode each distinct value once.
@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _decode_escaped(component: str) -> str:
    return unquote_to_bytes(wire_bytes(component)).decode("utf-8", "replace")


def parse_auth(req: RequestView) -> AuthParams | None:
    """The credentials `req` carries, or None for an anonymous request.

    Raises InvalidRequest for SigV2, InvalidArgument for another algorithm or for two
    mechanisms at once, and the malformed-header / query errors of S3.
    """
    authorization = req.header_index.get(AUTHORIZATION)
    query = [(_decode(name), value) for name, value in req.query_pairs]
    names = {name for name, _ in query}
    presigned_v4 = Q_SIGNATURE in names or Q_CREDENTIAL in names
    presigned_v2 = Q_V2_ACCESS_KEY in names and Q_V2_SIGNATURE in names
    if authorization and (presigned_v4 or presigned_v2):
        raise InvalidArgument(_TWO_MECHANISMS)
    if authorization:
        if len(authorization) > 1:
            raise AuthorizationHeaderMalformed(reason="more than one Authorization header")
        return _parse_header_auth(req, authorization[0])
    if presigned_v4:
        return _parse_presigned(req, query)
    if presigned_v2:
        raise InvalidRequest(_V2_MESSAGE)
    return None


# A client sends the same Credential and SignedHeaders on every request of the day: parse each
# distinct value once (pure parses, immutable results).
@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_credential(credential: str) -> tuple[str, CredentialScope] | None:
    # AKID/yyyymmdd/region/service/aws4_request; split from the right so only the key is free.
    parts = credential.rsplit("/", _SCOPE_PARTS)
    if len(parts) != _SCOPE_PARTS + 1 or not all(parts):
        return None
    access_key, date, region, service, terminal = parts
    return access_key, CredentialScope(date, region, service, terminal)


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_signed_headers(value: str) -> tuple[str, ...] | None:
    names = tuple(name.strip().lower() for name in value.split(";"))
    if not all(names) or len(set(names)) != len(names):
        return None
    return names


def _header_fields(rest: str) -> dict[str, str]:
    """`Credential=..., SignedHeaders=..., Signature=...` (spaces after commas optional)."""
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or name not in _HEADER_COMPONENTS or name in fields:
            raise AuthorizationHeaderMalformed(_MISSING_COMPONENTS, reason=f"component {item!r}")
        fields[name] = value.strip()
    if len(fields) != len(_HEADER_COMPONENTS):
        raise AuthorizationHeaderMalformed(_MISSING_COMPONENTS)
    return fields


def _parse_header_auth(req: RequestView, authorization: str) -> AuthParams:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm == V2_ALGORITHM:
        raise InvalidRequest(_V2_MESSAGE)
    if algorithm != ALGORITHM:
        raise InvalidArgument("Unsupported Authorization Type", reason=f"algorithm {algorithm!r}")
    fields = _header_fields(rest)
    credential = _parse_credential(fields["Credential"])
    if credential is None:
        raise AuthorizationHeaderMalformed(_BAD_CREDENTIAL)
    signed_headers = _parse_signed_headers(fields["SignedHeaders"])
    if signed_headers is None:
        raise AuthorizationHeaderMalformed(
            "The authorization header is malformed; the SignedHeaders component is invalid."
        )
    amz_date, amz_date_raw = _request_date(req)
    access_key, scope = credential
    return AuthParams(
        kind=HEADER_AUTH,
        access_key=access_key,
        amz_date=amz_date,
        amz_date_raw=amz_date_raw,
        scope=scope,
        signed_headers=signed_headers,
        signature=fields["Signature"],
        payload_hash=_header(req, X_AMZ_CONTENT_SHA256),
        expires=None,
        security_token=_header(req, X_AMZ_SECURITY_TOKEN),
    )


# Requests arriving within the same second carry the same X-Amz-Date: parse each value once.
@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_amz_date(value: str) -> datetime | None:
    if not _AMZ_DATE.fullmatch(value):
        return None
    # Field slices, not strptime: strptime consults the locale on every call, and this runs
    # once per request. datetime() still rejects impossible dates (month 13, second 60).
    try:
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _request_date(req: RequestView) -> tuple[datetime, str]:
    """x-amz-date, else the Date header (RFC 1123); the string to sign uses the ISO basic form."""
    amz = _header(req, X_AMZ_DATE)
    if amz is not None:
        parsed = _parse_amz_date(amz.strip())
        if parsed is None:
            raise AccessDenied(_MISSING_DATE, reason=f"bad x-amz-date {amz!r}")
        return parsed, amz.strip()
    http_date = _header(req, DATE)
    if http_date:
        try:
            moment = parsedate_to_datetime(http_date)
        except (TypeError, ValueError):
            raise AccessDenied(_MISSING_DATE, reason=f"bad Date {http_date!r}") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment, moment.strftime(AMZ_DATE_FORMAT)
    # versitygw (AWS-verified) answers 403 here; MinIO 400. We follow AWS.
    raise AccessDenied(_MISSING_DATE)


def _presign_fields(query: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in query:
        if name in _PRESIGN_PARAMS:
            if name in fields:
                raise AuthorizationQueryParametersError(
                    f"{name} must be specified only once", reason="repeated parameter"
                )
            fields[name] = _decode(value)
    algorithm = fields.get(Q_ALGORITHM)
    if algorithm is not None and algorithm != ALGORITHM:
        # e.g. AWS4-ECDSA-P256-SHA256 (SigV4a), which this gateway does not implement.
        raise AuthorizationQueryParametersError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if any(name not in fields for name in _PRESIGN_REQUIRED):
        raise AuthorizationQueryParametersError(_MISSING_PRESIGN)
    return fields


def _parse_expires(value: str) -> int:
    """X-Amz-Expires: seconds, 0..604800 (S3: "...must be less than a week")."""
    match = _EXPIRES.fullmatch(value)
    if match is None:
        raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    sign, digits = match.groups()
    if sign:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    # Compare digit counts before int() so a 10,000-digit value costs nothing.
    if len(digits.lstrip("0")) > len(str(MAX_PRESIGN_EXPIRES)) or int(digits) > MAX_PRESIGN_EXPIRES:
        raise AuthorizationQueryParametersError(
            "X-Amz-Expires must be less than a week (in seconds) that is 7 days"
        )
    return int(digits)


def _presign_payload_hash(
    req: RequestView, fields: dict[str, str], signed_headers: tuple[str, ...]
) -> str:
    # A signed x-amz-content-sha256 header is what botocore hashes in; some SDKs put the value
    # in the query instead; otherwise a presign covers no payload (S3: "UNSIGNED-PAYLOAD").
    header = _header(req, X_AMZ_CONTENT_SHA256)
    if header is not None and X_AMZ_CONTENT_SHA256 in signed_headers:
        return header
    return fields.get(Q_CONTENT_SHA256, UNSIGNED_PAYLOAD)


def _parse_presigned(req: RequestView, query: list[tuple[str, str]]) -> AuthParams:
    fields = _presign_fields(query)
    credential = _parse_credential(fields[Q_CREDENTIAL])
    if credential is None:
        raise AuthorizationQueryParametersError(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    amz_date = _parse_amz_date(fields[Q_DATE])
    if amz_date is None:
        raise AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    signed_headers = _parse_signed_headers(fields[Q_SIGNED_HEADERS])
    if signed_headers is None:
        raise AuthorizationQueryParametersError("X-Amz-SignedHeaders is invalid")
    expires = _parse_expires(fields[Q_EXPIRES])
    access_key, scope = credential
    token = fields.get(Q_SECURITY_TOKEN)
    return AuthParams(
        kind=PRESIGNED_AUTH,
        access_key=access_key,
        amz_date=amz_date,
        amz_date_raw=fields[Q_DATE],
        scope=scope,
        signed_headers=signed_headers,
        signature=fields[Q_SIGNATURE],
        payload_hash=_presign_payload_hash(req, fields, signed_headers),
        expires=expires,
        security_token=token if token is not None else _header(req, X_AMZ_SECURITY_TOKEN),
    )
