"""Hypothesis strategies for valid lifecycle configurations (every one passes ttl.validate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from ttl.rules import (
    STORAGE_CLASSES,
    AbortIncompleteMultipartUpload,
    Expiration,
    LifecycleConfiguration,
    NoncurrentVersionExpiration,
    NoncurrentVersionTransition,
    Rule,
    RuleFilter,
    Status,
    Tag,
    Transition,
)

# XML 1.0 cannot carry most control characters, and S3 keys are UTF-8 text: printable text,
# with a few characters that need escaping.
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("&<>\"'/ "),
    max_size=20,
)
midnights = st.dates(
    min_value=datetime(2000, 1, 1).date(), max_value=datetime(2200, 1, 1).date()
).map(lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC))
tags = st.lists(
    st.builds(Tag, key=text.filter(bool), value=text), max_size=4, unique_by=lambda t: t.key
)
sizes = st.integers(min_value=0, max_value=10**12)


@st.composite
def filters(draw: st.DrawFn) -> RuleFilter:
    kind = draw(st.sampled_from(["empty", "prefix", "tag", "gt", "lt", "and"]))
    if kind == "empty":
        return RuleFilter()
    if kind == "prefix":
        return RuleFilter(prefix=draw(text))
    if kind == "tag":
        return RuleFilter(tags=(draw(tags.filter(bool))[0],))
    if kind == "gt":
        return RuleFilter(size_greater_than=draw(sizes))
    if kind == "lt":
        return RuleFilter(size_less_than=draw(sizes) + 1)
    prefix = draw(st.none() | text)
    tag_list = tuple(draw(tags))
    gt = draw(st.none() | sizes)
    lt = draw(st.none() | st.integers(min_value=(gt or 0) + 1, max_value=10**13))
    flt = RuleFilter(prefix, tag_list, gt, lt, use_and=True)
    if flt.predicate_count() < 2:
        # And needs two predicates: an empty prefix and one tag make the smallest And.
        prefix = "" if prefix is None else prefix
        flt = RuleFilter(prefix, tag_list or (Tag("k", "v"),), gt, lt, use_and=True)
    return flt


@st.composite
def rules(draw: st.DrawFn, rule_id: str, *, v1: bool = False) -> Rule:
    flt = None if v1 else draw(filters())
    eff = flt or RuleFilter(prefix="")
    plain = not eff.tags and eff.size_greater_than is None and eff.size_less_than is None
    classes = draw(st.lists(st.sampled_from(STORAGE_CLASSES), unique=True, max_size=3))
    by_date = draw(st.booleans())
    transitions: list[Transition] = []
    for sc in classes:
        low = 30 if sc in ("STANDARD_IA", "ONEZONE_IA") else 0
        if by_date:
            transitions.append(Transition(sc, date=draw(midnights)))
        else:
            transitions.append(Transition(sc, days=draw(st.integers(low, 400))))
    exp_kind = draw(
        st.sampled_from(["none", "days", "date", "marker"] if plain else ["none", "days", "date"])
    )
    expiration = None
    if exp_kind == "days" and (not by_date or not transitions):
        floor = max((t.days or 0 for t in transitions), default=0)
        expiration = Expiration(days=draw(st.integers(floor + 1, floor + 5000)))
    elif exp_kind == "date" and (by_date or not transitions):
        latest = max(
            (t.date for t in transitions if t.date), default=datetime(1999, 1, 1, tzinfo=UTC)
        )
        expiration = Expiration(date=latest + timedelta(days=draw(st.integers(1, 900))))
    elif exp_kind == "marker":
        expiration = Expiration(expired_object_delete_marker=draw(st.booleans()))
    newer = st.none() if v1 else st.none() | st.integers(1, 100)
    nct_classes = draw(st.lists(st.sampled_from(STORAGE_CLASSES), unique=True, max_size=2))
    nct = tuple(
        NoncurrentVersionTransition(sc, draw(st.integers(30, 300)), draw(newer))
        for sc in nct_classes
    )
    nve = None
    if draw(st.booleans()):
        nve = NoncurrentVersionExpiration(draw(st.integers(301, 1000)), draw(newer))
    abort = None
    if plain and draw(st.booleans()):
        abort = AbortIncompleteMultipartUpload(draw(st.integers(1, 100)))
    rule = Rule(
        id=rule_id,
        status=draw(st.sampled_from(Status)),
        filter=flt,
        prefix=draw(text) if v1 else None,
        expiration=expiration,
        transitions=tuple(transitions),
        noncurrent_transitions=nct,
        noncurrent_expiration=nve,
        abort_incomplete_multipart_upload=abort,
    )
    if not rule.has_action():
        rule = Rule(rule.id, rule.status, rule.filter, rule.prefix, expiration=Expiration(days=1))
    return rule


@st.composite
def configurations(draw: st.DrawFn) -> LifecycleConfiguration:
    ids = draw(st.lists(text.filter(bool), min_size=1, max_size=4, unique=True))
    # V1 configurations must not overlap prefixes per action: keep those to one rule.
    if draw(st.integers(0, 9)) == 0:
        return LifecycleConfiguration(rules=(draw(rules(ids[0], v1=True)),))
    return LifecycleConfiguration(rules=tuple(draw(rules(i)) for i in ids))
