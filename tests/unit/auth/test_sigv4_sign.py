"""`auth.sigv4_sign` against botocore's signer: the same request gets the same Authorization.

The oracle is `S3SigV4Auth`, botocore's SigV4Auth with S3's rules (no path normalisation, the
payload hash in `X-Amz-Content-SHA256`), which is what the gateway verifies. Each request is also
checked by our own verifier, so signer and verifier are proven to agree end to end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.errors import SignatureDoesNotMatch
from auth.sigv4 import RequestView, parse_auth, verify
from auth.sigv4_sign import sign_headers

ACCESS_KEY = "PCSIGNERACCESSKEY001"
SECRET_KEY = "signer/secret+key=odd/chars0123456789ab"
REGION = "us-east-1"
TOKEN = "FQoGZXIvYXdzEJr//////////wEaDOdd+token=="


def _oracle(
    method: str, url: str, headers: dict[str, str], body: bytes, token: str | None = None
) -> tuple[dict[str, str], datetime]:
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "s3", REGION).add_auth(req)
    stamp = datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return dict(req.headers.items()), stamp


def _ours(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
    token: str | None = None,
) -> dict[str, str]:
    return sign_headers(method, url, headers, body, ACCESS_KEY, SECRET_KEY, REGION, token, now)


def _verify(method: str, url: str, headers: dict[str, str], now: datetime) -> None:
    parts = urlsplit(url)
    view = RequestView(method, parts.path or "/", parts.query, tuple(headers.items()))
    params = parse_auth(view)
    assert params is not None
    verify(view, params, SECRET_KEY, now=now, region=REGION)


CASES = [
    ("GET", "http://127.0.0.1:9000/admin/v1/users", {}, b""),
    (
        "POST",
        "http://127.0.0.1:9000/admin/v1/users",
        {"Content-Type": "application/json"},
        b'{"name": "alice"}',
    ),
    ("PUT", "https://gw.example.com/admin/v1/users/a%2Bb/policies/p%3D1", {}, b""),
    ("GET", "http://localhost:80/admin/v1/users?max=10&after=a%20b&flag=", {}, b""),
    ("DELETE", "https://[::1]:8443/admin/v1/keys/AKIA0001", {"Accept": "application/json"}, b""),
    (
        "PATCH",
        "http://h:1/x",
        {"Content-Type": "application/json", "User-Agent": "pcache-admin", "X-Custom": " a  b "},
        b'{"enabled": false}',
    ),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), CASES)
@pytest.mark.parametrize("token", [None, TOKEN])
def test_sign_headers__matches_botocore(
    method: str, url: str, headers: dict[str, str], body: bytes, token: str | None
) -> None:
    theirs, now = _oracle(method, url, headers, body, token)
    ours = _ours(method, url, headers, body, now, token)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert ours["X-Amz-Content-Sha256"] == theirs["X-Amz-Content-SHA256"]
    assert ours.get("X-Amz-Security-Token") == token
    _verify(method, url, {**headers, **ours}, now)


def test_sign_headers__host_drops_default_ports_only() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert _ours("GET", "http://h:80/", {}, b"", now)["host"] == "h"
    assert _ours("GET", "https://h:443/", {}, b"", now)["host"] == "h"
    assert _ours("GET", "https://h:80/", {}, b"", now)["host"] == "h:80"
    assert _ours("GET", "http://[::1]:9/", {}, b"", now)["host"] == "[::1]:9"


def test_sign_headers__a_changed_body_fails_verification() -> None:
    now = datetime.now(UTC)
    url = "http://127.0.0.1:1/admin/v1/users"
    signed = _ours("POST", url, {}, b'{"name":"a"}', now)
    signed["X-Amz-Content-Sha256"] = _ours("POST", url, {}, b'{"name":"b"}', now)[
        "X-Amz-Content-Sha256"
    ]
    with pytest.raises(SignatureDoesNotMatch):
        _verify("POST", url, signed, now)


def test_sign_headers__offset_now_is_utc() -> None:
    aware = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    shifted = aware.astimezone(timezone(timedelta(hours=8)))
    url = "http://h:1/"
    assert _ours("GET", url, {}, b"", aware) == _ours("GET", url, {}, b"", shifted)


_NAME = st.text(
    st.sampled_from(list("ABCxyz019+=,.@_-")),
    min_size=1,
    max_size=30,
)
_VALUE = st.text(st.sampled_from(list("abcXYZ019 -_.:;,/=+*'\"()!?@#$%^&~")), max_size=30)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "PATCH", "DELETE"]),
    segments=st.lists(_NAME, min_size=1, max_size=4),
    query=st.lists(st.tuples(_NAME, _VALUE), max_size=3),
    header=_VALUE,
    body=st.binary(max_size=200),
)
def test_sign_headers__matches_botocore_for_any_names(
    method: str, segments: list[str], query: list[tuple[str, str]], header: str, body: bytes
) -> None:
    path = "/admin/v1/" + "/".join(quote(s, safe="") for s in segments)
    qs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query))
    url = f"http://127.0.0.1:8080{path}" + (f"?{qs}" if qs else "")
    headers = {"X-Note": header} if header.strip() else {}
    theirs, now = _oracle(method, url, headers, body)
    ours = _ours(method, url, headers, body, now)
    assert ours["Authorization"] == theirs["Authorization"]
    _verify(method, url, {**headers, **ours}, now)
