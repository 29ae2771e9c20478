"""RFC 7232 §6 precondition evaluation as S3 applies it (security.md §3.10, INP-17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.models import Conditions
from router.preconditions import Outcome, etag_matches, evaluate_preconditions

ETAG = '"9b2cf535f27731c974343645a3985328"'
OTHER = '"00000000000000000000000000000000"'
LM = datetime(2025, 3, 1, 12, 0, 0, 700_000, tzinfo=UTC)  # sub-second part must not matter
BEFORE = LM - timedelta(hours=1)
AFTER = LM + timedelta(hours=1)
SAME_SECOND = LM.replace(microsecond=0)

PROCEED, NOT_MODIFIED, FAILED = (
    Outcome.PROCEED,
    Outcome.NOT_MODIFIED,
    Outcome.PRECONDITION_FAILED,
)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (None, PROCEED),
        (Conditions(), PROCEED),
        # If-Match
        (Conditions(if_match=ETAG), PROCEED),
        (Conditions(if_match=OTHER), FAILED),
        (Conditions(if_match="*"), PROCEED),
        (Conditions(if_match=ETAG.strip('"')), PROCEED),  # quotes optional, as S3 accepts
        (Conditions(if_match=f"{OTHER}, {ETAG}"), PROCEED),  # a list
        (Conditions(if_match=f"W/{ETAG}"), FAILED),  # weak never matches strongly
        # If-Unmodified-Since
        (Conditions(if_unmodified_since=AFTER), PROCEED),
        (Conditions(if_unmodified_since=SAME_SECOND), PROCEED),
        (Conditions(if_unmodified_since=BEFORE), FAILED),
        # If-Match match wins over a failing If-Unmodified-Since (INP-17)
        (Conditions(if_match=ETAG, if_unmodified_since=BEFORE), PROCEED),
        (Conditions(if_match=OTHER, if_unmodified_since=AFTER), FAILED),
        # If-None-Match
        (Conditions(if_none_match=ETAG), NOT_MODIFIED),
        (Conditions(if_none_match=OTHER), PROCEED),
        (Conditions(if_none_match="*"), NOT_MODIFIED),
        (Conditions(if_none_match=f"W/{ETAG}"), NOT_MODIFIED),  # weak comparison here
        (Conditions(if_none_match="bogus"), PROCEED),
        # If-Modified-Since
        (Conditions(if_modified_since=AFTER), NOT_MODIFIED),
        (Conditions(if_modified_since=SAME_SECOND), NOT_MODIFIED),
        (Conditions(if_modified_since=BEFORE), PROCEED),
        # If-None-Match match wins over If-Modified-Since (INP-17); without a match IMS is ignored
        (Conditions(if_none_match=ETAG, if_modified_since=BEFORE), NOT_MODIFIED),
        (Conditions(if_none_match=OTHER, if_modified_since=AFTER), PROCEED),
        # 412 comes before 304
        (Conditions(if_match=OTHER, if_none_match=ETAG), FAILED),
        (Conditions(if_unmodified_since=BEFORE, if_modified_since=AFTER), FAILED),
        (Conditions(if_match=ETAG, if_none_match=ETAG), NOT_MODIFIED),
    ],
)
def test_evaluate_preconditions__table(conditions: Conditions | None, expected: Outcome) -> None:
    assert evaluate_preconditions(conditions, ETAG, LM) is expected


def test_evaluate_preconditions__naive_dates_are_utc() -> None:
    naive = SAME_SECOND.replace(tzinfo=None)
    assert evaluate_preconditions(Conditions(if_modified_since=naive), ETAG, LM) is NOT_MODIFIED
    assert evaluate_preconditions(Conditions(if_unmodified_since=naive), ETAG, LM) is PROCEED


@pytest.mark.parametrize(
    ("header", "etag", "weak", "expected"),
    [
        ('"abc"', '"abc"', False, True),
        ("abc", '"abc"', False, True),
        ('"abc"', "abc", False, True),
        ('"abc-3"', '"abc-3"', False, True),
        (' "x" ,  "abc" ', '"abc"', False, True),
        ('"abcd"', '"abc"', False, False),
        ("", '"abc"', False, False),
        (",", '"abc"', False, False),
        ('W/"abc"', '"abc"', False, False),
        ('W/"abc"', '"abc"', True, True),
        ("*", '"abc"', False, True),
    ],
)
def test_etag_matches(header: str, etag: str, weak: bool, expected: bool) -> None:
    assert etag_matches(header, etag, weak=weak) is expected


_dates = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_etags = st.sampled_from([ETAG, OTHER, "*", ETAG.strip('"'), f"W/{ETAG}", "bogus"])


@st.composite
def _conditions(draw: st.DrawFn) -> Conditions:
    return Conditions(
        if_match=draw(st.none() | _etags),
        if_none_match=draw(st.none() | _etags),
        if_modified_since=draw(st.none() | _dates),
        if_unmodified_since=draw(st.none() | _dates),
    )


def _model(c: Conditions, etag: str, lm: datetime) -> Outcome:
    """RFC 7232 §6 restated independently, at whole seconds."""
    secs = int(lm.timestamp())

    def matches(header: str, *, weak: bool) -> bool:
        items = [i.strip() for i in header.split(",")]
        bare = etag.strip('"')
        for item in items:
            if item == "*":
                return True
            if item.startswith("W/") and not weak:
                continue
            if item.removeprefix("W/").strip('"') == bare:
                return True
        return False

    if c.if_match is not None and not matches(c.if_match, weak=False):
        return FAILED
    ius = c.if_unmodified_since
    if c.if_match is None and ius is not None and secs > int(ius.timestamp()):
        return FAILED
    if c.if_none_match is not None:
        return NOT_MODIFIED if matches(c.if_none_match, weak=True) else PROCEED
    if c.if_modified_since is not None and secs <= int(c.if_modified_since.timestamp()):
        return NOT_MODIFIED
    return PROCEED


@given(conditions=_conditions(), lm=_dates)
def test_evaluate_preconditions__matches_rfc_model(conditions: Conditions, lm: datetime) -> None:
    assert evaluate_preconditions(conditions, ETAG, lm) is _model(conditions, ETAG, lm)


@given(conditions=_conditions(), lm=_dates)
def test_evaluate_preconditions__if_match_hit_ignores_unmodified_since(
    conditions: Conditions, lm: datetime
) -> None:
    hit = Conditions(ETAG, conditions.if_none_match, conditions.if_modified_since, BEFORE)
    without = Conditions(ETAG, conditions.if_none_match, conditions.if_modified_since, None)
    assert evaluate_preconditions(hit, ETAG, lm) is evaluate_preconditions(without, ETAG, lm)


@given(ims=st.none() | _dates, lm=_dates)
def test_evaluate_preconditions__if_none_match_hit_wins_over_modified_since(
    ims: datetime | None, lm: datetime
) -> None:
    conditions = Conditions(if_none_match=ETAG, if_modified_since=ims)
    assert evaluate_preconditions(conditions, ETAG, lm) is NOT_MODIFIED


@given(lm=_dates, micros=st.integers(0, 999_999))
def test_evaluate_preconditions__compares_whole_seconds(lm: datetime, micros: int) -> None:
    stored = lm.replace(microsecond=micros)
    header = lm.replace(microsecond=0)  # HTTP dates carry no fraction
    assert evaluate_preconditions(Conditions(if_modified_since=header), ETAG, stored) is (
        NOT_MODIFIED
    )
    assert evaluate_preconditions(Conditions(if_unmodified_since=header), ETAG, stored) is (PROCEED)
