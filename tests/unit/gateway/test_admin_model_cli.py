"""`pcache admin pbucket --target vendor=V,bucket=B[,...]` parsing and vendor records → config."""

from __future__ import annotations

import pytest

from gateway.admin_cli.commands import UsageProblem
from gateway.admin_cli.model import parse_target
from gateway.api_vendors import vendor_config
from router.vendor_store import VendorRecord


def test_parse_target__every_key() -> None:
    assert parse_target("vendor=aws,bucket=logs,prefix=a/b:c/,weight=2.5,region=eu") == {
        "vendor": "aws",
        "bucket": "logs",
        "prefix": "a/b:c/",
        "weight": 2.5,
        "region": "eu",
    }
    assert parse_target("bucket=b,vendor=v,weight=2") == {"vendor": "v", "bucket": "b", "weight": 2}


@pytest.mark.parametrize(
    "text",
    ["vendor=v", "bucket=b", "vendor=v,bucket=b,colour=red", "vendor=v,vendor=w,bucket=b",
     "vendor=v,bucket=b,weight=x", "vendor=v,bucket=b,weight=inf", "v:b"],
)  # fmt: skip
def test_parse_target__refuses_what_the_api_would_misread(text: str) -> None:
    with pytest.raises(UsageProblem):
        parse_target(text)


def test_vendor_config__profile_fills_storage_classes_and_the_record_wins() -> None:
    record = VendorRecord(
        name="oss",
        endpoint="https://oss.example.com",
        access_key="AK",
        profile="oss",
        addressing_style="virtual",
        storage_classes={"cold": "Cold2"},
        retries=1,
    )
    cfg = vendor_config(record, "SECRET")
    assert (cfg.name, cfg.type, cfg.endpoint, cfg.secret_key) == (
        "oss",
        "s3",
        "https://oss.example.com",
        "SECRET",
    )
    assert (cfg.storage_classes.hot, cfg.storage_classes.cold) == ("Standard", "Cold2")
    assert cfg.storage_classes.archive == "Archive" and cfg.retries == 1
