"""When a rule's actions fall due, as S3 computes it. Pure and time-injectable (`now` is an
argument): the scheduler and the jobs of the next slice call these, tests drive them freely.

S3: "Amazon S3 calculates the time by adding the number of days specified in the rule to the
object creation time and rounding up the resulting time to the next day at midnight UTC" (an
object created 2014-01-15 10:30 UTC under a 3-day rule is due 2014-01-19 00:00 UTC). No page
says how a time already at midnight rounds: rounding *up* leaves it where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from ttl.rules import LifecycleConfiguration, MinObjectSize, Rule

__all__ = [
    "Action",
    "DueAction",
    "abort_due_at",
    "decide",
    "due_actions",
    "expiration_due_at",
    "midnight_ceil",
    "noncurrent_due_actions",
    "transition_due_at",
]

DAY = timedelta(days=1)
#: Under S3's default (`all_storage_classes_128K`) smaller objects never transition; under
#: `varies_by_storage_class` only GLACIER and DEEP_ARCHIVE take them.
SMALL_OBJECT = 128 * 1024
_SMALL_OK_WHEN_VARIES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
#: Dearest first: "If two transitions overlap, S3 chooses the transition to the storage class
#: with the lower storage cost", and an object never moves back to a dearer class.
_COST_ORDER = (
    "STANDARD",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)


class Action(Enum):
    EXPIRE = "Expiration"
    TRANSITION = "Transition"
    EXPIRE_NONCURRENT = "NoncurrentVersionExpiration"
    TRANSITION_NONCURRENT = "NoncurrentVersionTransition"
    ABORT_MULTIPART = "AbortIncompleteMultipartUpload"


@dataclass(frozen=True, slots=True)
class DueAction:
    action: Action
    rule_id: str
    due_at: datetime
    storage_class: str | None = None


def midnight_ceil(when: datetime) -> datetime:
    """The first midnight UTC at or after `when`."""
    utc = when.astimezone(UTC)
    floor = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor if floor == utc else floor + DAY


def after_days(start: datetime, days: int) -> datetime:
    return midnight_ceil(start + days * DAY)


def expiration_due_at(rule: Rule, last_modified: datetime) -> datetime | None:
    """When the current version expires (None: the rule has no Days/Date expiration)."""
    exp = rule.expiration
    if exp is None:
        return None
    if exp.days is not None:
        return after_days(last_modified, exp.days)
    return exp.date


def transition_due_at(days: int | None, date: datetime | None, last_modified: datetime) -> datetime:
    if days is not None:
        return after_days(last_modified, days)
    assert date is not None
    return date


#: where PCache's vendor-neutral classes rank among AWS's (their usual mapping)
_AS_AWS = {"cold": "STANDARD_IA", "archive": "GLACIER"}


def _rank(storage_class: str | None, default: int) -> int:
    name = _AS_AWS.get(storage_class or "", storage_class)
    return _COST_ORDER.index(name) if name in _COST_ORDER else default


def _may_move(storage_class: str, current: str, size: int | None, policy: MinObjectSize) -> bool:
    if _rank(storage_class, -1) <= _rank(current, 0):
        return False
    if size is not None and size < SMALL_OBJECT:
        small_ok = _AS_AWS.get(storage_class, storage_class) in _SMALL_OK_WHEN_VARIES
        return policy is MinObjectSize.VARIES and small_ok
    return True


def due_actions(
    rule: Rule,
    last_modified: datetime,
    now: datetime,
    *,
    size: int | None = None,
    current_class: str = "STANDARD",
    min_size: MinObjectSize = MinObjectSize.ALL_128K,
) -> list[DueAction]:
    """The current-version actions of one rule that are due at `now` (matching is the caller's:
    `rule.matches`). An expiration, and of the due transitions the one furthest down."""
    if not rule.enabled:
        return []
    out: list[DueAction] = []
    expire = expiration_due_at(rule, last_modified)
    if expire is not None and now >= expire:
        out.append(DueAction(Action.EXPIRE, rule.id, expire))
    best: DueAction | None = None
    for t in rule.transitions:
        at = transition_due_at(t.days, t.date, last_modified)
        if now < at or not _may_move(t.storage_class, current_class, size, min_size):
            continue
        if best is None or _cheaper(t.storage_class, best.storage_class):
            best = DueAction(Action.TRANSITION, rule.id, at, t.storage_class)
    if best is not None:
        out.append(best)
    return out


def _cheaper(a: str, b: str | None) -> bool:
    return _rank(a, -1) > _rank(b or "STANDARD", 0)


def decide(
    config: LifecycleConfiguration,
    key: str,
    size: int | None,
    tags: Mapping[str, str],
    last_modified: datetime,
    now: datetime,
    *,
    current_class: str = "STANDARD",
) -> DueAction | None:
    """The one action for an object today across all rules (S3: "An object is eligible for only
    one S3 Lifecycle action per day"): expiration wins over transition ("Permanent deletion takes
    precedence over transition"); of overlapping transitions the cheapest class wins."""
    expire: DueAction | None = None
    move: DueAction | None = None
    for rule in _matching(config.rules, key, size, tags):
        for due in due_actions(
            rule,
            last_modified,
            now,
            size=size,
            current_class=current_class,
            min_size=config.min_object_size,
        ):
            if due.action is Action.EXPIRE:
                if expire is None or due.due_at < expire.due_at:
                    expire = due
            elif move is None or _cheaper(due.storage_class or "", move.storage_class):
                move = due
    return expire or move


def _matching(
    rules: Iterable[Rule], key: str, size: int | None, tags: Mapping[str, str]
) -> Iterable[Rule]:
    return (r for r in rules if r.enabled and r.matches(key, size, tags))


def noncurrent_due_actions(
    rule: Rule, noncurrent_since: datetime, newer_noncurrent: int, now: datetime
) -> list[DueAction]:
    """Actions due on a noncurrent version that became noncurrent at `noncurrent_since` and has
    `newer_noncurrent` newer noncurrent versions. S3: both NoncurrentDays and
    NewerNoncurrentVersions must be exceeded (a version beyond the N newest is expired)."""
    if not rule.enabled:
        return []
    out: list[DueAction] = []
    nve = rule.noncurrent_expiration
    if nve is not None:
        at = after_days(noncurrent_since, nve.noncurrent_days)
        keep = nve.newer_noncurrent_versions
        if now >= at and (keep is None or newer_noncurrent >= keep):
            out.append(DueAction(Action.EXPIRE_NONCURRENT, rule.id, at))
    for t in rule.noncurrent_transitions:
        at = after_days(noncurrent_since, t.noncurrent_days)
        keep = t.newer_noncurrent_versions
        if now >= at and (keep is None or newer_noncurrent >= keep):
            out.append(DueAction(Action.TRANSITION_NONCURRENT, rule.id, at, t.storage_class))
    return out


def abort_due_at(rule: Rule, key: str, initiated: datetime) -> datetime | None:
    """When an incomplete multipart upload of `key` is aborted under this rule (None: never).
    Uploads match by prefix only: they have no tags or size yet."""
    abort = rule.abort_incomplete_multipart_upload
    if abort is None or not rule.enabled:
        return None
    if not key.startswith(rule.effective_filter.key_prefix):
        return None
    return after_days(initiated, abort.days_after_initiation)
