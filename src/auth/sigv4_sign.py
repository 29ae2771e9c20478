"""Sign an outgoing request with SigV4 (header auth), built from the verifier's own steps.

The `pcache admin` CLI signs its calls here; using the very functions `auth.sigv4` verifies
with (canonical URI, query, headers, string to sign, signing key) means client and server can
never disagree on a canonicalisation detail. The payload is always signed (hex SHA-256 of the
body in `x-amz-content-sha256`): the admin API refuses unsigned bodies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from auth.sigv4 import (
    ALGORITHM,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    credential_scope,
    signature,
    signing_key,
    string_to_sign,
)
from auth.sigv4_values import AMZ_DATE_FORMAT

__all__ = ["UNSIGNED_HEADERS", "sign_headers"]

#: Headers a proxy or the HTTP library may add, drop or rewrite on the way: signing them would
#: break the signature for no security gain (botocore leaves out the same set).
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host(url: str) -> str:
    """The Host header for `url`: hostname plus the port unless it is the scheme's default."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"URL {url!r} has no host")
    host = parts.hostname
    if ":" in host:  # an IPv6 literal goes back into brackets
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def sign_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    session_token: str | None = None,
    now: datetime | None = None,
    *,
    service: str = "s3",
) -> dict[str, str]:
    """The headers to add to a request so that it carries a valid SigV4 header signature.

    Returns `Authorization`, `X-Amz-Date`, `X-Amz-Content-Sha256`, `host` and, for temporary
    credentials, `X-Amz-Security-Token`. Every header in `headers` is signed too, except the
    hop-by-hop ones in UNSIGNED_HEADERS. `url` must already be percent-encoded (its path and
    query are signed as they will go on the wire).
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime(AMZ_DATE_FORMAT)
    payload_hash = hashlib.sha256(body).hexdigest()
    added = {
        "host": _host(url),
        "X-Amz-Date": amz_date,
        "X-Amz-Content-Sha256": payload_hash,
    }
    if session_token is not None:
        added["X-Amz-Security-Token"] = session_token
    pairs = [
        (name, value)
        for name, value in headers.items()
        if name.lower() not in UNSIGNED_HEADERS and name.lower() not in _lower(added)
    ]
    pairs += list(added.items())
    signed = sorted({name.lower() for name, _ in pairs})
    parts = urlsplit(url)
    canonical = canonical_request(
        method.upper(),
        canonical_uri(parts.path or "/"),
        canonical_query(parts.query),
        canonical_headers(pairs, signed),
        signed,
        payload_hash,
    )
    scope = credential_scope(amz_date[:8], region, service)
    key = signing_key(secret_key, amz_date[:8], region, service)
    sig = signature(key, string_to_sign(amz_date, scope, canonical))
    added["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    return added


def _lower(headers: Mapping[str, str]) -> set[str]:
    return {name.lower() for name in headers}
