"""Bucket lifecycle configuration through PCache, end to end: aws-cli and boto3 against a real
gateway, SeaweedFS and Redis. AWS's documented example shapes go in and come back with the same
meaning; refusals carry AWS's codes; IAM asks for AWS's actions; DeleteBucket drops the rules.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from botocore.exceptions import ClientError

from tests.integration.test_clients import BIN, TIMEOUT, _env
from tests.integration.test_iam_policies import allow
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import IamRig, error_code, until
from ttl.lifecycle_json import loads
from ttl.rules import Expiration, LifecycleConfiguration, Rule, RuleFilter, Status
from ttl.store import INDEX_KEY, LifecycleStore, lifecycle_key

# AWS's documented examples (aws-cli's put-bucket-lifecycle-configuration page and the
# user guide's examples), one configuration each.
EXAMPLES: dict[str, dict[str, Any]] = {
    "cli-doc-v1-prefix-and-date": {
        "Rules": [
            {
                "ID": "Move rotated logs to Glacier",
                "Prefix": "rotated/",
                "Status": "Enabled",
                "Transitions": [{"Date": "2015-11-10T00:00:00.000Z", "StorageClass": "GLACIER"}],
            },
            {
                "Status": "Enabled",
                "Prefix": "",
                "NoncurrentVersionTransitions": [{"NoncurrentDays": 2, "StorageClass": "GLACIER"}],
                "ID": "Move old versions to Glacier",
            },
        ]
    },
    "tiering-then-expire": {
        "Rules": [
            {
                "ID": "Archive and then delete rule",
                "Filter": {"Prefix": "projectdocs/"},
                "Status": "Enabled",
                "Transitions": [
                    {"Days": 30, "StorageClass": "STANDARD_IA"},
                    {"Days": 365, "StorageClass": "GLACIER"},
                ],
                "Expiration": {"Days": 3650},
            }
        ]
    },
    "tags-and-sizes": {
        "Rules": [
            {
                "ID": "tagged",
                "Filter": {"Tag": {"Key": "archive", "Value": "true"}},
                "Status": "Enabled",
                "Transitions": [{"Days": 0, "StorageClass": "GLACIER_IR"}],
            },
            {
                "ID": "and",
                "Filter": {
                    "And": {
                        "Prefix": "tax/",
                        "Tags": [{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}],
                        "ObjectSizeGreaterThan": 500,
                        "ObjectSizeLessThan": 64000,
                    }
                },
                "Status": "Disabled",
                "Expiration": {"Days": 10},
            },
            {
                "ID": "big",
                "Filter": {"ObjectSizeGreaterThan": 1048576},
                "Status": "Enabled",
                "Transitions": [{"Days": 1, "StorageClass": "DEEP_ARCHIVE"}],
            },
        ]
    },
    "cleanup-markers-and-uploads": {
        "Rules": [
            {
                "ID": "markers",
                "Filter": {},
                "Status": "Enabled",
                "Expiration": {"ExpiredObjectDeleteMarker": True},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 5},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ]
    },
}


def _normal(value: Any) -> Any:
    """Compare meaning, not spelling: dates as instants, everything else as is."""
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if k == "Date" else _normal(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _aws(gateway: GatewayProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "aws"), "--endpoint-url", gateway.endpoint, *args]
    return subprocess.run(
        argv, env=_env(gateway, home), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.mark.clients
def test_aws_cli__put_get_delete_aws_examples(
    gateway: GatewayProcess, bucket: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for name, config in EXAMPLES.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(config))
        put = _aws(gateway, home, "s3api", "put-bucket-lifecycle-configuration", "--bucket",
                   bucket, "--lifecycle-configuration", f"file://{path}")  # fmt: skip
        assert put.returncode == 0, (name, put.stderr)
        got = _aws(gateway, home, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
        assert got.returncode == 0, (name, got.stderr)
        assert _normal(json.loads(got.stdout)["Rules"]) == _normal(config["Rules"]), name
    gone = _aws(gateway, home, "s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    assert gone.returncode == 0, gone.stderr
    missing = _aws(gateway, home, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert missing.returncode != 0
    assert "NoSuchLifecycleConfiguration" in missing.stderr


def test_boto3__round_trip_header_and_missing(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    deleted = s3.delete_bucket_lifecycle(Bucket=bucket)  # none there: still 204, as S3
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    for config in EXAMPLES.values():
        put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
        assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
        got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        rules = json.loads(json.dumps(got["Rules"], default=lambda d: d.isoformat()))
        assert _normal(rules) == _normal(config["Rules"])
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [{"Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]
        },
        TransitionDefaultMinimumObjectSize="varies_by_storage_class",
    )
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    (only,) = got["Rules"]  # a PUT replaces the whole configuration
    assert len(only["ID"]) == 48  # S3 names a rule sent without an ID
    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket=f"pb-none-{uuid.uuid4().hex[:12]}")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"


def _put(s3: Any, bucket: str, *rules: dict[str, Any]) -> tuple[str | None, str | None]:
    try:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
        )
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["Error"].get("Message")
    return None, None


def test_boto3__refusals_carry_aws_codes(s3: Any, bucket: str) -> None:
    def rule(**kw: Any) -> dict[str, Any]:
        return {"ID": "r", "Status": "Enabled", "Filter": {}, **kw}

    assert _put(s3, bucket, rule(Expiration={"Days": 0})) == (
        "InvalidArgument",
        "'Days' for Expiration action must be a positive integer",
    )
    assert _put(s3, bucket, rule(Expiration={"Days": 1}), rule(Expiration={"Days": 2}))[0] == (
        "InvalidArgument"
    )
    assert _put(s3, bucket, rule(Status="enabled", Expiration={"Days": 1}))[0] == "MalformedXML"
    assert _put(s3, bucket, rule(Transitions=[{"Days": 10, "StorageClass": "STANDARD_IA"}])) == (
        "InvalidArgument",
        "'Days' in Transition action must be greater than or equal to 30 for storageClass "
        "'STANDARD_IA'",
    )
    tagged = rule(
        Filter={"Tag": {"Key": "k", "Value": "v"}},
        Expiration={"ExpiredObjectDeleteMarker": True},
    )
    assert _put(s3, bucket, tagged)[0] == "InvalidRequest"
    assert _put(s3, bucket, rule(Filter={"Prefix": "a", "ObjectSizeLessThan": 5},
                                 Expiration={"Days": 1}))[0] == "MalformedXML"  # fmt: skip
    assert _put(s3, bucket, rule(Expiration={"Date": datetime(2030, 1, 1, 12)})) == (
        "InvalidArgument",
        "'Date' must be at midnight GMT",
    )
    assert _put(s3, bucket, rule()) == (
        "InvalidRequest",
        "At least one action needs to be specified in a rule",
    )
    # Nothing was stored by any refused PUT.
    assert error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)) == (
        "NoSuchLifecycleConfiguration"
    )


def test_integrity_header__required_and_checked(gateway: GatewayProcess, bucket: str) -> None:
    config = {"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]}

    def strip(request: Any, **_: Any) -> None:
        for name in list(request.headers.keys()):
            if name.lower().startswith(("x-amz-checksum-", "x-amz-sdk-checksum", "content-md5")):
                del request.headers[name]

    def corrupt(request: Any, **_: Any) -> None:
        del request.headers["x-amz-checksum-crc32"]  # these headers add on assignment
        request.headers["x-amz-checksum-crc32"] = "AAAAAA=="

    for hook, expected in ((strip, "InvalidRequest"), (corrupt, "BadDigest")):
        client = gateway.client()
        client.meta.events.register("before-sign.s3.PutBucketLifecycleConfiguration", hook)
        with pytest.raises(ClientError) as info:
            client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
        assert info.value.response["Error"]["Code"] == expected
        if expected == "InvalidRequest":
            assert info.value.response["Error"]["Message"] == (
                "Missing required header for this request: Content-MD5"
            )


def test_iam__aws_actions_for_lifecycle(iam: IamRig, s3: Any, bucket: str) -> None:
    arn = f"arn:aws:s3:::{bucket}"
    _, ak, sk = iam.user(allow("s3:GetLifecycleConfiguration", arn))
    reader = iam.client(ak, sk)
    until(lambda: error_code(lambda: reader.get_bucket_lifecycle_configuration(Bucket=bucket))
          == "NoSuchLifecycleConfiguration")  # fmt: skip
    config = {"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]}
    put = lambda: reader.put_bucket_lifecycle_configuration(  # noqa: E731
        Bucket=bucket, LifecycleConfiguration=config
    )
    assert error_code(put) == "AccessDenied"
    assert error_code(lambda: reader.delete_bucket_lifecycle(Bucket=bucket)) == "AccessDenied"
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    assert reader.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "r"
    # DeleteBucketLifecycle is s3:PutLifecycleConfiguration in AWS (there is no delete action).
    _, wak, wsk = iam.user(allow("s3:PutLifecycleConfiguration", arn))
    writer = iam.client(wak, wsk)
    until(lambda: error_code(lambda: writer.delete_bucket_lifecycle(Bucket=bucket)) is None)
    assert error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)) == (
        "NoSuchLifecycleConfiguration"
    )
    assert error_code(lambda: writer.get_bucket_lifecycle_configuration(Bucket=bucket)) == (
        "AccessDenied"
    )


def _redis_get(url: str, key: str) -> bytes | None:
    async def run() -> bytes | None:
        client = redis.asyncio.Redis.from_url(url)
        try:
            value: bytes | None = await client.get(key)
            return value
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_delete_bucket__drops_its_lifecycle(s3: Any, redis_server: str) -> None:
    name = f"pb-lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    config = {"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]}
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=config)
    stored = _redis_get(redis_server, lifecycle_key(name))
    assert stored is not None and loads(stored).rules[0].id == "r"
    s3.delete_bucket(Bucket=name)
    assert _redis_get(redis_server, lifecycle_key(name)) is None
    s3.create_bucket(Bucket=name)
    try:
        assert error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=name)) == (
            "NoSuchLifecycleConfiguration"
        )
    finally:
        s3.delete_bucket(Bucket=name)


def test_store__canonical_json_and_index(redis_server: str) -> None:
    async def run() -> None:
        client = redis.asyncio.Redis.from_url(redis_server)
        store = LifecycleStore(client)
        name = f"pb-store-{uuid.uuid4().hex[:8]}"
        config = LifecycleConfiguration(
            rules=(
                Rule("a", Status.ENABLED, RuleFilter(prefix="x/"), expiration=Expiration(days=3)),
            )
        )
        try:
            assert await store.get(name) is None
            await store.put(name, config)
            assert await store.get(name) == config
            assert name in await store.buckets()
            raw = await client.get(lifecycle_key(name))
            assert json.loads(raw)["Rules"][0]["Filter"] == {"Prefix": "x/"}
            assert await store.delete(name) is True
            assert await store.delete(name) is False
            assert await store.get(name) is None
            assert not await client.sismember(INDEX_KEY, name)
        finally:
            await client.aclose()

    asyncio.run(run())


def test_boto3__a_thousand_rules_but_not_one_more(s3: Any, bucket: str) -> None:
    def rules(n: int) -> list[dict[str, Any]]:
        return [
            {"ID": f"r{i:04d}", "Status": "Enabled", "Filter": {"Prefix": f"p{i}/"},
             "Expiration": {"Days": i + 1}}
            for i in range(n)
        ]  # fmt: skip

    assert _put(s3, bucket, *rules(1001)) == (
        "InvalidRequest",
        "The number of lifecycle rules must not exceed the allowed limit of 1000 rules.",
    )
    assert _put(s3, bucket, *rules(1000)) == (None, None)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == [f"r{i:04d}" for i in range(1000)]
    assert got[999]["Expiration"] == {"Days": 1000}
