"""Hand-made SigV4 requests for the error paths boto3 never produces (wrong scope, bad dates...).

They are signed with our own step functions; that those steps are right is established by the
AWS suite and the boto3 oracle tests, so here only the refusal logic is under test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from auth.sigv4 import (
    RequestView,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    signature,
    signing_key,
    string_to_sign,
)

AK = "PCCRAFTACCESSKEY0001"
SECRET = "craft/secret+key"
HOST = "s3.pcache.test"
REGION = "us-east-1"
AMZ_DATE = "20260301T093015Z"
NOW = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _sign(
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    signed: Sequence[str],
    payload: str,
    *,
    amz_date: str,
    scope: str,
    secret: str,
) -> str:
    creq = canonical_request(
        method,
        canonical_uri(path),
        canonical_query(query, exclude_signature=True),
        canonical_headers(headers, signed),
        signed,
        payload,
    )
    date, region, service, _ = scope.split("/")
    return signature(
        signing_key(secret, date, region, service), string_to_sign(amz_date, scope, creq)
    )


def header_request(
    *,
    method: str = "GET",
    path: str = "/bkt/key",
    query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    payload: str | None = EMPTY_SHA256,
    amz_date: str | None = AMZ_DATE,
    scope: str | None = None,
    signed: Sequence[str] | None = None,
    secret: str = SECRET,
    algorithm: str = "AWS4-HMAC-SHA256",
) -> RequestView:
    """A header-authenticated request; by default signs every header it carries."""
    all_headers: list[tuple[str, str]] = [("Host", HOST), *headers]
    if amz_date is not None:
        all_headers.append(("X-Amz-Date", amz_date))
    if payload is not None:
        all_headers.append(("X-Amz-Content-SHA256", payload))
    names = sorted({n.lower() for n, _ in all_headers}) if signed is None else list(signed)
    date = (amz_date or AMZ_DATE)[:8]
    scope = scope or f"{date}/{REGION}/s3/aws4_request"
    sig = _sign(
        method,
        path,
        query,
        all_headers,
        names,
        payload or EMPTY_SHA256,
        amz_date=amz_date or AMZ_DATE,
        scope=scope,
        secret=secret,
    )
    authorization = (
        f"{algorithm} Credential={AK}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    )
    return RequestView(method, path, query, (*all_headers, ("Authorization", authorization)))


def presigned_request(
    *,
    method: str = "GET",
    path: str = "/bkt/key",
    extra_query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
    expires: str = "3600",
    amz_date: str = AMZ_DATE,
    scope: str | None = None,
    signed: Sequence[str] = ("host",),
    algorithm: str = "AWS4-HMAC-SHA256",
    omit: Sequence[str] = (),
    secret: str = SECRET,
) -> RequestView:
    """A presigned URL request, built and signed the way S3's documentation describes."""
    scope = scope or f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    params = [
        *extra_query,
        ("X-Amz-Algorithm", algorithm),
        ("X-Amz-Credential", f"{AK}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", expires),
        ("X-Amz-SignedHeaders", ";".join(signed)),
    ]
    params = [(k, v) for k, v in params if k not in omit]
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
    all_headers = [("Host", HOST), *headers]
    sig = _sign(
        method,
        path,
        query,
        all_headers,
        signed,
        "UNSIGNED-PAYLOAD",
        amz_date=amz_date,
        scope=scope,
        secret=secret,
    )
    if "X-Amz-Signature" not in omit:
        query += f"&X-Amz-Signature={sig}"
    return RequestView(method, path, query, tuple(all_headers))
