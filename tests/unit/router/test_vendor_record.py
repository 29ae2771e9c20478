"""Vendor records as stored in Redis: JSON round trip, tolerant of fields a newer node adds."""

from __future__ import annotations

import json

from router.vendor_store import VendorRecord


def test_record__round_trips() -> None:
    record = VendorRecord(
        name="oss",
        endpoint="https://oss.example.com",
        access_key="AK",
        secret_sealed="v1.sealed",
        profile="oss",
        addressing_style="virtual",
        storage_classes={"cold": "IA"},
        read_timeout=12.5,
        revision="r1",
    )
    assert VendorRecord.from_json(record.to_json()) == record


def test_record__secret_is_not_in_repr_and_unknown_fields_are_ignored() -> None:
    record = VendorRecord(name="v", endpoint="https://e", access_key="AK", secret_sealed="v1.x")
    assert "v1.x" not in repr(record)
    doc = json.loads(record.to_json())
    doc["added_by_a_newer_node"] = 1
    assert VendorRecord.from_json(json.dumps(doc)) == record
