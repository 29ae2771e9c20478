"""The AWS SigV4 test suite (aws-c-auth v4, S3-relevant cases) run through our verifier.

Every signed request must verify with the clock frozen at 2015-08-30T12:36:00Z and service
"service"; where the suite ships the canonical request and string to sign, ours must be equal
byte for byte; then each vector is mutated and must be refused with S3's code.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

import pytest

from auth.errors import AuthError, RequestTimeTooSkewed, SignatureDoesNotMatch
from auth.sigv4 import (
    AuthParams,
    RequestView,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_request_for,
    canonical_uri,
    parse_auth,
    signature,
    signing_key,
    string_to_sign,
    verify,
)
from tests.unit.auth.suite import (
    SUITE_NOW,
    SUITE_REGION,
    SUITE_SECRET,
    SUITE_SERVICE,
    SuiteRequest,
    cases,
    parse_request,
    read,
)

HEADER_CASES = cases("header")
QUERY_CASES = cases("query")
LEGACY_CASES = sorted(
    {
        case
        for case in HEADER_CASES + QUERY_CASES
        if read(case, "legacy-query-canonical-request.txt")
        or read(case, "legacy-query-signed-request.txt")
    }
)


def _load(case: str, kind: str) -> SuiteRequest:
    text = read(case, f"{kind}-signed-request.txt")
    assert text is not None
    return parse_request(text)


def _params(request: SuiteRequest) -> AuthParams:
    params = parse_auth(request.view)
    assert params is not None
    # The suite signs for a generic service ("service"), where HashedPayload is the body's
    # SHA-256; S3 would need x-amz-content-sha256 (header) or UNSIGNED-PAYLOAD (presigned).
    if params.kind == "presigned" or params.payload_hash is None:
        params = dataclasses.replace(params, payload_hash=request.body_sha256)
    return params


def _verify(view: RequestView, params: AuthParams, **overrides: object) -> None:
    options: dict[str, object] = {
        "now": SUITE_NOW,
        "region": SUITE_REGION,
        "service": SUITE_SERVICE,
    }
    options.update(overrides)
    verify(view, params, SUITE_SECRET, **options)  # type: ignore[arg-type]


def _expected(case: str, name: str) -> str | None:
    text = read(case, name)
    # smithy-rs' copy ends its files with a newline; a canonical request never does.
    return None if text is None else text.rstrip("\n")


def test_suite__has_the_s3_relevant_cases() -> None:
    assert len(HEADER_CASES) >= 29
    assert len(QUERY_CASES) >= 24
    assert not any(c.endswith("-normalized") for c in HEADER_CASES + QUERY_CASES)


@pytest.mark.parametrize("case", HEADER_CASES)
def test_header_auth__suite_vector_verifies(case: str) -> None:
    request = _load(case, "header")
    params = _params(request)
    _verify(request.view, params)
    creq = canonical_request_for(request.view, params)
    expected_creq = _expected(case, "header-canonical-request.txt")
    if expected_creq is not None:
        assert creq == expected_creq
    expected_sts = _expected(case, "header-string-to-sign.txt")
    if expected_sts is not None:
        assert string_to_sign(params.amz_date_raw, str(params.scope), creq) == expected_sts


@pytest.mark.parametrize("case", QUERY_CASES)
def test_presigned__suite_vector_verifies(case: str) -> None:
    request = _load(case, "query")
    params = _params(request)
    assert params.kind == "presigned"
    _verify(request.view, params)
    creq = canonical_request_for(request.view, params)
    expected_creq = _expected(case, "query-canonical-request.txt")
    if expected_creq is not None:
        assert creq == expected_creq
    expected_sts = _expected(case, "query-string-to-sign.txt")
    if expected_sts is not None:
        assert string_to_sign(params.amz_date_raw, str(params.scope), creq) == expected_sts


def _without_expires(view: RequestView) -> RequestView:
    kept = [p for p in view.raw_query.split("&") if not p.startswith("X-Amz-Expires=")]
    return dataclasses.replace(view, raw_query="&".join(kept))


@pytest.mark.parametrize("case", LEGACY_CASES)
def test_canonical_request__legacy_suite_revision_matches(case: str) -> None:
    """An earlier suite revision presigned without X-Amz-Expires; parse_auth rightly refuses
    those URLs, so the canonicalisation steps are checked one by one instead."""
    legacy = read(case, "legacy-query-signed-request.txt")
    request = parse_request(legacy) if legacy else _load(case, "query")
    view = _without_expires(request.view)
    query = dict(p.split("=", 1) for p in view.raw_query.split("&"))
    signed = tuple(query["X-Amz-SignedHeaders"].replace("%3B", ";").split(";"))
    creq = canonical_request(
        view.method,
        canonical_uri(view.raw_path),
        canonical_query(view.raw_query, exclude_signature=True),
        canonical_headers(view.headers, signed),
        signed,
        request.body_sha256,
    )
    scope = f"20150830/{SUITE_REGION}/{SUITE_SERVICE}/aws4_request"
    sts = string_to_sign("20150830T123600Z", scope, creq)
    expected_creq = _expected(case, "legacy-query-canonical-request.txt")
    expected_sts = _expected(case, "legacy-query-string-to-sign.txt")
    assert expected_creq is not None or expected_sts is not None or legacy
    if expected_creq is not None:
        assert creq == expected_creq
    if expected_sts is not None:
        assert sts == expected_sts
    if legacy:
        key = signing_key(SUITE_SECRET, "20150830", SUITE_REGION, SUITE_SERVICE)
        assert signature(key, sts) == query["X-Amz-Signature"]


# --- mutations: every vector, changed in one way, must be refused ---------------------------


def _flip_hex(sig: str) -> str:
    return ("0" if sig[0] != "0" else "1") + sig[1:]


def _refused(view: RequestView, params: AuthParams, **overrides: object) -> AuthError:
    with pytest.raises(AuthError) as info:
        _verify(view, params, **overrides)
    return info.value


ALL_VECTORS = [(c, "header") for c in HEADER_CASES] + [(c, "query") for c in QUERY_CASES]


@pytest.mark.parametrize(("case", "kind"), ALL_VECTORS)
def test_signature__one_hex_digit_flipped_is_refused(case: str, kind: str) -> None:
    request = _load(case, kind)
    params = _params(request)
    bad = dataclasses.replace(params, signature=_flip_hex(params.signature))
    assert isinstance(_refused(request.view, bad), SignatureDoesNotMatch)


@pytest.mark.parametrize("case", HEADER_CASES)
def test_header_auth__changed_signed_header_value_is_refused(case: str) -> None:
    request = _load(case, "header")
    params = _params(request)
    name = next(n for n in params.signed_headers if n != "x-amz-date")
    headers = tuple(
        (hname, value + "x" if hname.lower() == name else value)
        for hname, value in request.view.headers
    )
    view = dataclasses.replace(request.view, headers=headers)
    assert isinstance(_refused(view, params), SignatureDoesNotMatch)


@pytest.mark.parametrize("case", HEADER_CASES)
def test_header_auth__extra_name_in_signed_headers_is_refused(case: str) -> None:
    request = _load(case, "header")
    params = _params(request)
    bad = dataclasses.replace(params, signed_headers=(*params.signed_headers, "x-amz-meta-z"))
    assert isinstance(_refused(request.view, bad), SignatureDoesNotMatch)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)]
)
@pytest.mark.parametrize("case", HEADER_CASES)
def test_header_auth__clock_past_skew_is_refused(case: str, skew: timedelta) -> None:
    request = _load(case, "header")
    params = _params(request)
    assert isinstance(_refused(request.view, params, now=SUITE_NOW + skew), RequestTimeTooSkewed)
    within = timedelta(minutes=14) if skew > timedelta(0) else -timedelta(minutes=14)
    _verify(request.view, params, now=SUITE_NOW + within)


REORDERABLE = [(c, k) for c, k in ALL_VECTORS if "&" in _load(c, k).view.raw_query]


@pytest.mark.parametrize(("case", "kind"), REORDERABLE)
def test_query__reordered_parameters_still_verify(case: str, kind: str) -> None:
    request = _load(case, kind)
    parts = request.view.raw_query.split("&")
    view = dataclasses.replace(request.view, raw_query="&".join(reversed(parts)))
    _verify(view, _params(request))


def test_canonical_uri__s3_paths_are_not_normalised() -> None:
    # security.md 1.1: get-slashes-unnormalized and get-space-unnormalized.
    assert canonical_uri("//example//") == "//example//"
    assert canonical_uri("/example space/") == "/example%20space/"
    assert canonical_uri("/example%20space/") == "/example%20space/"
    assert canonical_uri("/a/../b/./c") == "/a/../b/./c"


def test_presigned__body_hash_is_what_the_suite_signed() -> None:
    # Guard for the driver itself: without the generic-service payload hash, nothing verifies.
    request = _load("post-vanilla", "query")
    params = parse_auth(request.view)
    assert params is not None and params.payload_hash == "UNSIGNED-PAYLOAD"
    with pytest.raises(SignatureDoesNotMatch):
        _verify(request.view, params)
    assert hashlib.sha256(b"").hexdigest() == request.body_sha256
