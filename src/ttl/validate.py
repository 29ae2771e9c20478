"""AWS's checks on a lifecycle configuration, on the model, so the S3 XML and the admin JSON
refuse the same documents with the same codes and messages.

Codes and messages are AWS's where S3 was seen answering them (docs/s3-behaviour.md lists the
cases and where the evidence is thin). Structural faults are MalformedXML, like S3's schema
check; rule-level semantics are InvalidArgument / InvalidRequest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime

from ttl.errors import LifecycleError, malformed
from ttl.rules import (
    STORAGE_CLASSES,
    TEMPERATURE_CLASSES,
    LifecycleConfiguration,
    Rule,
    RuleFilter,
    Transition,
)

__all__ = ["MAX_RULES", "validate"]

MAX_RULES = 1000
MAX_ID = 255
#: The bound S3 names in "'ObjectSizeLessThan' should be between 1 and 1099511627776000."
MAX_FILTER_SIZE = 1_099_511_627_776_000
#: "objects smaller than 30 days" cannot move to the infrequent-access classes
_IA_CLASSES = ("STANDARD_IA", "ONEZONE_IA")
_IA_MIN_DAYS = 30
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256


def _invalid_argument(message: str) -> LifecycleError:
    return LifecycleError("InvalidArgument", message)


def _invalid_request(message: str) -> LifecycleError:
    return LifecycleError("InvalidRequest", message)


def validate(config: LifecycleConfiguration, *, temperatures: bool = False) -> None:
    """Raise LifecycleError on the first fault, checking the whole document before rules.

    `temperatures` (the admin API, never S3) also takes PCache's vendor-neutral transition
    classes `cold` and `archive`, which each vendor's profile maps to its own class."""
    classes = STORAGE_CLASSES + TEMPERATURE_CLASSES if temperatures else STORAGE_CLASSES
    rules = config.rules
    if not rules:
        raise _invalid_request("At least one lifecycle rule must be specified.")
    if len(rules) > MAX_RULES:
        raise _invalid_request(
            "The number of lifecycle rules must not exceed the allowed limit of 1000 rules."
        )
    v1 = [r for r in rules if r.filter is None]
    if v1 and len(v1) != len(rules):
        first_v1 = rules[0].filter is None
        raise _invalid_request(
            "Filter element can only be used in Lifecycle V2."
            if first_v1
            else "Base level prefix cannot be used in Lifecycle V2, prefixes are only "
            "supported in the Filter."
        )
    for rule in rules:
        _rule(rule, v1=bool(v1), classes=classes)
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise _invalid_argument("Rule ID must be unique. Found same ID for more than one rule")
        seen.add(rule.id)
    if v1:
        _v1_overlaps(rules)


def _describe(rule: Rule) -> str:
    """How S3 names a rule's filter in its messages: "(prefix=logs/)"."""
    return f"(prefix={rule.effective_filter.key_prefix})"


def _rule(rule: Rule, *, v1: bool, classes: tuple[str, ...]) -> None:
    if (rule.filter is None) == (rule.prefix is None):
        raise malformed("a rule needs exactly one of Filter and Prefix")
    if len(rule.id) > MAX_ID:
        raise _invalid_argument("ID length should not exceed allowed limit of 255")
    if rule.filter is not None:
        _filter(rule.filter)
    if not rule.has_action():
        raise _invalid_request("At least one action needs to be specified in a rule")
    flt = rule.effective_filter
    has_tags, has_size = (
        bool(flt.tags),
        (flt.size_greater_than is not None or flt.size_less_than is not None),
    )
    _expiration(rule, has_tags=has_tags, has_size=has_size)
    _transitions(rule, classes)
    _noncurrent(rule, v1=v1, classes=classes)
    abort = rule.abort_incomplete_multipart_upload
    if abort is not None:
        if abort.days_after_initiation <= 0:
            raise _invalid_argument(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
                "positive integer"
            )
        # Uploads have no tags and no size yet: S3 refuses such filters on this action.
        if has_tags:
            raise _invalid_request("AbortIncompleteMultipartUpload cannot be specified with Tags.")
        if has_size:
            raise _invalid_request(
                "AbortIncompleteMultipartUpload cannot be specified with Object Size."
            )


def _filter(flt: RuleFilter) -> None:
    count = flt.predicate_count()
    if flt.use_and and count < 2:
        raise malformed("And needs two or more predicates")
    if not flt.use_and and count > 1:
        raise malformed("a Filter holds one predicate outside And")
    keys: set[str] = set()
    for tag in flt.tags:
        if not tag.key or len(tag.key) > MAX_TAG_KEY:
            raise LifecycleError("InvalidTag", "The TagKey you have provided is invalid")
        if len(tag.value) > MAX_TAG_VALUE:
            raise LifecycleError("InvalidTag", "The TagValue you have provided is invalid")
        if tag.key in keys:
            raise _invalid_request("Duplicate Tag Keys are not allowed.")
        keys.add(tag.key)
    gt, lt = flt.size_greater_than, flt.size_less_than
    if gt is not None and not 0 <= gt <= MAX_FILTER_SIZE:
        raise _invalid_request(
            f"'ObjectSizeGreaterThan' should be between 0 and {MAX_FILTER_SIZE}."
        )
    if lt is not None and not 1 <= lt <= MAX_FILTER_SIZE:
        raise _invalid_request(f"'ObjectSizeLessThan' should be between 1 and {MAX_FILTER_SIZE}.")
    if gt is not None and lt is not None and gt >= lt:
        raise _invalid_request(
            "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."
        )


def _midnight(value: datetime) -> None:
    if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0):
        raise _invalid_argument("'Date' must be at midnight GMT")


def _expiration(rule: Rule, *, has_tags: bool, has_size: bool) -> None:
    exp = rule.expiration
    if exp is None:
        return
    given = [v is not None for v in (exp.days, exp.date, exp.expired_object_delete_marker)]
    if sum(given) != 1:
        # Days with Date, either with ExpiredObjectDeleteMarker, or nothing at all: S3's
        # schema allows one of the three.
        raise malformed("Expiration takes exactly one of Days, Date, ExpiredObjectDeleteMarker")
    if exp.days is not None and exp.days <= 0:
        raise _invalid_argument("'Days' for Expiration action must be a positive integer")
    if exp.date is not None:
        _midnight(exp.date)
    if exp.expired_object_delete_marker is not None:
        if has_tags:
            raise _invalid_request("ExpiredObjectDeleteMarker cannot be specified with Tags.")
        if has_size:
            raise _invalid_request(
                "ExpiredObjectDeleteMarker cannot be specified with Object Size."
            )


def _transitions(rule: Rule, known: tuple[str, ...]) -> None:
    classes: set[str] = set()
    for t in rule.transitions:
        _transition(t, known)
        if t.storage_class in classes:
            raise _invalid_argument(
                "'StorageClass' must be different for 'Transition' actions in same 'Rule' with "
                f"filter '{_describe(rule)}'"
            )
        classes.add(t.storage_class)
    exp = rule.expiration
    by_days = [t.days for t in rule.transitions if t.days is not None]
    by_date = [t.date for t in rule.transitions if t.date is not None]
    exp_days = exp is not None and exp.days is not None
    exp_date = exp is not None and exp.date is not None
    if (by_days or exp_days) and (by_date or exp_date):
        what = "Expiration and Transition" if exp_days or exp_date else "Transition"
        raise _invalid_request(
            f"Found mixed 'Date' and 'Days' based {what} actions in lifecycle rule for filter "
            f"'{_describe(rule)}'"
        )
    if exp is not None and exp.days is not None and by_days and exp.days <= max(by_days):
        raise _invalid_argument(
            f"'Days' in the Expiration action for filter '{_describe(rule)}' must be greater "
            "than 'Days' in the Transition action"
        )
    if exp is not None and exp.date is not None and by_date and exp.date <= max(by_date):
        raise _invalid_argument(
            f"'Date' in the Expiration action for filter '{_describe(rule)}' must be later "
            "than 'Date' in the Transition action"
        )


def _transition(t: Transition, known: tuple[str, ...]) -> None:
    if (t.days is None) == (t.date is None):
        raise malformed("Transition takes exactly one of Days and Date")
    if t.storage_class not in known:
        raise malformed(f"unknown transition storage class {t.storage_class!r}")
    if t.date is not None:
        _midnight(t.date)
    if t.days is not None:
        if t.days < 0:
            raise _invalid_argument("'Days' in Transition action must be nonnegative")
        if t.storage_class in _IA_CLASSES and t.days < _IA_MIN_DAYS:
            raise _invalid_argument(
                "'Days' in Transition action must be greater than or equal to 30 for "
                f"storageClass '{t.storage_class}'"
            )


def _noncurrent(rule: Rule, *, v1: bool, classes: tuple[str, ...]) -> None:
    seen: set[str] = set()
    newer: list[int | None] = []
    for t in rule.noncurrent_transitions:
        if t.storage_class not in classes:
            raise malformed(f"unknown transition storage class {t.storage_class!r}")
        if t.noncurrent_days < 0:
            raise _invalid_argument(
                "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative"
            )
        if t.storage_class in _IA_CLASSES and t.noncurrent_days < _IA_MIN_DAYS:
            raise _invalid_argument(
                "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or "
                f"equal to 30 for storageClass '{t.storage_class}'"
            )
        if t.storage_class in seen:
            raise _invalid_argument(
                "'StorageClass' must be different for 'NoncurrentVersionTransition' actions in "
                f"same 'Rule' with filter '{_describe(rule)}'"
            )
        seen.add(t.storage_class)
        newer.append(t.newer_noncurrent_versions)
        _newer(t.newer_noncurrent_versions, "NoncurrentVersionTransition")
    nve = rule.noncurrent_expiration
    if nve is not None:
        if nve.noncurrent_days <= 0:
            raise _invalid_argument(
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
            )
        newer.append(nve.newer_noncurrent_versions)
        _newer(nve.newer_noncurrent_versions, "NoncurrentVersionExpiration")
        days = [t.noncurrent_days for t in rule.noncurrent_transitions]
        if days and nve.noncurrent_days <= max(days):
            raise _invalid_argument(
                f"'NoncurrentDays' in the NoncurrentVersionExpiration action for filter "
                f"'{_describe(rule)}' must be greater than 'NoncurrentDays' in the "
                "NoncurrentVersionTransition action"
            )
    if v1 and any(n is not None for n in newer):
        raise _invalid_request("NewerNoncurrentVersions element can only be used in Lifecycle V2.")


def _newer(value: int | None, action: str) -> None:
    if value is not None and value <= 0:
        raise _invalid_argument(
            f"'NewerNoncurrentVersions' for {action} action must be a positive integer"
        )


def _actions(rule: Rule) -> Iterable[str]:
    if rule.expiration is not None:
        yield "Expiration"
    if rule.transitions:
        yield "Transition"
    if rule.noncurrent_expiration is not None:
        yield "NoncurrentVersionExpiration"
    if rule.noncurrent_transitions:
        yield "NoncurrentVersionTransition"
    if rule.abort_incomplete_multipart_upload is not None:
        yield "AbortIncompleteMultipartUpload"


def _v1_overlaps(rules: tuple[Rule, ...]) -> None:
    """S3 refuses two V1 (rule-level prefix) rules whose prefixes overlap for one action type.
    Sorted, a prefix of any later string is a prefix of its immediate successor: O(n log n)."""
    by_action: dict[str, list[str]] = {}
    for rule in rules:
        for action in _actions(rule):
            by_action.setdefault(action, []).append(rule.prefix or "")
    for action, prefixes in by_action.items():
        ordered = sorted(prefixes)
        for a, b in itertools.pairwise(ordered):
            if b.startswith(a):
                raise _invalid_request(
                    f"Found overlapping prefixes '{a}' and '{b}' for same action type '{action}'"
                )
