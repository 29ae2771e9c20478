"""SigV4 names, literals and the values that cross the `auth` boundary (no SigV4 logic here).

Kept apart from `auth.sigv4` so that the header / query parser (`auth.sigv4_parse`) and the
verifier share them without importing each other. Import them from `auth.sigv4`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

# --- names and literals (AWS S3 API Reference, "Authenticating Requests (AWS Signature V4)") ---
ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINAL = "aws4_request"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"  # ISO 8601 basic, e.g. 20150830T123600Z

HOST = "host"
X_AMZ_PREFIX = "x-amz-"
X_AMZ_DATE = "x-amz-date"
X_AMZ_CONTENT_SHA256 = "x-amz-content-sha256"
X_AMZ_SECURITY_TOKEN = "x-amz-security-token"  # noqa: S105 - a header name
AUTHORIZATION = "authorization"
DATE = "date"

# Presigned URL query parameters (S3 API Reference, "Authenticating Requests: Using Query
# Parameters"); query names are case-sensitive.
Q_ALGORITHM = "X-Amz-Algorithm"
Q_CREDENTIAL = "X-Amz-Credential"
Q_DATE = "X-Amz-Date"
Q_EXPIRES = "X-Amz-Expires"
Q_SIGNED_HEADERS = "X-Amz-SignedHeaders"
Q_SIGNATURE = "X-Amz-Signature"
Q_SECURITY_TOKEN = "X-Amz-Security-Token"  # noqa: S105 - a query name
Q_CONTENT_SHA256 = "X-Amz-Content-Sha256"
# SigV2 presigned URLs ("AWSAccessKeyId=...&Expires=...&Signature=...") and headers ("AWS ak:sig").
Q_V2_ACCESS_KEY = "AWSAccessKeyId"
Q_V2_SIGNATURE = "Signature"
V2_ALGORITHM = "AWS"

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_ECDSA = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
STREAMING_ECDSA_TRAILER = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"

# S3 allows 15 minutes between the request time and the server clock, in both directions
# (RequestTimeTooSkewed); the same window bounds how far in the future a presign date may be.
MAX_SKEW = timedelta(minutes=15)
# "X-Amz-Expires ... Minimum value of 1 and maximum value of 604800 (seven days)"; 604800 itself
# is accepted, as MinIO and garage do.
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

AuthKind = Literal["header", "presigned"]
HEADER_AUTH: AuthKind = "header"
PRESIGNED_AUTH: AuthKind = "presigned"


def index_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Lower-cased header name -> every value of that header, in arrival order. The names
    keep the order in which each first arrived."""
    index: dict[str, list[str]] = {}
    for name, value in headers:
        lname = name.lower()
        values = index.get(lname)
        if values is None:
            index[lname] = [value]
        else:
            values.append(value)
    return index


def split_query(raw_query: str) -> list[tuple[str, str]]:
    """Raw `name[=value]` pairs of a query string, still percent-encoded; empty segments dropped."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


@dataclass(frozen=True, slots=True)
class RequestView:
    """The parts of an HTTP request SigV4 covers, exactly as they arrived (never decoded).

    `headers` keeps names as received, repeated headers, and arrival order. `header_index` and
    `query_pairs` are derived once (see `index_headers` and `split_query`), so that parsing and
    verifying look a header up instead of scanning the list for every name, and split the
    query only once.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    header_index: Mapping[str, Sequence[str]] = field(init=False, repr=False, compare=False)
    query_pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header_index", index_headers(self.headers))
        pairs = tuple(split_query(self.raw_query)) if self.raw_query else ()
        object.__setattr__(self, "query_pairs", pairs)


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """`<date>/<region>/<service>/aws4_request`, the second half of a Credential."""

    date: str
    region: str
    service: str
    terminal: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminal}"


@dataclass(frozen=True, slots=True)
class AuthParams:
    """What a request claims: who signed it, when, over which headers, with which signature."""

    kind: AuthKind
    access_key: str
    amz_date: datetime  # aware, UTC
    amz_date_raw: str  # the ISO 8601 basic form used in the string to sign
    scope: CredentialScope
    signed_headers: tuple[str, ...]  # lowercased, in the order the client listed them
    signature: str
    # x-amz-content-sha256; None when header auth omits it; UNSIGNED-PAYLOAD for a presign.
    payload_hash: str | None
    expires: int | None  # presigned only
    security_token: str | None


class PayloadMode(enum.Enum):
    """How the request body is protected (the value of x-amz-content-sha256)."""

    SIGNED_SHA256 = "signed-sha256"
    UNSIGNED = "unsigned"
    STREAMING_SIGNED = "streaming-signed"
    STREAMING_SIGNED_TRAILER = "streaming-signed-trailer"
    STREAMING_UNSIGNED_TRAILER = "streaming-unsigned-trailer"


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature checked out, and what the body decoder needs next."""

    access_key: str
    signing_key: bytes = field(repr=False)
    seed_signature: str
    amz_date: str
    scope: str
    payload: PayloadMode
    payload_sha256: str | None  # lowercase hex, only for PayloadMode.SIGNED_SHA256
