"""RFC 7232 §6 precondition evaluation, as S3 applies it to GET/HEAD and to copy sources.

A pure function of the client's `Conditions` and the object's current ETag and Last-Modified that
says proceed, 304 or 412. Vendors use it today; the gateway's cache path will reuse it.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime

from router.models import Conditions

__all__ = ["Outcome", "etag_matches", "evaluate_preconditions"]

_ANY = "*"
_WEAK_PREFIX = "W/"


class Outcome(enum.Enum):
    PROCEED = "proceed"
    NOT_MODIFIED = "not_modified"
    PRECONDITION_FAILED = "precondition_failed"


def evaluate_preconditions(
    conditions: Conditions | None, etag: str, last_modified: datetime
) -> Outcome:
    """Evaluate the four conditional headers against an existing object, in RFC 7232 §6 order.

    The caller handles a missing object (S3 answers 404 NoSuchKey before any condition). For a copy
    source, S3 answers 412 where a GET would answer 304, so callers map NOT_MODIFIED themselves.
    """
    if conditions is None:
        return Outcome.PROCEED
    modified_at = _epoch_seconds(last_modified)
    # Step 1: If-Match, strong comparison (§3.1). Step 2: If-Unmodified-Since only without it, which
    # is why a matching If-Match wins over a failing If-Unmodified-Since (S3 documents the same).
    if conditions.if_match is not None:
        if not etag_matches(conditions.if_match, etag):
            return Outcome.PRECONDITION_FAILED
    elif conditions.if_unmodified_since is not None and modified_at > _epoch_seconds(
        conditions.if_unmodified_since
    ):
        return Outcome.PRECONDITION_FAILED
    # Step 3: If-None-Match, weak comparison (§3.2); for GET/HEAD a match is 304. Step 4:
    # If-Modified-Since only without If-None-Match, so an If-None-Match match wins over it.
    if conditions.if_none_match is not None:
        if etag_matches(conditions.if_none_match, etag, weak=True):
            return Outcome.NOT_MODIFIED
    elif conditions.if_modified_since is not None and modified_at <= _epoch_seconds(
        conditions.if_modified_since
    ):
        return Outcome.NOT_MODIFIED
    return Outcome.PROCEED


def etag_matches(header_value: str, etag: str, *, weak: bool = False) -> bool:
    """Does an If-Match / If-None-Match list match `etag`?

    The list is comma separated; `*` matches any existing object. Quotes are optional, as S3 accepts
    bare hex. Weak tags (`W/"x"`) never match under strong comparison (RFC 7232 §2.3.2).
    """
    target = _opaque(etag)
    for raw in header_value.split(","):
        item = raw.strip()
        if item == _ANY:
            return True
        if item.startswith(_WEAK_PREFIX):
            if not weak:
                continue
            item = item[len(_WEAK_PREFIX) :]
        if item and _opaque(item) == target:
            return True
    return False


def _opaque(tag: str) -> str:
    if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
        return tag[1:-1]
    return tag


def _epoch_seconds(moment: datetime) -> int:
    # HTTP dates carry whole seconds, so Last-Modified is compared at that precision; a naive
    # datetime is taken as UTC, the only zone HTTP dates use.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())
