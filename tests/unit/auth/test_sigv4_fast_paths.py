"""The shortcuts the SigV4 parser and verifier take on common requests give exactly what the
general algorithm gives: each is checked against a straightforward reference for all inputs."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from urllib.parse import quote_from_bytes, unquote_to_bytes

from hypothesis import given, settings
from hypothesis import strategies as st

from auth import sigv4, sigv4_parse
from auth.sigv4 import RequestView, canonical_headers, header_values, wire_bytes
from auth.sigv4_parse import split_query

# Header names that collide once lower-cased, so repeats and case variants are common.
_NAMES = st.sampled_from(["Host", "host", "HOST", "X-Amz-Date", "x-amz-date", "x-amz-meta-A", "a"])
_HEADERS = st.lists(st.tuples(_NAMES | st.text(max_size=6), st.text(max_size=12)), max_size=8)


def _reference_canonical_headers(headers: list[tuple[str, str]], signed: list[str]) -> str:
    # CanonicalHeaders computed by scanning the header list per name (the spec, literally).
    lines = []
    for name in signed:
        values = ",".join(_trimall(v) for v in header_values(headers, name))
        lines.append(f"{name.lower()}:{values}\n")
    return "".join(lines)


def _trimall(value: str) -> str:
    # Trimall: runs of spaces and tabs become one space; leading and trailing ones go.
    out: list[str] = []
    for ch in value:
        blank = ch in " \t"
        if blank and out and out[-1] == " ":
            continue
        out.append(" " if blank else ch)
    return "".join(out).strip(" ")


@settings(max_examples=300, deadline=None)
@given(headers=_HEADERS)
def test_header_index__matches_a_scan_of_the_header_list(headers: list[tuple[str, str]]) -> None:
    view = RequestView("GET", "/", "", tuple(headers))
    first_seen = list(dict.fromkeys(name.lower() for name, _ in headers))
    assert list(view.header_index) == first_seen
    for name, _ in headers:
        assert list(view.header_index[name.lower()]) == header_values(headers, name)
    # Derived, not part of the value: equal views stay equal, replace() re-derives it.
    assert view == RequestView("GET", "/", "", tuple(headers))
    extra = dataclasses.replace(view, headers=(*view.headers, ("X-Extra", "1")))
    assert list(extra.header_index["x-extra"]) == ["1"]


@settings(max_examples=300, deadline=None)
@given(
    headers=_HEADERS,
    signed=st.lists(_NAMES | st.text(max_size=6), max_size=5),
    blanks=st.text(alphabet=" \ta", max_size=8),
)
def test_canonical_headers__matches_the_spec_reference(
    headers: list[tuple[str, str]], signed: list[str], blanks: str
) -> None:
    headers = [*headers, ("host", blanks), ("Host", f"{blanks}h{blanks}o{blanks}")]
    assert canonical_headers(headers, signed) == _reference_canonical_headers(headers, signed)


# Text rich in what the percent-coding shortcuts must get right: escapes of unreserved and
# reserved bytes, lower-case hex, stray '%', '/', '+', non-ASCII, and lone surrogates (what
# aiohttp's surrogateescape decoding makes of invalid UTF-8).
_ESCAPES = st.sampled_from(["%2F", "%2f", "%20", "%41", "%7E", "%7e", "%2D", "%25", "%C3%A9", "%"])
_CHARS = st.sampled_from([*"aZ09-_.~/+%=&FfGg é", "\udcff", "\ud800", "€"])
_CODED = st.lists(_ESCAPES | _CHARS | st.text(max_size=3), max_size=12).map("".join)


def _slow_decode(component: str) -> str:
    return unquote_to_bytes(wire_bytes(component)).decode("utf-8", "replace")


def _slow_canonical(raw: str, *, keep_slash: bool) -> str:
    return quote_from_bytes(unquote_to_bytes(wire_bytes(raw)), safe="/" if keep_slash else "")


@settings(max_examples=1000, deadline=None)
@given(text=_CODED)
def test_decode__equals_unquote_to_bytes(text: str) -> None:
    assert sigv4_parse._decode(text) == _slow_decode(text)


@settings(max_examples=1000, deadline=None)
@given(text=_CODED, keep_slash=st.booleans())
def test_canonical_component__equals_decode_then_uri_encode(text: str, keep_slash: bool) -> None:
    assert sigv4._canonical(text, keep_slash=keep_slash) == _slow_canonical(
        text, keep_slash=keep_slash
    )


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=24), keep_slash=st.booleans())
def test_canonical_component__is_identity_on_encoder_output(data: bytes, keep_slash: bool) -> None:
    # Whatever the encoder produces is canonical already, and takes the shortcut unchanged.
    encoded = quote_from_bytes(data, safe="/" if keep_slash else "")
    assert sigv4._canonical(encoded, keep_slash=keep_slash) == encoded


def test_canonical_component__every_single_escape() -> None:
    for byte in range(256):
        for text in (f"%{byte:02X}", f"%{byte:02x}", f"a%{byte:02X}b", chr(byte)):
            for keep_slash in (False, True):
                assert sigv4._canonical(text, keep_slash=keep_slash) == _slow_canonical(
                    text, keep_slash=keep_slash
                )


def _slow_canonical_query(raw_query: str, *, exclude_signature: bool) -> str:
    encoded = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            enc_name = _slow_canonical(name, keep_slash=False)
            if not (exclude_signature and enc_name == "X-Amz-Signature"):
                encoded.append((enc_name, _slow_canonical(value, keep_slash=False)))
    return "&".join(f"{name}={value}" for name, value in sorted(encoded))


_QUERY_PART = st.sampled_from(["&", "=", "&&", "X-Amz-Signature=", "X-Amz-Signature", "X-Amz-Date"])
_QUERY = st.lists(_QUERY_PART | _CODED, max_size=10).map("".join)


@settings(max_examples=1000, deadline=None)
@given(raw_query=_QUERY, exclude_signature=st.booleans())
def test_canonical_query__equals_encoding_each_component(
    raw_query: str, exclude_signature: bool
) -> None:
    assert sigv4.canonical_query(
        raw_query, exclude_signature=exclude_signature
    ) == _slow_canonical_query(raw_query, exclude_signature=exclude_signature)


def test_canonical_query__presigned_url_takes_the_shortcut_unchanged() -> None:
    raw = (
        "X-Amz-Signature=ab12&X-Amz-Credential=AK%2F20260301%2Fus-east-1%2Fs3%2Faws4_request"
        "&versionId=&X-Amz-Algorithm=AWS4-HMAC-SHA256&acl"
    )
    assert sigv4._CANONICAL_QUERY.fullmatch(raw)
    assert sigv4.canonical_query(raw, exclude_signature=True) == (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260301%2Fus-east-1%2Fs3%2F"
        "aws4_request&acl=&versionId="
    )
    # '=' inside a value is not canonical: it is encoded, not taken as it is.
    assert not sigv4._CANONICAL_QUERY.fullmatch("a=b=c")
    assert sigv4.canonical_query("a=b=c") == "a=b%3Dc"


@given(raw_query=_QUERY)
def test_query_pairs__are_the_split_query_and_follow_replace(raw_query: str) -> None:
    view = RequestView("GET", "/", raw_query, ())
    assert list(view.query_pairs) == split_query(raw_query)
    assert list(dataclasses.replace(view, raw_query="a=1&b").query_pairs) == [("a", "1"), ("b", "")]


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=1, max_size=80), texts=st.lists(st.text(max_size=40), max_size=3))
def test_signature__is_hmac_sha256_every_time(key: bytes, texts: list[str]) -> None:
    # The keyed HMAC is reused across calls: no call may leave data in it for the next.
    for text in [*texts, *texts]:
        expected = hmac.new(key, wire_bytes(text), hashlib.sha256).hexdigest()
        assert sigv4.signature(key, text) == expected
