"""`/metrics`, `GET /admin/v1/cache` and `POST /admin/v1/cache/purge` on real gateways whose
SeaweedFS vendor sits behind a counting fault proxy, so a purge is proven by what reaches the
vendor afterwards; plus `pcache admin cache ...` as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_admin_api import ADMIN_ALL, S3_ALL, AdminApi, allow, doc
from tests.rig.cachegw import BLOCK, SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer


def _node(
    factory: pytest.TempPathFactory, far: FaultProxy, seaweed: SeaweedServer, redis_url: str
) -> GatewayProcess:
    work = factory.mktemp("cacheadmin")
    config = far_config(far, seaweed, redis_url, work / "tier")
    return GatewayProcess(work, config=config, extra_env=SHARED_KEY)


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    with _node(tmp_path_factory, far, seaweed, redis_server) as node:
        yield node


@pytest.fixture(scope="module")
def root(gw: GatewayProcess) -> AdminApi:
    return AdminApi(gw.endpoint, gw.access_key, gw.secret_key, "root")


@pytest.fixture
def client(gw: GatewayProcess, far: FaultProxy) -> Any:
    far.mode = "pass"
    return gw.client()


@pytest.fixture
def cached_pbucket(client: Any) -> str:
    name = f"ca-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return name


def _get(client: Any, bucket: str, key: str) -> tuple[bytes, str]:
    out = client.get_object(Bucket=bucket, Key=key)
    return out["Body"].read(), out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"]


def _scrape(node: GatewayProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(node.endpoint + "/metrics", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _put_objects(client: Any, bucket: str, sizes: dict[str, int]) -> dict[str, bytes]:
    data = {key: os.urandom(size) for key, size in sizes.items()}
    for key, body in data.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    return data


def _warm(client: Any, bucket: str, data: dict[str, bytes]) -> None:
    for key, body in data.items():
        assert _get(client, bucket, key)[0] == body


def _cached(client: Any, bucket: str, data: dict[str, bytes]) -> dict[str, str]:
    """Read every object once (byte-exact) and report each read's cache label."""
    labels = {}
    for key, body in data.items():
        got, labels[key] = _get(client, bucket, key)
        assert got == body, key
    return labels


def test_metrics_and_status__misses_then_hits(
    gw: GatewayProcess, root: AdminApi, client: Any, cached_pbucket: str
) -> None:
    data = _put_objects(client, cached_pbucket, {"big": 3 * BLOCK + 5, "small": 10})
    assert set(_cached(client, cached_pbucket, data).values()) == {"miss"}
    samples = _scrape(gw)
    assert (
        _sample(samples, "pcache_cache_requests_total", result="miss", pbucket=cached_pbucket) == 2
    )
    assert (
        _sample(samples, "pcache_cache_requests_total", result="hit", pbucket=cached_pbucket) == 0
    )
    root.ok("GET", "/admin/v1/cache")  # returns once the blocks' tier writes have landed
    assert set(_cached(client, cached_pbucket, data).values()) == {"hit"}
    samples = _scrape(gw)
    assert (
        _sample(samples, "pcache_cache_requests_total", result="hit", pbucket=cached_pbucket) == 2
    )
    assert _sample(samples, "pcache_cache_bytes_total", result="hit", pbucket=cached_pbucket) == (
        3 * BLOCK + 15
    )
    ok = {"op": "GetObject", "status_class": "2xx", "pbucket": cached_pbucket}
    assert _sample(samples, "pcache_requests_total", **ok) == 4
    assert _sample(samples, "pcache_request_seconds_count", op="GetObject") >= 4
    used = _sample(samples, "pcache_cache_tier_used_bytes", tier="ram")
    assert used > 3 * BLOCK
    assert _sample(samples, "pcache_cache_tier_in_service", tier="ram") == 1
    # First whole-object reads stream one vendor GET each (no per-block fetch), so the
    # single-flight counters are only required to be exported here.
    assert ("pcache_singleflight_runs_total", frozenset()) in samples
    assert _sample(samples, "pcache_iam_snapshot_version") >= 1
    # The two misses were one vendor GET each (plus the PUTs): timed per vendor and operation.
    vendor_gets = {"vendor": "far", "operation": "get_object"}
    assert _sample(samples, "pcache_vendor_request_seconds_count", **vendor_gets) >= 2
    assert _sample(samples, "pcache_vendor_request_seconds_bucket", le="+Inf", **vendor_gets) >= 2

    status = root.ok("GET", "/admin/v1/cache")
    assert status["enabled"] is True and status["block_size"] == BLOCK and status["max_age"] == 600
    [tier] = status["tiers"]
    assert tier["name"] == "ram" and tier["directory"].endswith("tier")
    assert tier["capacity"] == 64 * 1024 * 1024 and tier["in_service"] is True
    assert tier["used"] == used  # no request in between: the same counters
    assert tier["blocks"] == _sample(samples, "pcache_cache_tier_blocks", tier="ram") >= 5
    assert 0 < tier["hit_ratio"] <= 1 and tier["hits"] >= 5
    assert status["singleflight"]["runs"] == _sample(samples, "pcache_singleflight_runs_total")


def test_purge__by_key_the_next_read_reaches_the_vendor(
    root: AdminApi, client: Any, cached_pbucket: str, far: FaultProxy
) -> None:
    data = _put_objects(client, cached_pbucket, {"k1": 3 * BLOCK, "k2": BLOCK + 1})
    _warm(client, cached_pbucket, data)
    blocks_before = root.ok("GET", "/admin/v1/cache")["tiers"][0]["blocks"]
    reply = root.ok("POST", "/admin/v1/cache/purge", {"pbucket": cached_pbucket, "key": "k1"})
    assert reply == {"objects": 1, "blocks": 3}
    assert root.ok("GET", "/admin/v1/cache")["tiers"][0]["blocks"] == blocks_before - 3
    far.reset_counters()
    assert _cached(client, cached_pbucket, {"k2": data["k2"]}) == {"k2": "hit"}
    assert far.requests == 0
    assert _cached(client, cached_pbucket, {"k1": data["k1"]}) == {"k1": "miss"}
    assert far.requests > 0
    again = root.ok("POST", "/admin/v1/cache/purge", {"pbucket": cached_pbucket, "key": "nothing"})
    assert again == {"objects": 0, "blocks": 0}


KEYS = {
    "logs/a.txt": 10,
    "logs/b.log": BLOCK + 1,
    "logs/sub/c.log": 20,
    "data/d.log": 30,
    "logsx": 40,
    "we[ird]*/x": 50,
    "weird/x": 60,
}


def test_purge__prefix_and_regex_select_exactly_their_keys(
    root: AdminApi, client: Any, cached_pbucket: str
) -> None:
    data = _put_objects(client, cached_pbucket, KEYS)
    _warm(client, cached_pbucket, data)

    def purge(**selector: str) -> set[str]:
        reply = root.ok("POST", "/admin/v1/cache/purge", {"pbucket": cached_pbucket, **selector})
        labels = _cached(client, cached_pbucket, data)  # re-caches whatever was purged
        assert reply["objects"] == sum(label == "miss" for label in labels.values())
        return {key for key, label in labels.items() if label == "miss"}

    assert purge(prefix="logs/") == {"logs/a.txt", "logs/b.log", "logs/sub/c.log"}
    assert purge(prefix="we[ird]*") == {"we[ird]*/x"}  # glob characters are literal
    assert purge(regex=r"logs/[^/]*\.log") == {"logs/b.log"}  # fullmatch, not search
    assert purge(regex=r".*\.log") == {"logs/b.log", "logs/sub/c.log", "data/d.log"}
    assert purge(regex=r"we.*") == {"we[ird]*/x", "weird/x"}
    assert purge(prefix="") == set(KEYS)


def test_purge__validation_and_not_found(root: AdminApi, cached_pbucket: str) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"pbucket": cached_pbucket, "regex": "(a+)+b"}, "regex"),
        ({"pbucket": cached_pbucket, "regex": "(a|ab)*c"}, "regex"),
        ({"pbucket": cached_pbucket, "regex": r"(a)\1"}, "regex"),
        ({"pbucket": cached_pbucket, "regex": "a*b*c*d*"}, "regex"),
        ({"pbucket": cached_pbucket, "regex": "(unclosed"}, "regex"),
        ({"pbucket": cached_pbucket, "regex": "a" * 257}, "regex"),
        ({"pbucket": cached_pbucket, "regex": 5}, "regex"),
        ({"pbucket": cached_pbucket, "key": "k", "prefix": "p"}, "prefix"),
        ({"pbucket": cached_pbucket}, "key"),
        ({"pbucket": cached_pbucket, "key": ""}, "key"),
        ({"pbucket": cached_pbucket, "key": "k", "extra": 1}, "extra"),
        ({"pbucket": "Not_A_Bucket", "key": "k"}, "pbucket"),
        ({"key": "k"}, "pbucket"),
    ]
    for body, field in cases:
        reply = root.call("POST", "/admin/v1/cache/purge", body)
        assert (reply.status, reply.code, reply.json.get("field")) == (
            400,
            "ValidationError",
            field,
        ), body
    missing = root.call("POST", "/admin/v1/cache/purge", {"pbucket": "ca-none-here", "key": "k"})
    assert (missing.status, missing.code) == (404, "NoSuchBucket")


def test_purge__needs_admin_rights_on_the_pbucket(
    root: AdminApi, client: Any, cached_pbucket: str
) -> None:
    data = _put_objects(client, cached_pbucket, {"k": 100})
    _warm(client, cached_pbucket, data)
    body = {"pbucket": cached_pbucket, "key": "k"}
    s3_only = root.user(S3_ALL, prefix="ca-s3")
    other = root.user(doc(allow("admin:PurgeCache", "arn:aws:s3:::some-other-bucket")))
    for caller in (s3_only, other):
        denied = caller.call("POST", "/admin/v1/cache/purge", body)
        assert (denied.status, denied.code) == (403, "AccessDenied")
    assert s3_only.call("GET", "/admin/v1/cache").status == 403
    root.ok("GET", "/admin/v1/cache")  # the blocks' tier writes have landed
    assert _cached(client, cached_pbucket, data) == {"k": "hit"}  # nothing was purged
    purger = root.user(doc(allow("admin:PurgeCache", f"arn:aws:s3:::{cached_pbucket}")))
    assert purger.ok("POST", "/admin/v1/cache/purge", body) == {"objects": 1, "blocks": 1}
    assert purger.call("GET", "/admin/v1/cache").status == 403  # status is its own action
    reader = root.user(doc(allow("admin:GetCacheStatus")))
    assert reader.ok("GET", "/admin/v1/cache")["enabled"] is True
    assert root.user(ADMIN_ALL).ok("POST", "/admin/v1/cache/purge", body)["objects"] == 0


def _admin_cli(gw: GatewayProcess, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_ACCESS_KEY_ID=gw.access_key,
        AWS_SECRET_ACCESS_KEY=gw.secret_key,
        PCACHE_ENDPOINT=gw.endpoint,
    )
    return subprocess.run(
        [sys.executable, "-m", "gateway", "admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli__cache_status_and_purge(
    gw: GatewayProcess, client: Any, cached_pbucket: str, tmp_path: Path
) -> None:
    data = _put_objects(client, cached_pbucket, {"a/1": 2 * BLOCK, "a/2": 5, "b/3": 5})
    _warm(client, cached_pbucket, data)
    shown = _admin_cli(gw, tmp_path, "cache", "status")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "enabled:      true" in lines and "block_size:   64.0 KiB" in lines
    header = next(line for line in lines if line.startswith("TIER"))
    assert header.split()[:5] == ["TIER", "DIRECTORY", "USED", "CAPACITY", "USE%"]
    row = lines[lines.index(header) + 1].split()
    assert row[0] == "ram" and row[-1] == "true" and row[4:6] == ["64.0", "MiB"]
    purged = _admin_cli(gw, tmp_path, "cache", "purge", cached_pbucket, "--prefix", "a/")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.splitlines() == ["objects: 2", "blocks:  3"]
    as_json = _admin_cli(gw, tmp_path, "--json", "cache", "purge", cached_pbucket, "--regex", "b/.")
    assert json.loads(as_json.stdout) == {"objects": 1, "blocks": 1}
    assert _cached(client, cached_pbucket, data) == {"a/1": "miss", "a/2": "miss", "b/3": "miss"}
    usage = _admin_cli(gw, tmp_path, "cache", "purge", cached_pbucket)
    assert usage.returncode == 2 and "one of the arguments" in usage.stderr
    refused = _admin_cli(gw, tmp_path, "cache", "purge", cached_pbucket, "--regex", "(a*)*")
    assert refused.returncode == 1 and refused.stderr.startswith("ValidationError: ")


def test_purge__other_nodes_drop_their_blocks_too(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
    root: AdminApi,
    client: Any,
    cached_pbucket: str,
) -> None:
    data = _put_objects(client, cached_pbucket, {"shared": 2 * BLOCK})
    _warm(client, cached_pbucket, data)
    with _node(tmp_path_factory, far, seaweed, redis_server) as other:
        other_root = AdminApi(other.endpoint, other.access_key, other.secret_key)
        # The metadata is shared, the tiers are not: this node fetches the blocks itself.
        assert _cached(other.client(), cached_pbucket, data) == {"shared": "miss"}
        assert other_root.ok("GET", "/admin/v1/cache")["tiers"][0]["blocks"] == 2
        reply = root.ok(
            "POST", "/admin/v1/cache/purge", {"pbucket": cached_pbucket, "key": "shared"}
        )
        assert reply == {"objects": 1, "blocks": 2}  # removed here; announced on pc:c:purge
        deadline = time.monotonic() + 10
        while other_root.ok("GET", "/admin/v1/cache")["tiers"][0]["blocks"] != 0:
            assert time.monotonic() < deadline, "the other node kept the purged blocks"
        assert _cached(other.client(), cached_pbucket, data) == {"shared": "miss"}


def test_metrics__virtual_host_metrics_is_an_object_key(
    gateway: GatewayProcess, bucket: str
) -> None:
    """`<bucket>.<domain>/metrics` reads the object "metrics", not the metrics page."""
    from tests.integration.test_virtual_host import _virtual_client

    vs3 = _virtual_client(gateway)
    vs3.put_object(Bucket=bucket, Key="metrics", Body=b"not prometheus")
    assert vs3.get_object(Bucket=bucket, Key="metrics")["Body"].read() == b"not prometheus"
    with urllib.request.urlopen(gateway.endpoint + "/metrics", timeout=5) as resp:
        assert b"# TYPE pcache_requests_total counter" in resp.read()
