"""When actions fall due: AWS's rounding rule (property-tested against an epoch-arithmetic
oracle and AWS's worked examples), filters, and the one-action-per-day decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ttl.due import (
    Action,
    abort_due_at,
    decide,
    due_actions,
    expiration_due_at,
    midnight_ceil,
    noncurrent_due_actions,
)
from ttl.rules import (
    AbortIncompleteMultipartUpload,
    Expiration,
    LifecycleConfiguration,
    MinObjectSize,
    NoncurrentVersionExpiration,
    Rule,
    RuleFilter,
    Status,
    Tag,
    Transition,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _rule(**kw: object) -> Rule:
    base: dict[str, object] = {"id": "r", "status": Status.ENABLED, "filter": RuleFilter()}
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def _oracle(last_modified: datetime, days: int) -> datetime:
    """Epoch days start at midnight UTC: round the microseconds up to a whole day (integers)."""
    day = 86_400 * 10**6
    micros = (last_modified - EPOCH) // timedelta(microseconds=1) + days * day
    return EPOCH + timedelta(microseconds=-(-micros // day) * day)


@given(times, st.integers(1, 3650), times)
def test_days__expires_iff_now_reaches_the_rounded_up_midnight(
    last_modified: datetime, days: int, now: datetime
) -> None:
    rule = _rule(expiration=Expiration(days=days))
    due = expiration_due_at(rule, last_modified)
    assert due == _oracle(last_modified, days)
    assert due is not None and (due.hour, due.minute, due.second, due.microsecond) == (0, 0, 0, 0)
    assert timedelta(0) <= due - (last_modified + timedelta(days=days)) < timedelta(days=1)
    expired = [a.action for a in due_actions(rule, last_modified, now)] == [Action.EXPIRE]
    assert expired == (now >= due)


def test_days__aws_worked_examples() -> None:
    def due(lm: datetime, days: int) -> datetime | None:
        return expiration_due_at(_rule(expiration=Expiration(days=days)), lm)

    # "created on 1/15/2014 at 10:30 AM UTC ... 3 days ... 1/19/2014 00:00 UTC"
    assert due(datetime(2014, 1, 15, 10, 30, tzinfo=UTC), 3) == datetime(2014, 1, 19, tzinfo=UTC)
    # "created at 00:05 UTC on January 2 ... eligible ... at 00:00 UTC on January 4"
    assert due(datetime(2020, 1, 2, 0, 5, tzinfo=UTC), 1) == datetime(2020, 1, 4, tzinfo=UTC)
    # HeadObject showed expiry-date Sun, 14 Oct 2018 for LastModified 14 Aug 2018 19:57:04, 60 d
    lm = datetime(2018, 8, 14, 19, 57, 4, tzinfo=UTC)
    assert due(lm, 60) == datetime(2018, 10, 14, tzinfo=UTC)
    # A time already at midnight rounds up to itself.
    assert midnight_ceil(datetime(2020, 5, 5, tzinfo=UTC)) == datetime(2020, 5, 5, tzinfo=UTC)


def test_date__due_from_the_date_on_and_not_a_one_time_action() -> None:
    rule = _rule(expiration=Expiration(date=datetime(2030, 1, 1, tzinfo=UTC)))
    lm = datetime(2020, 1, 1, tzinfo=UTC)
    assert due_actions(rule, lm, datetime(2029, 12, 31, 23, 59, tzinfo=UTC)) == []
    assert due_actions(rule, lm, datetime(2030, 1, 1, tzinfo=UTC))
    assert due_actions(rule, lm, datetime(2031, 6, 1, tzinfo=UTC))


def test_disabled_rules_do_nothing() -> None:
    rule = _rule(status=Status.DISABLED, expiration=Expiration(days=1))
    assert (
        due_actions(rule, datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)) == []
    )


def test_filter__prefix_tags_and_exclusive_sizes() -> None:
    flt = RuleFilter("logs/", (Tag("a", "1"),), 10, 20, use_and=True)
    assert flt.matches("logs/x", 15, {"a": "1", "b": "2"})
    assert not flt.matches("data/x", 15, {"a": "1"})
    assert not flt.matches("logs/x", 15, {"a": "2"})
    assert not flt.matches("logs/x", 10, {"a": "1"})  # the bounds themselves are excluded
    assert not flt.matches("logs/x", 20, {"a": "1"})
    assert not flt.matches("logs/x", None, {"a": "1"})  # an unknown size never matches a bound
    assert RuleFilter().matches("anything", None, {})
    assert _rule(filter=None, prefix="p/").matches("p/x", None, {})


def test_decide__expiration_beats_transition_and_cheaper_class_wins() -> None:
    lm = datetime(2020, 1, 1, 12, tzinfo=UTC)
    now = datetime(2021, 1, 1, tzinfo=UTC)
    to_ia = _rule(id="ia", transitions=(Transition("STANDARD_IA", days=30),))
    to_glacier = _rule(id="g", transitions=(Transition("GLACIER", days=60),))
    gone = _rule(id="x", filter=RuleFilter(prefix="tmp/"), expiration=Expiration(days=100))
    config = LifecycleConfiguration(rules=(to_ia, to_glacier, gone))
    big = 1 << 20
    move = decide(config, "data/a", big, {}, lm, now)
    assert move is not None and (move.action, move.storage_class) == (Action.TRANSITION, "GLACIER")
    expire = decide(config, "tmp/a", big, {}, lm, now)
    assert expire is not None and (expire.action, expire.rule_id) == (Action.EXPIRE, "x")
    # Never back to a dearer class, and not before it is due.
    assert decide(config, "data/a", big, {}, lm, now, current_class="DEEP_ARCHIVE") is None
    assert decide(config, "data/a", big, {}, lm, lm + timedelta(days=2)) is None


def test_decide__small_objects_stay_under_the_default_minimum_size() -> None:
    lm, now = datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)
    rule = _rule(transitions=(Transition("GLACIER", days=1),))
    default = LifecycleConfiguration(rules=(rule,))
    assert decide(default, "k", 1000, {}, lm, now) is None
    varies = LifecycleConfiguration(rules=(rule,), min_object_size=MinObjectSize.VARIES)
    assert decide(varies, "k", 1000, {}, lm, now) is not None


def test_noncurrent_and_abort() -> None:
    since = datetime(2014, 1, 2, 11, 30, tzinfo=UTC)
    rule = _rule(noncurrent_expiration=NoncurrentVersionExpiration(5, newer_noncurrent_versions=2))
    # "On 1/8/2014 at 00:00 UTC ... five days after it became a noncurrent version"
    assert noncurrent_due_actions(rule, since, 2, datetime(2014, 1, 8, tzinfo=UTC))
    assert not noncurrent_due_actions(rule, since, 2, datetime(2014, 1, 7, 23, tzinfo=UTC))
    assert not noncurrent_due_actions(rule, since, 1, datetime(2015, 1, 1, tzinfo=UTC))
    abort = _rule(
        filter=RuleFilter(prefix="up/"),
        abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(7),
    )
    started = datetime(2020, 3, 1, 8, tzinfo=UTC)
    assert abort_due_at(abort, "up/x", started) == datetime(2020, 3, 9, tzinfo=UTC)
    assert abort_due_at(abort, "down/x", started) is None
