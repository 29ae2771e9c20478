"""S3's lifecycle document: parse a PutBucketLifecycleConfiguration body into the model (strict:
anything S3's schema would refuse is MalformedXML) and render GetBucketLifecycleConfiguration.

`ttl` cannot import the gateway's XML helpers, so this module uses defusedxml itself (no DTDs,
no entities) under its own size cap, and walks the fixed-depth tree without recursion on input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ttl.errors import LifecycleError, malformed
from ttl.rules import (
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
    generate_rule_id,
)
from ttl.validate import validate

__all__ = ["MAX_LIFECYCLE_XML", "S3_NS", "parse_lifecycle", "render_lifecycle"]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: 1000 rules with 255-character IDs, long prefixes and a few tags stay well under this.
MAX_LIFECYCLE_XML = 2 * 1024 * 1024
# AWS's own examples (PutBucketLifecycleConfiguration, examples 3-5) spell the root
# "LifeCycleConfiguration"; SDKs send "LifecycleConfiguration". Both are taken.
_ROOTS = ("LifecycleConfiguration", "LifeCycleConfiguration")
_INT = re.compile(r"^[+-]?[0-9]+$")
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
T = TypeVar("T")


# -- parsing ----------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Node:
    """One element's children by local name, each name checked against what the schema allows."""

    def __init__(self, elem: Element, allowed: Iterable[str], where: str) -> None:
        self.where = where
        self.children: dict[str, list[Element]] = {}
        names = set(allowed)
        if (elem.text or "").strip():
            raise malformed(f"{where} holds text")
        for child in elem:
            name = _local(child.tag)
            if name not in names:
                raise malformed(f"{where} has no element {name}")
            self.children.setdefault(name, []).append(child)

    def all(self, name: str) -> list[Element]:
        return self.children.get(name, [])

    def one(self, name: str) -> Element | None:
        found = self.children.get(name, [])
        if len(found) > 1:
            raise malformed(f"{self.where} repeats {name}")
        return found[0] if found else None

    def text(self, name: str) -> str | None:
        elem = self.one(name)
        return None if elem is None else _text(elem, f"{self.where}.{name}")

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise malformed(f"{self.where} needs {name}")
        return value

    def int(self, name: str, *, bits: int = 32) -> int | None:
        value = self.text(name)
        return None if value is None else _int(value, f"{self.where}.{name}", bits)


def _text(elem: Element, where: str) -> str:
    if len(elem):
        raise malformed(f"{where} holds elements, not text")
    return elem.text or ""


def _int(value: str, where: str, bits: int) -> int:
    text = value.strip()
    if not _INT.match(text):
        raise malformed(f"{where} is not an integer")
    number = int(text)
    if abs(number) > (_INT32_MAX if bits == 32 else _INT64_MAX):
        raise malformed(f"{where} is out of range")
    return number


def parse_date(value: str, where: str = "Date") -> datetime:
    """ISO 8601 in UTC (`2030-01-01T00:00:00.000Z`, `2030-01-01T00:00:00Z`, `2030-01-01`);
    another form (an HTTP date) is MalformedXML, as S3 answers. A time without an offset is
    UTC."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise malformed(f"{where} is not an ISO 8601 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _bool(value: str, where: str) -> bool:
    text = value.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise malformed(f"{where} is not a boolean")


def parse_lifecycle(body: bytes) -> LifecycleConfiguration:
    """A PutBucketLifecycleConfiguration body → a validated configuration (IDs filled in)."""
    if len(body) > MAX_LIFECYCLE_XML:
        raise malformed("document too large")
    if not body.strip():
        raise malformed("empty document")
    try:
        root: Element = SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise malformed("not well-formed") from None
    if _local(root.tag) not in _ROOTS:
        raise malformed("wrong root element")
    doc = _Node(root, ("Rule",), "LifecycleConfiguration")
    rules = doc.all("Rule")
    if len(rules) > 1000:
        # Checked before building a thousand rules' worth of objects for nothing.
        raise LifecycleError(
            "InvalidRequest",
            "The number of lifecycle rules must not exceed the allowed limit of 1000 rules.",
        )
    config = LifecycleConfiguration(rules=tuple(_rule(r, i) for i, r in enumerate(rules)))
    validate(config)
    return config


_RULE_CHILDREN = (
    "ID",
    "Status",
    "Filter",
    "Prefix",
    "Expiration",
    "Transition",
    "NoncurrentVersionTransition",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
)


def _rule(elem: Element, index: int) -> Rule:
    node = _Node(elem, _RULE_CHILDREN, f"Rule[{index}]")
    status_text = node.required_text("Status")
    try:
        status = Status(status_text)  # exact case: S3 refuses "enabled" as MalformedXML
    except ValueError:
        raise malformed(f"Rule[{index}].Status {status_text!r}") from None
    rule_id = node.text("ID")
    filter_elem = node.one("Filter")
    prefix = node.text("Prefix")
    if filter_elem is None and prefix is None:
        raise malformed(f"Rule[{index}] has neither Filter nor Prefix")
    return Rule(
        # S3 gives every rule an ID: a missing (or empty) one is generated.
        id=rule_id if rule_id else generate_rule_id(),
        status=status,
        filter=None if filter_elem is None else _filter(filter_elem, f"Rule[{index}].Filter"),
        prefix=prefix,
        expiration=_opt(node.one("Expiration"), _expiration),
        transitions=tuple(_transition(t) for t in node.all("Transition")),
        noncurrent_transitions=tuple(
            _noncurrent_transition(t) for t in node.all("NoncurrentVersionTransition")
        ),
        noncurrent_expiration=_opt(node.one("NoncurrentVersionExpiration"), _noncurrent_exp),
        abort_incomplete_multipart_upload=_opt(node.one("AbortIncompleteMultipartUpload"), _abort),
    )


def _opt(elem: Element | None, build: Callable[[Element], T]) -> T | None:
    return None if elem is None else build(elem)


_PREDICATES = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def _filter(elem: Element, where: str) -> RuleFilter:
    node = _Node(elem, (*_PREDICATES, "And"), where)
    if len(elem) > 1:
        raise malformed(f"{where} holds more than one element outside And")
    and_elem = node.one("And")
    if and_elem is not None:
        return _predicates(_Node(and_elem, _PREDICATES, f"{where}.And"), use_and=True)
    return _predicates(node, use_and=False)


def _predicates(node: _Node, *, use_and: bool) -> RuleFilter:
    return RuleFilter(
        prefix=node.text("Prefix"),
        tags=tuple(_tag(t, f"{node.where}.Tag") for t in node.all("Tag")),
        size_greater_than=node.int("ObjectSizeGreaterThan", bits=64),
        size_less_than=node.int("ObjectSizeLessThan", bits=64),
        use_and=use_and,
    )


def _tag(elem: Element, where: str) -> Tag:
    node = _Node(elem, ("Key", "Value"), where)
    # The user guide lets a filter's tag leave out its Value: it then matches an empty value.
    return Tag(key=node.required_text("Key"), value=node.text("Value") or "")


def _expiration(elem: Element) -> Expiration:
    node = _Node(elem, ("Days", "Date", "ExpiredObjectDeleteMarker"), "Expiration")
    date = node.text("Date")
    marker = node.text("ExpiredObjectDeleteMarker")
    return Expiration(
        days=node.int("Days"),
        date=None if date is None else parse_date(date),
        expired_object_delete_marker=None if marker is None else _bool(marker, "Expiration"),
    )


def _transition(elem: Element) -> Transition:
    node = _Node(elem, ("Days", "Date", "StorageClass"), "Transition")
    date = node.text("Date")
    return Transition(
        storage_class=node.required_text("StorageClass").strip(),
        days=node.int("Days"),
        date=None if date is None else parse_date(date),
    )


def _noncurrent_transition(elem: Element) -> NoncurrentVersionTransition:
    where = "NoncurrentVersionTransition"
    node = _Node(elem, ("NoncurrentDays", "StorageClass", "NewerNoncurrentVersions"), where)
    days = node.int("NoncurrentDays")
    if days is None:
        raise malformed(f"{where} needs NoncurrentDays")
    return NoncurrentVersionTransition(
        storage_class=node.required_text("StorageClass").strip(),
        noncurrent_days=days,
        newer_noncurrent_versions=node.int("NewerNoncurrentVersions"),
    )


def _noncurrent_exp(elem: Element) -> NoncurrentVersionExpiration:
    where = "NoncurrentVersionExpiration"
    node = _Node(elem, ("NoncurrentDays", "NewerNoncurrentVersions"), where)
    days = node.int("NoncurrentDays")
    if days is None:  # S3: NewerNoncurrentVersions alone, or an empty element, is MalformedXML
        raise malformed(f"{where} needs NoncurrentDays")
    return NoncurrentVersionExpiration(
        noncurrent_days=days, newer_noncurrent_versions=node.int("NewerNoncurrentVersions")
    )


def _abort(elem: Element) -> AbortIncompleteMultipartUpload:
    node = _Node(elem, ("DaysAfterInitiation",), "AbortIncompleteMultipartUpload")
    days = node.int("DaysAfterInitiation")
    if days is None:
        raise malformed("AbortIncompleteMultipartUpload needs DaysAfterInitiation")
    return AbortIncompleteMultipartUpload(days_after_initiation=days)


# -- rendering --------------------------------------------------------------------------------

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;"}


def _esc(text: str) -> str:
    """XML text; control characters as character references, as S3 writes them."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 and ch not in "\t\n":
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(ch)
    return "".join(out)


def format_date(value: datetime) -> str:
    """S3's form of a timestamp in XML: 2030-01-01T00:00:00.000Z."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Out:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def leaf(self, name: str, value: str | int | bool | None) -> None:
        if value is None:
            return
        text = ("true" if value else "false") if isinstance(value, bool) else _esc(str(value))
        self.parts.append(f"<{name}>{text}</{name}>")

    def open(self, name: str) -> None:
        self.parts.append(f"<{name}>")

    def close(self, name: str) -> None:
        self.parts.append(f"</{name}>")


def render_lifecycle(config: LifecycleConfiguration) -> bytes:
    """GetBucketLifecycleConfiguration's body: a rule's ID, its Filter (or rule-level Prefix) and
    Status, then its actions, in S3's namespace."""
    out = _Out()
    out.parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.parts.append(f'<LifecycleConfiguration xmlns="{S3_NS}">')
    for rule in config.rules:
        _render_rule(out, rule)
    out.close("LifecycleConfiguration")
    return "".join(out.parts).encode("utf-8")


def _render_rule(out: _Out, rule: Rule) -> None:
    out.open("Rule")
    out.leaf("ID", rule.id)
    if rule.filter is not None:
        _render_filter(out, rule.filter)
    else:
        out.leaf("Prefix", rule.prefix)
    out.leaf("Status", rule.status.value)
    for t in rule.transitions:
        out.open("Transition")
        out.leaf("Date", None if t.date is None else format_date(t.date))
        out.leaf("Days", t.days)
        out.leaf("StorageClass", t.storage_class)
        out.close("Transition")
    exp = rule.expiration
    if exp is not None:
        out.open("Expiration")
        out.leaf("Date", None if exp.date is None else format_date(exp.date))
        out.leaf("Days", exp.days)
        out.leaf("ExpiredObjectDeleteMarker", exp.expired_object_delete_marker)
        out.close("Expiration")
    for nt in rule.noncurrent_transitions:
        out.open("NoncurrentVersionTransition")
        out.leaf("NoncurrentDays", nt.noncurrent_days)
        out.leaf("StorageClass", nt.storage_class)
        out.leaf("NewerNoncurrentVersions", nt.newer_noncurrent_versions)
        out.close("NoncurrentVersionTransition")
    nve = rule.noncurrent_expiration
    if nve is not None:
        out.open("NoncurrentVersionExpiration")
        out.leaf("NoncurrentDays", nve.noncurrent_days)
        out.leaf("NewerNoncurrentVersions", nve.newer_noncurrent_versions)
        out.close("NoncurrentVersionExpiration")
    abort = rule.abort_incomplete_multipart_upload
    if abort is not None:
        out.open("AbortIncompleteMultipartUpload")
        out.leaf("DaysAfterInitiation", abort.days_after_initiation)
        out.close("AbortIncompleteMultipartUpload")
    out.close("Rule")


def _render_filter(out: _Out, flt: RuleFilter) -> None:
    out.open("Filter")
    if flt.use_and:
        out.open("And")
    out.leaf("Prefix", flt.prefix)
    for tag in flt.tags:
        out.open("Tag")
        out.leaf("Key", tag.key)
        out.leaf("Value", tag.value)
        out.close("Tag")
    out.leaf("ObjectSizeGreaterThan", flt.size_greater_than)
    out.leaf("ObjectSizeLessThan", flt.size_less_than)
    if flt.use_and:
        out.close("And")
    out.close("Filter")
