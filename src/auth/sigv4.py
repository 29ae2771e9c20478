"""AWS Signature Version 4 for S3: canonicalise a request and check its signature.

Each step of the AWS algorithm is one small function whose docstring is the spec's formula
(AWS S3 API Reference, "Signature Calculations for the Authorization Header" and "Authenticating
Requests: Using Query Parameters"). `parse_auth` (from `auth.sigv4_parse`) reads the credentials
out of a request; `verify` checks them against a secret and returns what the body decoder needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote_from_bytes, unquote_to_bytes

from auth.errors import (
    AccessDenied,
    AuthError,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)
from auth.sigv4_parse import header_values, parse_auth, split_query, wire_bytes
from auth.sigv4_values import (
    ALGORITHM,
    HEADER_AUTH,
    HOST,
    MAX_PRESIGN_EXPIRES,
    MAX_SKEW,
    PRESIGNED_AUTH,
    Q_SIGNATURE,
    SCOPE_TERMINAL,
    STREAMING_ECDSA,
    STREAMING_ECDSA_TRAILER,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    X_AMZ_CONTENT_SHA256,
    X_AMZ_DATE,
    X_AMZ_PREFIX,
    AuthKind,
    AuthParams,
    CredentialScope,
    PayloadMode,
    RequestView,
    Verified,
    index_headers,
)

__all__ = [
    "ALGORITHM",
    "HEADER_AUTH",
    "MAX_PRESIGN_EXPIRES",
    "MAX_SKEW",
    "PRESIGNED_AUTH",
    "AuthKind",
    "AuthParams",
    "CredentialScope",
    "PayloadMode",
    "RequestView",
    "Verified",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_request_for",
    "canonical_uri",
    "credential_scope",
    "header_values",
    "parse_auth",
    "payload_mode",
    "signature",
    "signatures_equal",
    "signing_key",
    "string_to_sign",
    "verify",
    "wire_bytes",
]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SCOPE_DATE = re.compile(r"\d{8}")
# Collapse runs of spaces / tabs (HTTP optional whitespace) — the spec's Trimall.
_OWS_RUN = re.compile(r"[ \t]+")
_SIGNING_KEY_CACHE_SIZE = 1024


# --- the spec's steps --------------------------------------------------------------------------


def _uri_encode(data: bytes, *, keep_slash: bool) -> str:
    # UriEncode: every byte except A-Z a-z 0-9 - _ . ~ becomes %XY with upper-case hex; space is
    # %20, never '+'. quote_from_bytes always keeps exactly that unreserved set.
    return quote_from_bytes(data, safe="/" if keep_slash else "")


# Text that UriEncode(percent-decode(text)) gives back unchanged: unreserved characters and
# %XY escapes in upper-case hex of bytes that must stay encoded (not of an unreserved byte:
# 2D 2E 30-39 41-5A 5F 61-7A 7E). For a path, '/' is kept and %2F is not (it decodes to '/').
# Possessive quantifiers: matching is linear, whatever the input.
_CANONICAL_ESCAPE = r"%(?!2[DE]|3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE]){}[0-9A-F]{{2}}"
_COMPONENT = r"(?:[A-Za-z0-9_.~-]++|" + _CANONICAL_ESCAPE.format("") + ")*+"
_CANONICAL_COMPONENT = re.compile(_COMPONENT)
_CANONICAL_PATH = re.compile(r"(?:[A-Za-z0-9_.~/-]++|" + _CANONICAL_ESCAPE.format("(?!2F)") + ")*+")
# A query string whose every name and value is canonical ('=' only as the separator).
_CANONICAL_QUERY = re.compile(
    f"{_COMPONENT}(?:={_COMPONENT})?(?:&{_COMPONENT}(?:={_COMPONENT})?)*+"
)


def _canonical(raw: str, *, keep_slash: bool) -> str:
    """UriEncode(percent-decode(raw)), skipping both steps when `raw` is already canonical."""
    if (_CANONICAL_PATH if keep_slash else _CANONICAL_COMPONENT).fullmatch(raw):
        return raw
    return _uri_encode(unquote_to_bytes(wire_bytes(raw)), keep_slash=keep_slash)


def canonical_uri(raw_path: str) -> str:
    """CanonicalURI = UriEncode(path) with '/' kept — S3 encodes once and never normalises.

    The raw path is percent-decoded to bytes first so each byte is encoded exactly once
    ("/example space/" and "/example%20space/" both give "/example%20space/"); "//" and ".."
    stay as they are (S3: "you do not normalize URI paths").
    """
    if not raw_path:
        return "/"
    return _canonical(raw_path, keep_slash=True)


def canonical_query(raw_query: str, *, exclude_signature: bool = False) -> str:
    """CanonicalQueryString = join('&', sorted(UriEncode(name) + '=' + UriEncode(value))).

    Sorted by encoded name, then encoded value; a missing value is `name=`. A literal '+' in
    the raw query is a plus sign (%2B), not a space. For a presigned URL X-Amz-Signature is left
    out (exclude_signature) and every other parameter is signed.
    """
    return _canonical_query(raw_query, split_query(raw_query), exclude_signature)


def _canonical_query(
    raw_query: str, pairs: Sequence[tuple[str, str]], exclude_signature: bool
) -> str:
    # `pairs` is split_query(raw_query).
    if not pairs:
        return ""
    if _CANONICAL_QUERY.fullmatch(raw_query):
        # Every component is canonical already (a presigned URL from an SDK): just sort.
        kept = [pair for pair in pairs if not exclude_signature or pair[0] != Q_SIGNATURE]
        kept.sort()
        return "&".join([f"{name}={value}" for name, value in kept])
    encoded: list[tuple[str, str]] = []
    for name, value in pairs:
        enc_name = _canonical(name, keep_slash=False)
        if exclude_signature and enc_name == Q_SIGNATURE:
            continue
        enc_value = _canonical(value, keep_slash=False)
        encoded.append((enc_name, enc_value))
    encoded.sort()
    return "&".join(f"{name}={value}" for name, value in encoded)


def _trimall(value: str) -> str:
    if "\t" not in value and "  " not in value:
        return value.strip(" ")  # no run to collapse (the usual header value)
    return _OWS_RUN.sub(" ", value).strip(" \t")


def canonical_headers(headers: Sequence[tuple[str, str]], signed_headers: Sequence[str]) -> str:
    """CanonicalHeaders = for each signed name: Lowercase(name) + ':' + Trimall(value) + '\\n'.

    Repeated headers are joined with ',' in the order they arrived.
    """
    return _canonical_headers(index_headers(headers), signed_headers)


def _canonical_headers(index: Mapping[str, Sequence[str]], signed_headers: Sequence[str]) -> str:
    lines = []
    for name in signed_headers:
        lname = name.lower()
        values = index.get(lname, ())
        if len(values) == 1:
            lines.append(f"{lname}:{_trimall(values[0])}\n")
        else:
            lines.append(f"{lname}:{','.join([_trimall(v) for v in values])}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers_block: str,
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """CanonicalRequest = HTTPMethod \\n CanonicalURI \\n CanonicalQueryString \\n
    CanonicalHeaders \\n SignedHeaders \\n HashedPayload, SignedHeaders = join(';', names)."""
    return "\n".join((method, uri, query, headers_block, ";".join(signed_headers), payload_hash))


def credential_scope(date: str, region: str, service: str) -> str:
    """Scope = yyyymmdd + '/' + region + '/' + service + '/aws4_request'."""
    return f"{date}/{region}/{service}/{SCOPE_TERMINAL}"


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """StringToSign = "AWS4-HMAC-SHA256" \\n timestamp \\n Scope \\n
    Hex(SHA256Hash(CanonicalRequest))."""
    digest = hashlib.sha256(wire_bytes(canonical)).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, wire_bytes(msg), hashlib.sha256).digest()


@lru_cache(maxsize=_SIGNING_KEY_CACHE_SIZE)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigningKey = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").

    Cached (bounded LRU): one key per secret, day, region and service serves every request of
    that day, which saves four HMACs per request.
    """
    k_date = _hmac(f"AWS4{secret}".encode(), date)
    return _hmac(_hmac(_hmac(k_date, region), service), SCOPE_TERMINAL)


def signature(key: bytes, text: str) -> str:
    """Signature = Hex(HMAC-SHA256(SigningKey, StringToSign))."""
    mac = _keyed_hmac(key).copy()
    mac.update(wire_bytes(text))
    return mac.hexdigest()


@lru_cache(maxsize=_SIGNING_KEY_CACHE_SIZE)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    # An HMAC that has absorbed the key (its padded inner and outer blocks): copying it skips
    # that work for every signature made with a cached signing key. Never updated in place.
    return hmac.new(key, digestmod=hashlib.sha256)


def signatures_equal(expected_hex: str, provided: str) -> bool:
    """Constant-time comparison on bytes; a non-ASCII `provided` is simply unequal.

    (hmac.compare_digest on two str raises TypeError for non-ASCII input, which would turn a
    forged signature into a 500.)
    """
    return hmac.compare_digest(expected_hex.encode("ascii"), provided.encode("utf-8", "replace"))


def canonical_request_for(req: RequestView, params: AuthParams) -> str:
    """The canonical request of `req` as `params` says it was signed."""
    payload = params.payload_hash if params.payload_hash is not None else ""
    return canonical_request(
        req.method,
        canonical_uri(req.raw_path),
        _canonical_query(req.raw_query, req.query_pairs, params.kind == PRESIGNED_AUTH),
        _canonical_headers(req.header_index, params.signed_headers),
        params.signed_headers,
        payload,
    )


# --- checks ------------------------------------------------------------------------------------

_STREAMING_MODES = {
    STREAMING_SIGNED: PayloadMode.STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER: PayloadMode.STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER: PayloadMode.STREAMING_UNSIGNED_TRAILER,
}


def _bad_sha256_value(value: str, message: str) -> InvalidArgument:
    return InvalidArgument(
        message, extra={"ArgumentName": X_AMZ_CONTENT_SHA256, "ArgumentValue": value}
    )


def payload_mode(payload_hash: str | None, *, kind: AuthKind) -> tuple[PayloadMode, str | None]:
    """Classify x-amz-content-sha256 (S3 API Reference, "Signature Calculations for the
    Authorization Header": a hex SHA-256, UNSIGNED-PAYLOAD or one of the STREAMING-* values)."""
    if payload_hash is None:
        # S3: "The x-amz-content-sha256 header is required for all AWS Signature Version 4
        # requests."
        raise InvalidRequest(f"Missing required header for this request: {X_AMZ_CONTENT_SHA256}")
    if payload_hash == UNSIGNED_PAYLOAD:
        return PayloadMode.UNSIGNED, None
    if _HEX64.fullmatch(payload_hash):
        return PayloadMode.SIGNED_SHA256, payload_hash.lower()
    if payload_hash in (STREAMING_ECDSA, STREAMING_ECDSA_TRAILER):
        # SigV4a (ECDSA) streaming is not supported by this gateway.
        raise _bad_sha256_value(payload_hash, "SigV4a (ECDSA) signed payloads are not supported.")
    mode = _STREAMING_MODES.get(payload_hash)
    if mode is not None and kind == HEADER_AUTH:
        return mode, None
    raise _bad_sha256_value(
        payload_hash,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a "
        "valid sha256 value.",
    )


def _malformed(kind: AuthKind, detail: str, *, extra: dict[str, str] | None = None) -> AuthError:
    # Header auth and presigned URLs report the same faults under different codes.
    if kind == HEADER_AUTH:
        return AuthorizationHeaderMalformed(
            f"The authorization header is malformed; {detail}", extra=extra
        )
    return AuthorizationQueryParametersError(
        f"Error parsing the X-Amz-Credential parameter; {detail}", extra=extra
    )


def _check_scope(params: AuthParams, *, region: str, service: str) -> None:
    """Credential scope: yyyymmdd/region/service/aws4_request, matching this endpoint."""
    scope, kind = params.scope, params.kind
    if not _SCOPE_DATE.fullmatch(scope.date):
        raise _malformed(
            kind,
            f"incorrect date format '{scope.date}'. This date in the credential must be in "
            "the format 'yyyyMMdd'.",
        )
    if scope.region != region:
        # S3 tells the client which region to use (AuthorizationHeaderMalformed <Region>).
        raise _malformed(
            kind,
            f"the region '{scope.region}' is wrong; expecting '{region}'",
            extra={"Region": region},
        )
    if scope.service != service:
        raise _malformed(
            kind, f"incorrect service '{scope.service}'. This endpoint belongs to '{service}'."
        )
    if scope.terminal != SCOPE_TERMINAL:
        raise _malformed(
            kind,
            f"incorrect terminal '{scope.terminal}'. This endpoint uses '{SCOPE_TERMINAL}'.",
        )
    if scope.date != params.amz_date_raw[:8]:
        raise _malformed(kind, "Invalid credential date. Date is not the same as X-Amz-Date.")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_time(params: AuthParams, *, now: datetime, max_skew: timedelta) -> None:
    if now.tzinfo is None:
        raise ValueError("verify() needs an aware `now` (UTC)")
    if params.kind == HEADER_AUTH:
        # Header auth: the request time must be within max_skew of ours, past or future.
        if abs(now - params.amz_date) > max_skew:
            raise RequestTimeTooSkewed(
                extra={
                    "RequestTime": params.amz_date_raw,
                    "ServerTime": _iso(now),
                    "MaxAllowedSkewMilliseconds": str(int(max_skew.total_seconds() * 1000)),
                }
            )
        return
    # Presigned: X-Amz-Expires governs the past; only the future is bounded by the skew.
    if params.amz_date - now > max_skew:
        raise AccessDenied("Request is not valid yet")
    expires = params.expires if params.expires is not None else 0
    if now >= params.amz_date + timedelta(seconds=expires):
        raise AccessDenied(
            "Request has expired",
            extra={
                "X-Amz-Expires": str(expires),
                "Expires": _iso(params.amz_date + timedelta(seconds=expires)),
                "ServerTime": _iso(now),
            },
        )


# x-amz-* headers that may go unsigned because nothing reads them unsigned:
# - header auth: x-amz-date is bound by the string to sign's timestamp line and
#   x-amz-content-sha256 by the canonical request's HashedPayload line;
# - presigned: x-amz-date is ignored (X-Amz-Date in the query rules); an unsigned
#   x-amz-content-sha256 is refused because a presign does not bind it.
_EXEMPT_HEADER_AUTH = frozenset((X_AMZ_DATE, X_AMZ_CONTENT_SHA256))
_EXEMPT_PRESIGNED = frozenset((X_AMZ_DATE,))


def _check_signed_headers(req: RequestView, params: AuthParams) -> None:
    signed = params.signed_headers
    if HOST not in signed:
        # S3 requires host among the signed headers (MinIO ErrUnsignedHeaders, garage 400).
        raise _malformed(params.kind, "the SignedHeaders must include host.")
    present = req.header_index
    for name in params.signed_headers:
        if name not in present:
            # A signed header the request does not carry cannot be what the client signed.
            raise SignatureDoesNotMatch(
                extra={"AWSAccessKeyId": params.access_key},
                reason=f"signed header {name!r} is not in the request",
            )
    exempt = _EXEMPT_HEADER_AUTH if params.kind == HEADER_AUTH else _EXEMPT_PRESIGNED
    # The index lists each lower-cased name once, in order of first arrival.
    unsigned = [
        lname
        for lname in present
        if lname.startswith(X_AMZ_PREFIX) and lname not in signed and lname not in exempt
    ]
    if unsigned:
        # An unsigned x-amz-* header (x-amz-copy-source, x-amz-acl, ...) could change what the
        # request does; S3 answers 403 AccessDenied with <HeadersNotSigned>.
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": ", ".join(unsigned)},
        )


def verify(
    req: RequestView,
    params: AuthParams,
    secret_key: str,
    *,
    now: datetime,
    region: str,
    service: str = "s3",
    max_skew: timedelta = MAX_SKEW,
) -> Verified:
    """Check `params` (from `parse_auth(req)`) against `secret_key`; raise an AuthError if wrong.

    Order: scope, time, signed-header rules, x-amz-content-sha256 value, then the signature.
    """
    _check_scope(params, region=region, service=service)
    _check_time(params, now=now, max_skew=max_skew)
    _check_signed_headers(req, params)
    mode, payload_sha256 = payload_mode(params.payload_hash, kind=params.kind)
    scope = str(params.scope)
    canonical = canonical_request_for(req, params)
    to_sign = string_to_sign(params.amz_date_raw, scope, canonical)
    key = signing_key(secret_key, params.scope.date, params.scope.region, params.scope.service)
    expected = signature(key, to_sign)
    if not signatures_equal(expected, params.signature):
        raise SignatureDoesNotMatch(
            extra={
                "AWSAccessKeyId": params.access_key,
                "StringToSign": to_sign,
                "SignatureProvided": params.signature,
                "CanonicalRequest": canonical,
            }
        )
    return Verified(
        access_key=params.access_key,
        signing_key=key,
        seed_signature=expected,
        amz_date=params.amz_date_raw,
        scope=scope,
        payload=mode,
        payload_sha256=payload_sha256,
    )
