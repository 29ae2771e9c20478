"""Lifecycle jobs through real gateways: two nodes share Redis; a run started on one node
through the admin API expires objects on every target of a `replicate` PBucket, and the other
node's cache stops serving them at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_admin_api import AdminApi
from tests.integration.test_cache_admin import _scrape
from tests.rig.cachegw import SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

PB = f"lc-{uuid.uuid4().hex[:12]}"
TARGETS = (f"{PB}-one", f"{PB}-two")
# A date long past: everything under old/ is due whatever the clock says.
RULES = {
    "Rules": [
        {
            "ID": "old",
            "Status": "Enabled",
            "Filter": {"Prefix": "old/"},
            "Expiration": {"Date": "2020-01-01T00:00:00Z"},
        }
    ]
}


def _config(far: FaultProxy, seaweed: SeaweedServer, redis_url: str, work: Path) -> str:
    # max_age 600: a node trusts its cached metadata, so only an invalidation stops it serving
    # an expired object from its tiers.
    tail = f"""
[[pbuckets]]
name = "{PB}"
policy = "replicate"
targets = [
  {{ vendor = "far", bucket = "{TARGETS[0]}" }},
  {{ vendor = "far", bucket = "{TARGETS[1]}" }},
]
"""
    return far_config(far, seaweed, redis_url, work / "tier", max_age=600, tail=tail)


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
    s3_direct: Any,
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    for bucket in TARGETS:
        s3_direct.create_bucket(Bucket=bucket)
    work_a, work_b = tmp_path_factory.mktemp("lc-a"), tmp_path_factory.mktemp("lc-b")
    with (
        GatewayProcess(
            work_a, config=_config(far, seaweed, redis_server, work_a), extra_env=SHARED_KEY
        ) as a,
        GatewayProcess(
            work_b, config=_config(far, seaweed, redis_server, work_b), extra_env=SHARED_KEY
        ) as b,
    ):
        yield a, b
    from tests.conftest import _empty_and_delete

    for bucket in TARGETS:
        _empty_and_delete(s3_direct, bucket)


def _served(client: Any, key: str) -> str:
    """x-pcache-cache of a GET, or the S3 error code."""
    try:
        out = client.get_object(Bucket=PB, Key=key)
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    out["Body"].read()
    return str(out["ResponseMetadata"]["HTTPHeaders"].get("x-pcache-cache"))


def test_run__expires_on_every_target_and_every_node_forgets(
    nodes: tuple[GatewayProcess, GatewayProcess], far: FaultProxy, s3_direct: Any
) -> None:
    far.mode = "pass"
    a, b = nodes
    s3a, s3b = a.client(), b.client()
    for key in ("old/x", "keep/y"):
        s3a.put_object(Bucket=PB, Key=key, Body=b"data " + key.encode())
    for key in ("old/x", "keep/y"):
        assert _served(s3b, key) == "miss"
        assert _served(s3b, key) == "hit"  # node B serves both from its cache now

    root = AdminApi(a.endpoint, a.access_key, a.secret_key)
    base = f"/admin/v1/pbuckets/{PB}/lifecycle"
    root.ok("PUT", base, RULES)
    dry = root.ok("POST", base + "/run", {"dry_run": True}, status=202)
    job = f"{base}/jobs/{dry['job_id']}"
    until(lambda: root.ok("GET", job)["state"] != "running", 10, "the dry run to end")
    planned = root.ok("GET", job)
    assert (planned["state"], planned["expired"], planned["planned"]) == (
        "succeeded",
        1,
        [{"action": "Expiration", "key": "old/x", "rule": "old"}],
    )
    assert _served(s3b, "old/x") == "hit"  # a dry run changes nothing

    ran = root.ok("POST", base + "/run", {}, status=202)
    job = f"{base}/jobs/{ran['job_id']}"
    until(lambda: root.ok("GET", job)["state"] != "running", 10, "the lifecycle job to end")
    done = root.ok("GET", job)
    assert (done["state"], done["scanned"], done["expired"], done["errors"]) == (
        "succeeded",
        2,
        1,
        0,
    )
    assert done["rules"] == {"old": {"expired": 1, "transitioned": 0, "aborted": 0}}
    for bucket in TARGETS:  # replicate: gone from every target
        keys = [o["Key"] for o in s3_direct.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys == ["keep/y"], bucket
    until(lambda: _served(s3b, "old/x") == "NoSuchKey", 5, "node B to forget old/x")
    assert _served(s3b, "keep/y") == "hit"

    history = root.ok("GET", base + "/jobs")["items"]
    assert [j["job_id"] for j in history[:2]] == [ran["job_id"], dry["job_id"]]
    metrics = _scrape(a)
    labels = frozenset({("pbucket", PB), ("action", "expired")})
    assert metrics[("pcache_lifecycle_objects_total", labels)] == 1
    ended = frozenset({("pbucket", PB), ("state", "succeeded"), ("dry_run", "false")})
    assert metrics[("pcache_lifecycle_jobs_total", ended)] == 1

    refused = root.call("POST", base + "/run", {"dry_run": "yes"})
    assert (refused.status, refused.json["code"]) == (400, "ValidationError")
    root.ok("DELETE", base, status=204)
    missing = root.call("POST", base + "/run", {})
    assert (missing.status, missing.json["code"]) == (404, "NoSuchLifecycleConfiguration")
    unknown = root.call("GET", f"{base}/jobs/{'0' * 32}")
    assert (unknown.status, unknown.json["code"]) == (404, "NoSuchJob")
    bad = root.call("GET", f"{base}/jobs/nope")
    assert (bad.status, bad.json["code"]) == (400, "ValidationError")
