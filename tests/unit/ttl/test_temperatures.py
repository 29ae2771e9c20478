"""PCache's vendor-neutral transition classes `cold` and `archive`: the admin API takes them,
S3's API (AWS's rules) does not, and jobs rank them as the AWS classes they usually map to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ttl.due import Action, due_actions
from ttl.errors import LifecycleError
from ttl.lifecycle_json import from_json
from ttl.lifecycle_xml import parse_lifecycle


def _doc(storage_class: str, days: int = 40) -> dict[str, object]:
    rule = {
        "ID": "t",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Transitions": [{"Days": days, "StorageClass": storage_class}],
    }
    return {"Rules": [rule]}


@pytest.mark.parametrize("name", ["cold", "archive"])
def test_admin_json__takes_cold_and_archive(name: str) -> None:
    config = from_json(_doc(name), temperatures=True)
    assert config.rules[0].transitions[0].storage_class == name


@pytest.mark.parametrize("name", ["cold", "archive", "hot", "COLD"])
def test_s3_rules__refuse_what_aws_does_not_know(name: str) -> None:
    with pytest.raises(LifecycleError):
        from_json(_doc(name))
    xml = (
        '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
        "<ID>t</ID><Status>Enabled</Status><Filter><Prefix></Prefix></Filter>"
        f"<Transition><Days>40</Days><StorageClass>{name}</StorageClass></Transition>"
        "</Rule></LifecycleConfiguration>"
    ).encode()
    with pytest.raises(LifecycleError) as err:
        parse_lifecycle(xml)
    assert err.value.code == "MalformedXML"


def test_due__archive_ranks_as_glacier_and_cold_as_standard_ia() -> None:
    config = from_json(
        {
            "Rules": [
                {
                    "ID": "t",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Transitions": [
                        {"Days": 30, "StorageClass": "cold"},
                        {"Days": 60, "StorageClass": "archive"},
                    ],
                }
            ]
        },
        temperatures=True,
    )
    rule = config.rules[0]
    made = datetime(2026, 1, 1, tzinfo=UTC)
    later = made + timedelta(days=90)
    both_due = due_actions(rule, made, later, size=1 << 20)
    assert [(a.action, a.storage_class) for a in both_due] == [(Action.TRANSITION, "archive")]
    # already as cold as "cold" (the vendor reports STANDARD_IA): nothing until archive is due
    day45 = made + timedelta(days=45)
    assert due_actions(rule, made, day45, size=1 << 20, current_class="STANDARD_IA") == []
    assert due_actions(rule, made, day45, size=1 << 20)[0].storage_class == "cold"
