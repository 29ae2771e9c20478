"""The lifecycle model as JSON, in the AWS SDK's shape (what `aws s3api
get-bucket-lifecycle-configuration` prints and `--lifecycle-configuration` takes), so an admin can
paste the same document into the admin API. Also the canonical form stored in Redis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ttl.errors import LifecycleError
from ttl.rules import (
    AbortIncompleteMultipartUpload,
    Expiration,
    LifecycleConfiguration,
    MinObjectSize,
    NoncurrentVersionExpiration,
    NoncurrentVersionTransition,
    Rule,
    RuleFilter,
    Status,
    Tag,
    Transition,
    generate_rule_id,
)
from ttl.validate import validate

__all__ = ["dumps", "from_json", "loads", "to_json"]

Json = dict[str, Any]


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filter_json(flt: RuleFilter) -> Json:
    body: Json = {}
    if flt.prefix is not None:
        body["Prefix"] = flt.prefix
    if flt.use_and:
        if flt.tags:
            body["Tags"] = [{"Key": t.key, "Value": t.value} for t in flt.tags]
    elif flt.tags:
        body["Tag"] = {"Key": flt.tags[0].key, "Value": flt.tags[0].value}
    if flt.size_greater_than is not None:
        body["ObjectSizeGreaterThan"] = flt.size_greater_than
    if flt.size_less_than is not None:
        body["ObjectSizeLessThan"] = flt.size_less_than
    return {"And": body} if flt.use_and else body


def _rule_json(rule: Rule) -> Json:
    out: Json = {"ID": rule.id, "Status": rule.status.value}
    if rule.filter is not None:
        out["Filter"] = _filter_json(rule.filter)
    else:
        out["Prefix"] = rule.prefix
    exp = rule.expiration
    if exp is not None:
        e: Json = {}
        if exp.days is not None:
            e["Days"] = exp.days
        if exp.date is not None:
            e["Date"] = _date(exp.date)
        if exp.expired_object_delete_marker is not None:
            e["ExpiredObjectDeleteMarker"] = exp.expired_object_delete_marker
        out["Expiration"] = e
    if rule.transitions:
        out["Transitions"] = [
            {
                **({"Days": t.days} if t.days is not None else {}),
                **({"Date": _date(t.date)} if t.date is not None else {}),
                "StorageClass": t.storage_class,
            }
            for t in rule.transitions
        ]
    if rule.noncurrent_transitions:
        out["NoncurrentVersionTransitions"] = [
            {
                "NoncurrentDays": t.noncurrent_days,
                "StorageClass": t.storage_class,
                **_newer(t.newer_noncurrent_versions),
            }
            for t in rule.noncurrent_transitions
        ]
    nve = rule.noncurrent_expiration
    if nve is not None:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": nve.noncurrent_days,
            **_newer(nve.newer_noncurrent_versions),
        }
    abort = rule.abort_incomplete_multipart_upload
    if abort is not None:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": abort.days_after_initiation}
    return out


def _newer(value: int | None) -> Json:
    return {} if value is None else {"NewerNoncurrentVersions": value}


def to_json(config: LifecycleConfiguration) -> Json:
    return {
        "Rules": [_rule_json(r) for r in config.rules],
        "TransitionDefaultMinimumObjectSize": config.min_object_size.value,
    }


def dumps(config: LifecycleConfiguration) -> str:
    """The canonical text (sorted keys, no spaces): equal configurations, equal strings."""
    return json.dumps(to_json(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> LifecycleConfiguration:
    """Read a stored configuration without re-validating it: a rule accepted once stays
    readable even if a later version checks more strictly."""
    return from_json(json.loads(text), check=False)


# -- from JSON --------------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _obj(value: object, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{where} must be an object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _Bad(f"{where} has no field {unknown[0]!r}")
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{where} must be a string")
    return value


def _opt_int(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{where} must be an integer")
    return value


def _opt_date(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(_str(value, where))
    except ValueError:
        raise _Bad(f"{where} must be an ISO 8601 date") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{where} must be a list")
    return value


def _tag(value: object, where: str) -> Tag:
    obj = _obj(value, where, ("Key", "Value"))
    return Tag(_str(obj.get("Key"), f"{where}.Key"), _str(obj.get("Value", ""), f"{where}.Value"))


def _filter(value: object, where: str) -> RuleFilter:
    obj = _obj(
        value, where, ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And")
    )
    if len(obj) > 1:
        raise _Bad(f"{where} holds one of Prefix, Tag, ObjectSize*, And")
    if "And" in obj:
        inner = _obj(
            obj["And"],
            f"{where}.And",
            ("Prefix", "Tags", "ObjectSizeGreaterThan", "ObjectSizeLessThan"),
        )
        tags = tuple(_tag(t, f"{where}.And.Tags") for t in _list(inner.get("Tags"), where))
        src, use_and = inner, True
    else:
        tags = () if "Tag" not in obj else (_tag(obj["Tag"], f"{where}.Tag"),)
        src, use_and = obj, False
    prefix = src.get("Prefix")
    return RuleFilter(
        prefix=None if prefix is None else _str(prefix, f"{where}.Prefix"),
        tags=tags,
        size_greater_than=_opt_int(src.get("ObjectSizeGreaterThan"), where),
        size_less_than=_opt_int(src.get("ObjectSizeLessThan"), where),
        use_and=use_and,
    )


_RULE_FIELDS = (
    "ID",
    "Status",
    "Filter",
    "Prefix",
    "Expiration",
    "Transitions",
    "NoncurrentVersionTransitions",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
)


def _rule(value: object, index: int) -> Rule:
    where = f"Rules[{index}]"
    obj = _obj(value, where, _RULE_FIELDS)
    try:
        status = Status(_str(obj.get("Status"), f"{where}.Status"))
    except ValueError:
        raise _Bad(f"{where}.Status must be Enabled or Disabled") from None
    if "Filter" not in obj and obj.get("Prefix") is None:
        raise _Bad(f"{where} needs Filter or Prefix")
    exp = None
    if obj.get("Expiration") is not None:
        e = _obj(
            obj["Expiration"], f"{where}.Expiration", ("Days", "Date", "ExpiredObjectDeleteMarker")
        )
        marker = e.get("ExpiredObjectDeleteMarker")
        if marker is not None and not isinstance(marker, bool):
            raise _Bad(f"{where}.Expiration.ExpiredObjectDeleteMarker must be a boolean")
        exp = Expiration(
            days=_opt_int(e.get("Days"), f"{where}.Expiration.Days"),
            date=_opt_date(e.get("Date"), f"{where}.Expiration.Date"),
            expired_object_delete_marker=marker,
        )
    transitions = []
    for t in _list(obj.get("Transitions"), f"{where}.Transitions"):
        tt = _obj(t, f"{where}.Transitions", ("Days", "Date", "StorageClass"))
        transitions.append(
            Transition(
                storage_class=_str(tt.get("StorageClass"), f"{where}.Transitions.StorageClass"),
                days=_opt_int(tt.get("Days"), f"{where}.Transitions.Days"),
                date=_opt_date(tt.get("Date"), f"{where}.Transitions.Date"),
            )
        )
    noncurrent = []
    for t in _list(obj.get("NoncurrentVersionTransitions"), where):
        tt = _obj(t, where, ("NoncurrentDays", "StorageClass", "NewerNoncurrentVersions"))
        days = _opt_int(tt.get("NoncurrentDays"), f"{where}.NoncurrentDays")
        if days is None:
            raise _Bad(f"{where}.NoncurrentVersionTransitions needs NoncurrentDays")
        noncurrent.append(
            NoncurrentVersionTransition(
                storage_class=_str(tt.get("StorageClass"), f"{where}.StorageClass"),
                noncurrent_days=days,
                newer_noncurrent_versions=_opt_int(tt.get("NewerNoncurrentVersions"), where),
            )
        )
    nve = None
    if obj.get("NoncurrentVersionExpiration") is not None:
        n = _obj(
            obj["NoncurrentVersionExpiration"], where, ("NoncurrentDays", "NewerNoncurrentVersions")
        )
        days = _opt_int(n.get("NoncurrentDays"), f"{where}.NoncurrentDays")
        if days is None:
            raise _Bad(f"{where}.NoncurrentVersionExpiration needs NoncurrentDays")
        nve = NoncurrentVersionExpiration(days, _opt_int(n.get("NewerNoncurrentVersions"), where))
    abort = None
    if obj.get("AbortIncompleteMultipartUpload") is not None:
        a = _obj(obj["AbortIncompleteMultipartUpload"], where, ("DaysAfterInitiation",))
        days = _opt_int(a.get("DaysAfterInitiation"), f"{where}.DaysAfterInitiation")
        if days is None:
            raise _Bad(f"{where}.AbortIncompleteMultipartUpload needs DaysAfterInitiation")
        abort = AbortIncompleteMultipartUpload(days)
    rule_id = obj.get("ID")
    prefix = obj.get("Prefix")
    return Rule(
        id=_str(rule_id, f"{where}.ID") if rule_id else generate_rule_id(),
        status=status,
        filter=_filter(obj["Filter"], f"{where}.Filter") if "Filter" in obj else None,
        prefix=None if prefix is None or "Filter" in obj else _str(prefix, f"{where}.Prefix"),
        expiration=exp,
        transitions=tuple(transitions),
        noncurrent_transitions=tuple(noncurrent),
        noncurrent_expiration=nve,
        abort_incomplete_multipart_upload=abort,
    )


def from_json(
    value: object, *, check: bool = True, temperatures: bool = False
) -> LifecycleConfiguration:
    """The admin API's (and the store's) JSON → a configuration; with `check`, validated as
    PutBucketLifecycleConfiguration validates (`temperatures`: the admin API also takes the
    transition classes `cold` and `archive`, see `ttl.validate`). Shape faults raise
    LifecycleError code `MalformedJSON` (its message says where); AWS's rule faults keep AWS's
    codes."""
    try:
        obj = _obj(value, "LifecycleConfiguration", ("Rules", "TransitionDefaultMinimumObjectSize"))
        size = obj.get("TransitionDefaultMinimumObjectSize", MinObjectSize.ALL_128K.value)
        try:
            min_size = MinObjectSize(size)
        except ValueError:
            raise _Bad(f"TransitionDefaultMinimumObjectSize {size!r} is not valid") from None
        rules = tuple(_rule(r, i) for i, r in enumerate(_list(obj.get("Rules"), "Rules")))
        config = LifecycleConfiguration(rules=rules, min_object_size=min_size)
    except _Bad as bad:
        raise LifecycleError("MalformedJSON", str(bad), detail=str(bad)) from None
    if check:
        try:
            validate(config, temperatures=temperatures)
        except LifecycleError as err:
            if err.code != "MalformedXML":
                raise
            raise LifecycleError("MalformedJSON", err.detail, detail=err.detail) from None
    return config
