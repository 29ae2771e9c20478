"""The shortcuts the SigV4 parser and verifier take on common requests give exactly what the
general algorithm gives: each is checked against a straightforward reference for all inputs."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from auth.sigv4 import RequestView, canonical_headers, header_values

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
