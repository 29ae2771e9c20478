"""The IAM glob matcher, pattern sets, policy-variable templates and the S3 ARN helpers."""

from __future__ import annotations

import fnmatch
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth.policy_match import (
    ONE,
    STAR,
    PatternSet,
    Template,
    TemplateSet,
    Variable,
    bucket_arn,
    compile_glob,
    glob_match,
    object_arn,
    parse_template,
)

GLOB_CASES = [
    # (pattern, text, matches)
    ("abc", "abc", True),
    ("abc", "abd", False),
    ("abc", "ab", False),
    ("", "", True),
    ("", "a", False),
    ("*", "", True),
    ("*", "any/thing/at/all", True),
    ("?", "", False),
    ("?", "x", True),
    ("?", "xy", False),
    ("a?c", "abc", True),
    ("a?c", "a/c", True),  # `?` matches `/` too
    ("a?c", "ac", False),
    ("a*", "a", True),
    ("a*", "b", False),
    ("*a", "bba", True),
    ("*a", "ab", False),
    ("a*b", "ab", True),
    ("a*b", "a/x/y/b", True),  # `*` crosses `/`
    ("a*b", "a/x/y/bc", False),
    ("a*b*c", "abbbc", True),
    ("a*b*c", "acb", False),
    ("*a*a", "aaa", True),
    ("*a*a", "a", False),
    ("*ab*ab*", "xabyab", True),
    ("*ab*ab*", "xaba", False),
    ("a?*?b", "axyb", True),
    ("a?*?b", "axb", False),
    ("**", "", True),
    ("*?*", "", False),
    ("*?*", "z", True),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/k", True),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b", False),
    ("arn:aws:s3:::b", "arn:aws:s3:::b/k", False),
    # IAM-07: a missing `/` after the bucket name also covers other buckets (AWS does the same)
    ("arn:aws:s3:::b*", "arn:aws:s3:::b-evil", True),
    ("arn:aws:s3:::b*", "arn:aws:s3:::b-evil/key", True),
    # IAM-07: resources are case-sensitive
    ("arn:aws:s3:::b/Foo", "arn:aws:s3:::b/foo", False),
    ("arn:aws:s3:::b/Foo", "arn:aws:s3:::b/Foo", True),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), GLOB_CASES)
def test_glob_match__table(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


IGNORE_CASE_CASES = [
    ("s3:Get*", "S3:GETOBJECT", True),
    ("s3:getobject", "s3:GetObject", True),
    ("S3:G?TOBJECT", "s3:getobject", True),
    ("s3:Get*", "s3:PutObject", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), IGNORE_CASE_CASES)
def test_glob_match__ignore_case(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text, ignore_case=True) is expected
    assert PatternSet.from_strings([pattern], ignore_case=True).matches(text) is expected


def test_glob_match__case_sensitive_by_default() -> None:
    assert not glob_match("s3:Get*", "S3:GETOBJECT")


# `[` is fnmatch syntax (a character class), so it is not in the alphabet.
PATTERN_CHARS = st.sampled_from("ab/.*?")
TEXT_CHARS = st.sampled_from("ab/.*?")


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.text(PATTERN_CHARS, max_size=12),
    text=st.text(TEXT_CHARS, max_size=16),
)
def test_glob_match__agrees_with_fnmatchcase(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) is fnmatch.fnmatchcase(text, pattern)


@settings(max_examples=200, deadline=None)
@given(patterns=st.lists(st.text(PATTERN_CHARS, max_size=8), max_size=4), text=st.text(TEXT_CHARS))
def test_pattern_set__is_the_or_of_its_patterns(patterns: list[str], text: str) -> None:
    expected = any(fnmatch.fnmatchcase(text, p) for p in patterns)
    assert PatternSet.from_strings(patterns).matches(text) is expected


def _elapsed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a" * 5000, True),
        ("a" * 4999 + "b", False),  # the classic backtracking killer: fails at the very end
        ("ab" * 2500, False),
        ("b" * 5000, False),
        ("ba" * 2500, True),
    ],
)
def test_glob_match__hostile_pattern_is_fast(key: str, expected: bool) -> None:
    """IAM-21: 40 `*a` segments against a 5000-character key, well under 50 ms."""
    pattern = "arn:aws:s3:::b/" + "*a" * 40
    text = "arn:aws:s3:::b/" + key
    glob = compile_glob(pattern)
    assert glob.matches(text) is expected
    assert _elapsed(lambda: glob.matches(text)) < 0.05
    assert _elapsed(lambda: glob_match(pattern, text)) < 0.05


def test_glob_match__question_marks_in_hostile_segments_are_fast() -> None:
    pattern = "*" + "a?" * 30 + "*" + "a?a?b"
    text = "a" * 5000
    assert _elapsed(lambda: glob_match(pattern, text)) < 0.05
    assert not glob_match(pattern, text)
    assert glob_match(pattern, text + "axayb")


def test_pattern_set__sorts_patterns_and_still_or_s_them() -> None:
    patterns = PatternSet.from_strings(["s3:getobject", "s3:list*", "s3:*tag?ing", "iam:*"])
    assert patterns.matches("s3:getobject")
    assert patterns.matches("s3:listbucket")
    assert patterns.matches("s3:putobjecttagging")
    assert patterns.matches("iam:createuser")
    assert not patterns.matches("s3:putobject")
    assert not patterns.matches("s3:getobjec")


def test_pattern_set__all_stars_is_any_and_empty_matches_nothing() -> None:
    assert PatternSet.from_strings(["*" * 64]).matches("")
    empty = PatternSet.from_strings([])
    assert empty.is_empty() and not empty.matches("")


TEMPLATE_CASES = [
    # (text, parts) with wildcards and variables on
    ("a*b", ("a", STAR, "b")),
    ("a?b", ("a", ONE, "b")),
    ("${aws:username}", (Variable("aws:username"),)),
    ("h/${AWS:UserName}/*", ("h/", Variable("aws:username"), "/", STAR)),
    ("${*}${?}${$}", ("*?$",)),
    ("x${aws:username, 'anon'}", ("x", Variable("aws:username", "anon"))),
    ("${", ("${",)),
    ("a${b", ("a${b",)),
    ("${}", ("${}",)),
    ("${a${b}", ("${a", Variable("b"))),
    ("${x, nope}", ("${x, nope}",)),
]


@pytest.mark.parametrize(("text", "parts"), TEMPLATE_CASES)
def test_parse_template__table(text: str, parts: tuple[object, ...]) -> None:
    assert parse_template(text, wildcards=True, variables=True) == parts


def test_parse_template__variables_off_keeps_the_text() -> None:
    assert parse_template("${aws:username}", wildcards=False, variables=False) == (
        "${aws:username}",
    )
    assert parse_template("a*${*}", wildcards=False, variables=True) == ("a**",)


def _lookup(values: dict[str, str]) -> object:
    return values.get


@pytest.mark.parametrize(
    ("pattern", "variables", "text", "expected"),
    [
        (
            "arn:aws:s3:::b/${aws:username}/*",
            {"aws:username": "alice"},
            "arn:aws:s3:::b/alice/k",
            True,
        ),
        (
            "arn:aws:s3:::b/${aws:username}/*",
            {"aws:username": "alice"},
            "arn:aws:s3:::b/bob/k",
            False,
        ),
        ("arn:aws:s3:::b/${aws:username}/*", {}, "arn:aws:s3:::b/${aws:username}/k", False),
        ("arn:aws:s3:::b/${aws:username}/*", {"aws:username": "*"}, "arn:aws:s3:::b/bob/k", False),
        ("arn:aws:s3:::b/${aws:username}/*", {"aws:username": "*"}, "arn:aws:s3:::b/*/k", True),
        ("arn:aws:s3:::b/${aws:username, 'anon'}/*", {}, "arn:aws:s3:::b/anon/k", True),
        ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/*", True),
        ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/x", False),
        ("arn:aws:s3:::b/${?}", {}, "arn:aws:s3:::b/x", False),
        ("arn:aws:s3:::b/${$}x", {}, "arn:aws:s3:::b/$x", True),
    ],
)
def test_template_set__substitutes_variables_literally(
    pattern: str, variables: dict[str, str], text: str, expected: bool
) -> None:
    templates = TemplateSet([parse_template(pattern, wildcards=True, variables=True)])
    assert templates.matches(text, variables.get) is expected


def test_template__cache_is_bounded_and_stays_correct() -> None:
    template = Template(
        parse_template("u/${aws:username}/*", wildcards=True, variables=True), compile_glob
    )
    for i in range(1000):
        glob = template.resolve({"aws:username": f"user{i}"}.get)
        assert glob is not None and glob.matches(f"u/user{i}/k")
        assert not glob.matches(f"u/user{i + 1}/k")
    assert len(template._cache) <= 256


def test_template__build_error_resolves_to_none() -> None:
    template: Template[float] = Template(
        parse_template("${n}", wildcards=False, variables=True), lambda p: float(str(p[0]))
    )
    assert template.resolve({"n": "2.5"}.get) == 2.5
    assert template.resolve({"n": "two"}.get) is None
    assert template.resolve({}.get) is None


def test_arn_helpers() -> None:
    assert bucket_arn("b") == "arn:aws:s3:::b"
    assert object_arn("b", "dir/key.txt") == "arn:aws:s3:::b/dir/key.txt"
    assert object_arn("b", "") == "arn:aws:s3:::b/"


def test_parse_template__many_openers_take_linear_time() -> None:
    text = "${" * 50_000 + "x}" + "${y" * 50_000
    start = time.perf_counter()
    parts = parse_template(text, wildcards=True, variables=True)
    assert time.perf_counter() - start < 0.5
    assert parts == ("${" * 49_999, Variable("x"), "${y" * 50_000)
