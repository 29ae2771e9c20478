"""The lifecycle rule model: one set of frozen values behind S3's XML and the admin API's JSON.

It keeps what the client wrote where S3 gives it back as written (a rule-level `Prefix` stays
one, an empty `Filter` stays empty, an `And` stays an `And`), so GetBucketLifecycleConfiguration
returns what PutBucketLifecycleConfiguration stored. Validation lives in `ttl.validate`; parsing
in `ttl.lifecycle_xml` / `ttl.lifecycle_json`; evaluation in `ttl.due`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

__all__ = [
    "STORAGE_CLASSES",
    "AbortIncompleteMultipartUpload",
    "Expiration",
    "LifecycleConfiguration",
    "MinObjectSize",
    "NoncurrentVersionExpiration",
    "NoncurrentVersionTransition",
    "Rule",
    "RuleFilter",
    "Status",
    "Tag",
    "Transition",
]

#: The classes S3's lifecycle API accepts (its `TransitionStorageClass` enum). PCache maps them to
#: a vendor's own classes only when a job runs (`router.profiles.vendor_storage_class`).
STORAGE_CLASSES = (
    "GLACIER",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
)
#: PCache's vendor-neutral classes (admin API only): each vendor profile maps them to its own
TEMPERATURE_CLASSES = ("cold", "archive")


class Status(Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class MinObjectSize(Enum):
    """`x-amz-transition-default-minimum-object-size`: S3's default since September 2024 is
    that objects under 128 KiB never transition."""

    ALL_128K = "all_storage_classes_128K"
    VARIES = "varies_by_storage_class"


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """`<Filter>`: empty, one predicate, or `And` of several. `prefix=""` (an element present but
    empty) and `prefix=None` (no element) match the same objects but render differently."""

    prefix: str | None = None
    tags: tuple[Tag, ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    #: written as `<And>`: kept, because S3 gives the document back as it was written
    use_and: bool = False

    def predicate_count(self) -> int:
        sizes = (self.size_greater_than, self.size_less_than)
        return (self.prefix is not None) + len(self.tags) + sum(s is not None for s in sizes)

    @property
    def key_prefix(self) -> str:
        return self.prefix or ""

    def matches(self, key: str, size: int | None, tags: Mapping[str, str]) -> bool:
        """All predicates hold. Sizes are exclusive bounds; an unknown size (None) matches no
        size predicate, so a rule with one never acts on an object it cannot measure."""
        if not key.startswith(self.key_prefix):
            return False
        # S3: each tag must match key and value exactly; extra object tags do not matter.
        if any(tags.get(t.key) != t.value for t in self.tags):
            return False
        if self.size_greater_than is not None and (size is None or size <= self.size_greater_than):
            return False
        return not (
            self.size_less_than is not None and (size is None or size >= self.size_less_than)
        )


@dataclass(frozen=True, slots=True)
class Expiration:
    days: int | None = None
    date: datetime | None = None
    expired_object_delete_marker: bool | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    storage_class: str
    days: int | None = None
    date: datetime | None = None


@dataclass(frozen=True, slots=True)
class NoncurrentVersionTransition:
    storage_class: str
    noncurrent_days: int
    newer_noncurrent_versions: int | None = None


@dataclass(frozen=True, slots=True)
class NoncurrentVersionExpiration:
    noncurrent_days: int
    newer_noncurrent_versions: int | None = None


@dataclass(frozen=True, slots=True)
class AbortIncompleteMultipartUpload:
    days_after_initiation: int


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    status: Status
    #: exactly one of `filter` and `prefix` (the deprecated rule-level `<Prefix>`, "V1")
    filter: RuleFilter | None = None
    prefix: str | None = None
    expiration: Expiration | None = None
    transitions: tuple[Transition, ...] = ()
    noncurrent_transitions: tuple[NoncurrentVersionTransition, ...] = ()
    noncurrent_expiration: NoncurrentVersionExpiration | None = None
    abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload | None = None

    @property
    def enabled(self) -> bool:
        return self.status is Status.ENABLED

    @property
    def effective_filter(self) -> RuleFilter:
        """The filter to evaluate: a rule-level prefix is a prefix filter."""
        if self.filter is not None:
            return self.filter
        return RuleFilter(prefix=self.prefix or "")

    def matches(self, key: str, size: int | None, tags: Mapping[str, str]) -> bool:
        """Does this rule select the object (regardless of its status)?"""
        return self.effective_filter.matches(key, size, tags)

    def has_action(self) -> bool:
        return bool(
            self.expiration is not None
            or self.transitions
            or self.noncurrent_transitions
            or self.noncurrent_expiration is not None
            or self.abort_incomplete_multipart_upload is not None
        )


@dataclass(frozen=True, slots=True)
class LifecycleConfiguration:
    rules: tuple[Rule, ...]
    min_object_size: MinObjectSize = field(default=MinObjectSize.ALL_128K)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def generate_rule_id() -> str:
    """An ID for a rule sent without one, shaped as S3 makes them: 48 characters of base64 over
    a lowercase, hyphenated version-4 UUID (as seen in S3's answers and x-amz-expiration)."""
    import base64
    import uuid

    return base64.b64encode(str(uuid.uuid4()).encode("ascii")).decode("ascii")
