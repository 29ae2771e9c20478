"""Cache TTL per PBucket and prefix (admin API, PCache's lifecycle extension), against SeaweedFS
behind the counting proxy: blocks cached longer than their TTL are not served, other prefixes
are untouched, and S3's lifecycle API never shows the TTL.

Age is made, not waited for: the test sets the block files' mtime into the past (a block's age
is its file's mtime, kept across tier moves)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_cache_faults import admin
from tests.rig.cachegw import SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("cachettl")
    with GatewayProcess(
        work, config=far_config(far, seaweed, redis_server, work / "tier"), extra_env=SHARED_KEY
    ) as gw:
        yield gw


def _age_blocks(tier: Path, seconds: float) -> int:
    """Make every block file of the tier `seconds` old; returns how many there are."""
    moment = time.time() - seconds
    count = 0
    for fan in tier.iterdir():
        if len(fan.name) == 2 and fan.is_dir():
            for block in fan.iterdir():
                os.utime(block, (moment, moment))
                count += 1
    return count


def _get(client: Any, bucket: str, key: str) -> tuple[bytes, str]:
    out = client.get_object(Bucket=bucket, Key=key)
    return out["Body"].read(), out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"]


def test_cache_ttl__old_blocks_under_the_prefix_are_fetched_again_others_still_hit(
    node: GatewayProcess, far: FaultProxy
) -> None:
    client = node.client()
    bucket = f"ttl-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    bodies = {"tmp/a": os.urandom(100_000), "keep/b": os.urandom(100_000)}
    for key, body in bodies.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
        assert _get(client, bucket, key) == (body, "miss")
        assert _get(client, bucket, key) == (body, "hit")
    api = admin(node)
    doc = {"rules": [{"prefix": "tmp/", "seconds": 3600}]}
    assert api.ok("PUT", f"/admin/v1/pbuckets/{bucket}/cache-ttl", doc) == doc
    assert _get(client, bucket, "tmp/a") == (bodies["tmp/a"], "hit")  # an hour has not passed
    # The tier writes run beside the responses: wait until all four blocks have landed.
    until(lambda: _age_blocks(node.workdir / "tier", 7200) >= 4)
    far.reset_counters()
    assert _get(client, bucket, "keep/b") == (bodies["keep/b"], "hit")  # no rule: any age
    assert far.requests == 0
    assert _get(client, bucket, "tmp/a") == (bodies["tmp/a"], "miss")  # past its TTL
    assert far.requests > 0
    far.reset_counters()
    assert _get(client, bucket, "tmp/a") == (bodies["tmp/a"], "hit")  # cached afresh
    assert far.requests == 0
    status = api.ok("GET", "/admin/v1/cache")
    assert sum(t["expired"] for t in status["tiers"]) >= 1
    # Deleted: no limit any more.
    api.ok("DELETE", f"/admin/v1/pbuckets/{bucket}/cache-ttl", status=204)
    _age_blocks(node.workdir / "tier", 7200)
    assert _get(client, bucket, "tmp/a") == (bodies["tmp/a"], "hit")


def test_cache_ttl__shown_by_the_admin_lifecycle_view_never_by_s3(node: GatewayProcess) -> None:
    client = node.client()
    bucket = f"ttl-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    api = admin(node)
    path = f"/admin/v1/pbuckets/{bucket}"
    assert api.call("GET", path + "/cache-ttl").status == 404
    doc = {"rules": [{"prefix": "", "seconds": 60}, {"prefix": "logs/", "seconds": 5}]}
    api.ok("PUT", path + "/cache-ttl", doc)
    view = api.ok("GET", path + "/lifecycle")
    assert view == {"Rules": [], "PCacheCacheTtl": doc}
    with pytest.raises(ClientError) as err:
        client.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    rule = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "x/"}, "Expiration": {"Days": 3}}
    rules = {"Rules": [rule]}
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rules)
    s3_view = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert "PCacheCacheTtl" not in s3_view and len(s3_view["Rules"]) == 1
    view = api.ok("GET", path + "/lifecycle")
    assert view["PCacheCacheTtl"] == doc and len(view["Rules"]) == 1
    api.ok("PUT", path + "/lifecycle", view)  # what GET shows can be PUT back
    assert api.ok("GET", path + "/cache-ttl") == doc


@pytest.mark.parametrize(
    "doc",
    [
        {"rules": [{"prefix": "a", "seconds": 0}]},
        {"rules": [{"prefix": "a", "seconds": True}]},
        {"rules": [{"prefix": "a", "seconds": 5}, {"prefix": "a", "seconds": 6}]},
        {"rules": [{"prefix": "a" * 1025, "seconds": 5}]},
        {"rules": [{"prefix": "a", "seconds": 5, "extra": 1}]},
        {"rules": "all"},
        {"rules": [{"seconds": 5}] * 101},
        {"other": []},
    ],
)
def test_cache_ttl__bad_documents_are_400_validation_errors(
    node: GatewayProcess, doc: dict[str, Any]
) -> None:
    bucket = f"ttl-{uuid.uuid4().hex[:12]}"
    node.client().create_bucket(Bucket=bucket)
    reply = admin(node).call("PUT", f"/admin/v1/pbuckets/{bucket}/cache-ttl", doc)
    assert (reply.status, reply.code) == (400, "ValidationError"), reply.raw
    assert admin(node).call("GET", f"/admin/v1/pbuckets/{bucket}/cache-ttl").status == 404
