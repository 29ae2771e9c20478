"""The JSON form (admin API, Redis): the AWS SDK's shape, exact round trips, same refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings

from tests.unit.ttl.strategies import configurations
from ttl.errors import LifecycleError
from ttl.lifecycle_json import dumps, from_json, loads, to_json
from ttl.rules import Expiration, LifecycleConfiguration, MinObjectSize, RuleFilter, Tag


@settings(max_examples=200, deadline=None)
@given(configurations())
def test_round_trip__model_json_model_is_identity(config: LifecycleConfiguration) -> None:
    assert from_json(to_json(config)) == config
    assert from_json(json.loads(json.dumps(to_json(config)))) == config
    assert loads(dumps(config)) == config


def test_shape__what_aws_cli_prints_and_takes() -> None:
    doc = {
        "Rules": [
            {
                "ID": "a",
                "Status": "Enabled",
                "Filter": {"And": {"Prefix": "p/", "Tags": [{"Key": "k", "Value": "v"}]}},
                "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
                "Expiration": {"Date": "2030-01-01T00:00:00+00:00"},
            }
        ]
    }
    with pytest.raises(LifecycleError) as info:  # mixed Days and Date, as S3 refuses it
        from_json(doc)
    assert info.value.code == "InvalidRequest"
    doc["Rules"][0]["Expiration"] = {"Days": 365}
    config = from_json(doc)
    rule = config.rules[0]
    assert rule.filter == RuleFilter("p/", (Tag("k", "v"),), use_and=True)
    assert rule.expiration == Expiration(days=365)
    assert config.min_object_size is MinObjectSize.ALL_128K
    out = to_json(config)
    assert out["Rules"][0]["Filter"] == doc["Rules"][0]["Filter"]
    assert out["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    date_rule = {"ID": "d", "Status": "Enabled", "Filter": {}, "Expiration": {"Date": "2030-01-01"}}
    dated = from_json({"Rules": [date_rule]})
    assert dated.rules[0].expiration == Expiration(date=datetime(2030, 1, 1, tzinfo=UTC))
    assert to_json(dated)["Rules"][0]["Expiration"] == {"Date": "2030-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"Rules": "x"},
        {"Rules": [{"Status": "enabled", "Filter": {}, "Expiration": {"Days": 1}}]},
        {"Rules": [{"Status": "Enabled", "Expiration": {"Days": 1}}]},
        {"Rules": [{"Status": "Enabled", "Filter": {"Prefix": "a", "Tag": {"Key": "k"}}}]},
        {"Rules": [{"Status": "Enabled", "Filter": {}, "Expiration": {"Days": "1"}}]},
        {"Rules": [{"Status": "Enabled", "Filter": {}, "Expiration": {"Days": True}}]},
        {"Rules": [{"Status": "Enabled", "Filter": {}, "Bogus": 1}]},
        {"Rules": [{"Status": "Enabled", "Filter": {}, "Expiration": {}}]},
        {"Rules": [], "TransitionDefaultMinimumObjectSize": "tiny"},
    ],
)
def test_refused__shape_faults_say_where(doc: object) -> None:
    with pytest.raises(LifecycleError) as info:
        from_json(doc)
    assert info.value.code == "MalformedJSON"
    assert info.value.message


def test_refused__aws_rule_faults_keep_aws_codes() -> None:
    bad = {"Rules": [{"Status": "Enabled", "Filter": {}, "Expiration": {"Days": 0}}]}
    with pytest.raises(LifecycleError) as info:
        from_json(bad)
    assert (info.value.code, info.value.message) == (
        "InvalidArgument",
        "'Days' for Expiration action must be a positive integer",
    )
    assert from_json(bad, check=False).rules[0].expiration == Expiration(days=0)
