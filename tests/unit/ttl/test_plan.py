"""The job's pure decisions: when tags must be read, which abort is due; and the job record's
round trip through its Redis hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ttl.job import JobRecord
from ttl.lifecycle_json import from_json
from ttl.plan import acts_on_objects, acts_on_uploads, due_abort, needs_tags

T0 = datetime(2026, 1, 10, 15, 30, tzinfo=UTC)


TAGGED = {
    "ID": "tagged",
    "Status": "Enabled",
    "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "k", "Value": "v"}],
                       "ObjectSizeGreaterThan": 10}},
    "Expiration": {"Days": 1},
}  # fmt: skip
PLAIN = {"ID": "plain", "Status": "Enabled", "Filter": {"Prefix": "p/"}, "Expiration": {"Days": 1}}


def test_needs_tags__only_when_a_tag_rule_could_select_the_object() -> None:
    config = from_json({"Rules": [TAGGED, PLAIN]})
    assert needs_tags(config, "t/a", 100)
    assert not needs_tags(config, "t/a", 5)  # the size rules it out without tags
    assert not needs_tags(config, "p/a", 100)  # only a tagless rule matches
    disabled = from_json({"Rules": [{**TAGGED, "Status": "Disabled"}]})
    assert not needs_tags(disabled, "t/a", 100)


def test_due_abort__earliest_matching_rule_by_prefix() -> None:
    config = from_json(
        {
            "Rules": [
                {"ID": "slow", "Status": "Enabled", "Filter": {},
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
                {"ID": "fast", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
            ]
        }
    )  # fmt: skip
    # initiated 10 Jan 15:30 → 1 day: due 12 Jan 00:00; 7 days: due 18 Jan 00:00
    assert due_abort(config, "tmp/x", T0, datetime(2026, 1, 11, 23, tzinfo=UTC)) is None
    assert due_abort(config, "tmp/x", T0, datetime(2026, 1, 12, tzinfo=UTC)) == "fast"
    assert due_abort(config, "other", T0, datetime(2026, 1, 12, tzinfo=UTC)) is None
    assert due_abort(config, "other", T0, T0 + timedelta(days=8)) == "slow"
    assert acts_on_uploads(config) and not acts_on_objects(config)


def test_job_record__round_trips_through_its_hash() -> None:
    job = JobRecord(
        job_id="a" * 32,
        pbucket="pb",
        dry_run=True,
        node="n:1",
        started=T0.isoformat(),
        evaluated_at=T0.isoformat(),
        fence=7,
        last_key="k/ü",
        scanned=3,
        byte_count=12,
    )
    job.count("r", "expired")
    job.planned.append({"action": "Expiration", "key": "k", "rule": "r"})
    doc = {k.encode(): v.encode() for k, v in job.to_doc().items()}
    assert JobRecord.from_doc(doc) == job
    shown = job.to_json()
    assert shown["bytes"] == 12 and shown["rules"] == {
        "r": {"expired": 1, "transitioned": 0, "aborted": 0}
    }
    assert shown["finished"] is None and shown["planned_total"] == 0
