"""Which rule applies to what, for the job's walk: pure, over `ttl.due`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ttl.due import abort_due_at
from ttl.rules import LifecycleConfiguration, Rule

__all__ = ["acts_on_objects", "acts_on_uploads", "due_abort", "needs_tags"]


def acts_on_objects(config: LifecycleConfiguration) -> bool:
    return any(r.enabled and (r.expiration is not None or r.transitions) for r in config.rules)


def acts_on_uploads(config: LifecycleConfiguration) -> bool:
    return any(r.enabled and r.abort_incomplete_multipart_upload for r in config.rules)


def _tagless_match(rule: Rule, key: str, size: int) -> bool:
    flt = rule.effective_filter
    return replace(flt, tags=()).matches(key, size, {})


def needs_tags(config: LifecycleConfiguration, key: str, size: int) -> bool:
    """Is a GetObjectTagging needed to decide? Only when an enabled rule with a tag filter
    matches the object on everything but its tags."""
    return any(
        r.enabled and r.effective_filter.tags and _tagless_match(r, key, size) for r in config.rules
    )


def due_abort(
    config: LifecycleConfiguration, key: str, initiated: datetime, now: datetime
) -> str | None:
    """The rule that aborts this incomplete upload now (the earliest due), or None."""
    best: tuple[datetime, str] | None = None
    for rule in config.rules:
        at = abort_due_at(rule, key, initiated)
        if at is not None and now >= at and (best is None or at < best[0]):
            best = (at, rule.id)
    return None if best is None else best[1]
