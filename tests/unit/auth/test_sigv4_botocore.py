"""boto3 as the oracle: whatever it signs we verify, and our canonical request is its own.

Both of boto3's signers are used: aws-c-auth through awscrt, and botocore's Python signer (whose
canonical request we compare byte for byte).

Keys, query parameters and header values are drawn by hypothesis, including the characters S3
gateways get wrong (space, '+', '%', '~', '//', '..', non-ASCII).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtS3SigV4Auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.errors import AccessDenied, SignatureDoesNotMatch
from auth.sigv4 import (
    AuthParams,
    PayloadMode,
    RequestView,
    Verified,
    canonical_request_for,
    parse_auth,
    verify,
)
from tests.unit.auth.oracle import (
    ACCESS_KEY,
    NOW,
    REGION,
    SECRET_KEY,
    SIGNERS,
    Capture,
    Signer,
    frozen_clock,
    s3_client,
    view_of,
)

ORACLE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_KEY_CHARS = st.sampled_from([*"ab/ +%~.-_=&?#:;@!$'()*,[]^`{|}\\\"<>", "é", "日", "本", "\u1234"])
S3_KEYS = st.one_of(
    st.text(_KEY_CHARS, min_size=1, max_size=40),
    st.text(min_size=1, max_size=20).filter(lambda k: "\x00" not in k),
    st.sampled_from(
        ["a+b", "a b", "a%b", "a~b", "é", "a//b", "./x", "a/../b", "日本", "/lead", "a%2Fb"]
    ),
)
QUERY_TEXT = st.text(min_size=0, max_size=20).filter(lambda s: "\x00" not in s)
# aws-c-auth refuses to sign a query that already holds its own X-Amz-* parameters.
QUERY_NAME = QUERY_TEXT.filter(lambda s: not s.lower().startswith("x-amz-"))
HEADER_VALUE = st.text(
    st.sampled_from(list("abcXYZ019 -_.:;,/=+*'\"()[]{}!?@#$%^&~`|\\<>")), min_size=0, max_size=30
)
SIGNER = st.sampled_from(SIGNERS)
HEADER_NAME = st.text(st.sampled_from(list("abcdefxyz0189-")), min_size=1, max_size=12)

_CLIENTS: dict[bool, tuple[Any, Capture]] = {}


def _client(*, https: bool = False) -> tuple[Any, Capture]:
    # One client per scheme for the whole module: creating a boto3 client costs ~0.1 s.
    if https not in _CLIENTS:
        capture = Capture()
        _CLIENTS[https] = (s3_client(capture, https=https), capture)
    client, capture = _CLIENTS[https]
    capture.sent.clear()
    return client, capture


def _same_canonical(view: RequestView, params: AuthParams, recorded: list[str]) -> None:
    if recorded:  # only the Python signer exposes its canonical request
        assert canonical_request_for(view, params) == recorded[-1]


def _verify(view: RequestView, *, now: Any = NOW) -> tuple[Verified, AuthParams]:
    params = parse_auth(view)
    assert params is not None
    return verify(view, params, SECRET_KEY, now=now, region=REGION), params


@ORACLE
@given(
    signer=SIGNER,
    key=S3_KEYS,
    body=st.binary(max_size=64),
    meta=st.dictionaries(HEADER_NAME, HEADER_VALUE),
)
def test_put_object__boto3_request_verifies_and_canonicalises_alike(
    signer: Signer, key: str, body: bytes, meta: dict[str, str]
) -> None:
    client, capture = _client()
    with frozen_clock(signer=signer) as canonical:
        client.put_object(Bucket="bkt", Key=key, Body=body, Metadata=meta)
    (sent,) = capture.sent
    verified, params = _verify(sent.view)
    assert verified.payload is PayloadMode.SIGNED_SHA256
    _same_canonical(sent.view, params, canonical)


@ORACLE
@given(
    signer=SIGNER,
    prefix=QUERY_TEXT,
    start_after=QUERY_TEXT,
    delimiter=st.sampled_from(["/", "+", " ", "%"]),
)
def test_list_objects_v2__boto3_query_verifies(
    signer: Signer, prefix: str, start_after: str, delimiter: str
) -> None:
    client, capture = _client()
    with frozen_clock(signer=signer) as canonical:
        client.list_objects_v2(
            Bucket="bkt", Prefix=prefix, StartAfter=start_after, Delimiter=delimiter
        )
    (sent,) = capture.sent
    _, params = _verify(sent.view)
    _same_canonical(sent.view, params, canonical)


def _signed_by_botocore(
    signer: Signer, path: str, query: list[tuple[str, str]], headers: dict[str, str]
) -> tuple[RequestView, list[str]]:
    raw_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query)
    url = f"http://s3.pcache.test/{quote(path, safe='/~')}" + (f"?{raw_query}" if query else "")
    request = AWSRequest(method="GET", url=url, headers=headers)
    auth_class = S3SigV4Auth if signer == "python" else CrtS3SigV4Auth
    with frozen_clock(signer=signer) as canonical:
        auth_class(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    return view_of("GET", request.url, request.headers), canonical


@ORACLE
@given(
    signer=SIGNER,
    path=S3_KEYS,
    query=st.lists(st.tuples(QUERY_NAME, QUERY_TEXT), max_size=5),
    headers=st.dictionaries(HEADER_NAME.map(lambda n: f"x-amz-meta-{n}"), HEADER_VALUE, max_size=3),
    custom=st.dictionaries(HEADER_NAME.map(lambda n: f"x-custom-{n}"), HEADER_VALUE, max_size=3),
)
def test_s3_sigv4_auth__random_query_and_headers_verify(
    signer: Signer,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    custom: dict[str, str],
) -> None:
    view, canonical = _signed_by_botocore(signer, path, query, {**headers, **custom})
    _, params = _verify(view)
    _same_canonical(view, params, canonical)


@ORACLE
@given(
    signer=SIGNER,
    key=S3_KEYS,
    expires=st.integers(min_value=1, max_value=604800),
    content_type=QUERY_TEXT,
    version=st.text(st.sampled_from(list("abcXYZ019+/=")), min_size=1, max_size=12),
)
def test_presigned_get_object__boto3_url_verifies(
    signer: Signer, key: str, expires: int, content_type: str, version: str
) -> None:
    client, _ = _client()
    with frozen_clock(signer=signer) as canonical:
        url = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": "bkt",
                "Key": key,
                "ResponseContentType": content_type,
                "VersionId": version,
            },
            ExpiresIn=expires,
        )
    view = view_of("GET", url, {"Host": urlsplit(url).netloc})
    verified, params = _verify(view, now=NOW + timedelta(seconds=expires - 1))
    assert verified.payload is PayloadMode.UNSIGNED
    assert params.kind == "presigned" and params.expires == expires
    _same_canonical(view, params, canonical)
    with pytest.raises(AccessDenied, match="expired"):
        _verify(view, now=NOW + timedelta(seconds=expires))


def _presigned_view(signer: Signer, **params: Any) -> RequestView:
    client, _ = _client()
    with frozen_clock(signer=signer):
        url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
    return view_of("GET", url, {"Host": urlsplit(url).netloc})


@pytest.mark.parametrize("signer", SIGNERS)
def test_presigned__altered_response_content_type_is_refused(signer: Signer) -> None:
    view = _presigned_view(signer, Bucket="bkt", Key="k", ResponseContentType="text/plain")
    _verify(view)
    tampered = view.raw_query.replace("text%2Fplain", "text%2Fhtml")
    assert tampered != view.raw_query
    with pytest.raises(SignatureDoesNotMatch):
        _verify(dataclasses.replace(view, raw_query=tampered))


@pytest.mark.parametrize("signer", SIGNERS)
def test_presigned__added_version_id_is_refused(signer: Signer) -> None:
    view = _presigned_view(signer, Bucket="bkt", Key="k")
    with pytest.raises(SignatureDoesNotMatch):
        _verify(dataclasses.replace(view, raw_query=view.raw_query + "&versionId=v1"))


@pytest.mark.parametrize("signer", SIGNERS)
def test_put_object__unsigned_copy_source_added_after_signing_is_refused(signer: Signer) -> None:
    client, capture = _client()
    with frozen_clock(signer=signer):
        client.put_object(Bucket="bkt", Key="k", Body=b"x")
    (sent,) = capture.sent
    headers = (*sent.view.headers, ("x-amz-copy-source", "/other/secret"), ("X-Amz-Acl", "public"))
    with pytest.raises(AccessDenied) as info:
        _verify(dataclasses.replace(sent.view, headers=headers))
    assert info.value.extra == {"HeadersNotSigned": "x-amz-copy-source, x-amz-acl"}


@pytest.mark.parametrize("signer", SIGNERS)
def test_put_object__unsigned_content_type_and_custom_header_are_allowed(signer: Signer) -> None:
    client, capture = _client()
    with frozen_clock(signer=signer):
        client.put_object(Bucket="bkt", Key="k", Body=b"x")
    (sent,) = capture.sent
    headers = (*sent.view.headers, ("X-Custom-Header", "1"), ("User-Agent", "curl"))
    _verify(dataclasses.replace(sent.view, headers=headers))


@pytest.mark.parametrize("signer", SIGNERS)
def test_put_object__boto3_signs_every_x_amz_header_it_sends(signer: Signer) -> None:
    client, capture = _client()
    with frozen_clock(signer=signer):
        client.put_object(
            Bucket="bkt", Key="k", Body=b"x", ACL="private", Tagging="a=b", StorageClass="STANDARD"
        )
    (sent,) = capture.sent
    params = parse_auth(sent.view)
    assert params is not None
    sent_x_amz = {n.lower() for n, _ in sent.view.headers if n.lower().startswith("x-amz-")}
    assert {"x-amz-acl", "x-amz-tagging", "x-amz-storage-class"} <= sent_x_amz
    assert sent_x_amz <= set(params.signed_headers)
