"""PBucket JSON records: weight and region round-trip; records from before them still load."""

from __future__ import annotations

import json

from router.pbucket import PBucket, TargetSpec


def test_record__round_trips_weight_and_region() -> None:
    pb = PBucket(
        "p",
        (TargetSpec("a", "x", "pre/", weight=2.5, region="eu"), TargetSpec("b", "y")),
        policy="balance",
    )
    assert PBucket.from_json(pb.to_json()) == pb


def test_record__old_record_without_weight_or_region_loads_with_defaults() -> None:
    old = {
        "name": "p",
        "targets": [{"vendor": "a", "bucket": "x", "prefix": ""}],
        "policy": "single",
        "created": "2026-01-01T00:00:00+00:00",
        "owner": "root",
        "region": "us-east-1",
        "managed_by": "config",
    }
    pb = PBucket.from_json(json.dumps(old))
    assert pb.targets == (TargetSpec("a", "x", "", weight=1.0, region=None),)


def test_record__unknown_target_field_from_a_newer_node_is_ignored() -> None:
    doc = json.loads(PBucket("p", (TargetSpec("a", "x"),)).to_json())
    doc["targets"][0]["storage_classes"] = {"hot": "STANDARD"}
    assert PBucket.from_json(json.dumps(doc)).targets == (TargetSpec("a", "x"),)
