"""Cache warm-up end to end: `pcache warm` (a subprocess) and the admin job API against a real
gateway whose SeaweedFS vendor sits behind a counting fault proxy, so each test can prove what
reached the vendor: a warmed prefix is served with the vendor unreachable, warming warm data
costs no object request, and a cancelled job resumes without fetching a block twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from botocore.exceptions import ClientError

from tests.integration.test_admin_api import AdminApi, allow, doc
from tests.rig.cachegw import BLOCK, SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

JOB_FIELDS = {
    "job_id",
    "pbucket",
    "prefix",
    "parallel",
    "page_size",
    "state",
    "objects_done",
    "bytes_done",
    "blocks_fetched",
    "errors",
    "last_error",
    "error",
    "started",
    "finished",
    "updated",
    "last_key",
    "seconds",
    "rate_mb_s",
    "node",
    "resumes",
    "cancel_requested",
}
# Mixed sizes: empty, tiny, around one block, several blocks.
SIZES = [0, 1, 100, 4096, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 5, 5 * BLOCK - 7]
T = TypeVar("T")


@pytest.fixture(scope="module")
def warm_gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("warmgw")
    config = far_config(far, seaweed, redis_server, work / "tier", enabled=True)
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


@pytest.fixture
def client(warm_gw: GatewayProcess, far: FaultProxy) -> Iterator[Any]:
    far.mode, far.latency_down_ms = "pass", 0
    yield warm_gw.client()
    far.mode, far.latency_down_ms = "pass", 0


@pytest.fixture
def admin(warm_gw: GatewayProcess) -> AdminApi:
    return AdminApi(warm_gw.endpoint, warm_gw.access_key, warm_gw.secret_key, "root")


def _bucket(client: Any) -> str:
    name = f"pw-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return name


def _put_many(client: Any, bucket: str, prefix: str, count: int) -> dict[str, bytes]:
    objects = {}
    for i in range(count):
        key = f"{prefix}{i:03d}-{SIZES[i % len(SIZES)]}"
        objects[key] = os.urandom(SIZES[i % len(SIZES)])
        client.put_object(Bucket=bucket, Key=key, Body=objects[key])
    return objects


def _blocks(objects: dict[str, bytes]) -> int:
    return sum(-(-len(data) // BLOCK) for data in objects.values())


def _vendor_gone(far: FaultProxy) -> None:
    far.mode = "reset"
    far.drop_connections()  # pooled keep-alive connections would still pass
    far.reset_counters()


def _env(gw: GatewayProcess, tmp_path: Path, access: str = "", secret: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PCACHE_"))}
    env.update(
        {
            "HOME": str(tmp_path),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
            "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_ACCESS_KEY_ID": access or gw.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or gw.secret_key,
            "PCACHE_ENDPOINT": gw.endpoint,
        }
    )
    return env


def pcache_warm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "warm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _summary(stdout: str) -> dict[str, str]:
    """`field: value` lines as a dict."""
    fields = {}
    for line in stdout.strip().splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def _until(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 20.0) -> T:
    """Poll `fetch` until `done` says so (the poll period is not a synchronisation)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, value
        time.sleep(0.02)  # poll interval; the loop ends at the deadline


def _job(admin: AdminApi, job_id: str) -> dict[str, Any]:
    return dict(admin.ok("GET", f"/admin/v1/cache/warm/{job_id}"))


def _finished(admin: AdminApi, job_id: str) -> dict[str, Any]:
    return _until(lambda: _job(admin, job_id), lambda j: j["state"] != "running")


# --- pcache warm -----------------------------------------------------------------------------


def test_warm_cli__a_warmed_prefix_is_served_with_the_vendor_unreachable(
    client: Any, far: FaultProxy, warm_gw: GatewayProcess, tmp_path: Path
) -> None:
    bucket = _bucket(client)
    inside = _put_many(client, bucket, "data/", 30)
    outside = {"dat": b"o" * 10, "data": b"p" * BLOCK, "other/x": b"q" * 3 * BLOCK}
    for key, data in outside.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    env = _env(warm_gw, tmp_path)
    far.reset_counters()

    done = pcache_warm(env, f"s3://{bucket}/data/", "--parallel", "4", "--interval", "0.1")
    assert done.returncode == 0, (done.stdout, done.stderr)
    summary = _summary(done.stdout)
    assert summary["state"] == "done"
    assert int(summary["objects"]) == len(inside)
    assert summary["bytes"].startswith(f"{sum(len(d) for d in inside.values())} (")
    assert int(summary["blocks_fetched"]) == _blocks(inside)
    assert int(summary["errors"]) == 0
    assert float(summary["seconds"]) > 0 and float(summary["rate_mb_s"]) >= 0
    assert f"warming s3://{bucket}/data/: " in done.stderr  # progress, one line (not a TTY)
    assert "\r" not in done.stderr
    # One LIST, then a HEAD per object and a GET per block: nothing else.
    assert far.requests == 1 + len(inside) + _blocks(inside)

    _vendor_gone(far)
    for key, data in inside.items():
        out = client.get_object(Bucket=bucket, Key=key)
        assert out["Body"].read() == data, key
        assert out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "hit", key
    assert far.connections == 0  # not even a connection attempt
    for key in outside:
        with pytest.raises(ClientError) as err:
            client.get_object(Bucket=bucket, Key=key)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503, key

    # Warming warm data: the listing is the only vendor request.
    far.mode = "pass"
    far.reset_counters()
    again = pcache_warm(env, f"s3://{bucket}/data/", "--json", "--interval", "0.1")
    assert again.returncode == 0, again.stderr
    job = json.loads(again.stdout)
    assert job["state"] == "done" and job["objects_done"] == len(inside)
    assert job["blocks_fetched"] == 0
    assert far.requests == 1


def test_warm_cli__usage_errors_exit_2_and_no_wait_returns_the_job(
    client: Any, warm_gw: GatewayProcess, admin: AdminApi, tmp_path: Path
) -> None:
    env = _env(warm_gw, tmp_path)
    for args in (("not-a-url",), ("s3://",), ("s3://b/p", "--parallel", "x"), ()):
        done = pcache_warm(env, *args)
        assert done.returncode == 2, (args, done.stderr)
    no_creds = {k: v for k, v in env.items() if not k.startswith("AWS_ACCESS")}
    assert pcache_warm(no_creds, "s3://b/p").returncode == 2

    missing = pcache_warm(env, f"s3://pw-missing-{uuid.uuid4().hex[:8]}/x")
    assert missing.returncode == 1 and missing.stderr.startswith("NoSuchBucket:")

    bucket = _bucket(client)
    client.put_object(Bucket=bucket, Key="k/1", Body=b"x" * 10)
    started = pcache_warm(env, f"s3://{bucket}/k/", "--no-wait", "--json")
    assert started.returncode == 0, started.stderr
    job = json.loads(started.stdout)
    assert job["state"] == "running" and job["prefix"] == "k/"
    assert _finished(admin, job["job_id"])["objects_done"] == 1


def test_warm_cli__a_job_that_failed_to_list_exits_1_and_resumes(
    client: Any, far: FaultProxy, warm_gw: GatewayProcess, tmp_path: Path
) -> None:
    bucket = _bucket(client)
    objects = _put_many(client, bucket, "f/", 5)
    env = _env(warm_gw, tmp_path)
    _vendor_gone(far)
    failed = pcache_warm(env, f"s3://{bucket}/f/", "--json", "--interval", "0.1")
    assert failed.returncode == 1, failed.stderr
    job = json.loads(failed.stdout)
    assert job["state"] == "failed" and job["error"].startswith("listing failed: ")
    assert "pcache warm: job failed: listing failed" in failed.stderr

    far.mode = "pass"
    resumed = pcache_warm(env, f"s3://{bucket}/f/", "--resume", job["job_id"], "--interval", "0.1")
    assert resumed.returncode == 0, resumed.stderr
    summary = _summary(resumed.stdout)
    assert summary["job_id"] == job["job_id"] and int(summary["objects"]) == len(objects)
    wrong = pcache_warm(env, f"s3://{bucket}/g/", "--resume", job["job_id"])
    assert wrong.returncode == 1 and wrong.stderr.startswith("ValidationError:")


# --- the admin API ---------------------------------------------------------------------------


def test_warm_api__job_record_listing_and_errors(client: Any, admin: AdminApi) -> None:
    bucket = _bucket(client)
    objects = _put_many(client, bucket, "a/", 6)
    started = admin.ok(
        "POST", "/admin/v1/cache/warm", {"pbucket": bucket, "prefix": "a/"}, status=202
    )
    assert set(started) == JOB_FIELDS
    assert started["state"] == "running" and started["finished"] is None
    assert len(started["job_id"]) == 32 and int(started["job_id"], 16) >= 0
    assert (started["pbucket"], started["prefix"], started["parallel"]) == (bucket, "a/", 8)
    assert started["page_size"] == 1000 and started["resumes"] == 0

    job = _finished(admin, started["job_id"])
    assert set(job) == JOB_FIELDS
    assert job["state"] == "done" and job["error"] is None and job["errors"] == 0
    assert job["objects_done"] == len(objects)
    assert job["bytes_done"] == sum(len(d) for d in objects.values())
    assert job["blocks_fetched"] == _blocks(objects)
    assert job["last_key"] == max(objects) and job["finished"] is not None
    assert job["started"].endswith("Z") and job["seconds"] > 0
    rate = job["bytes_done"] / job["seconds"] / 1e6  # seconds are rounded to the millisecond
    assert job["rate_mb_s"] == pytest.approx(rate, rel=0.05, abs=0.01)

    listed = admin.ok("GET", "/admin/v1/cache/warm")["items"]
    assert started["job_id"] in [j["job_id"] for j in listed]
    assert all(set(j) == JOB_FIELDS for j in listed)

    # Resuming a finished job, unknown and malformed ids, bad bodies.
    resume = admin.call("POST", "/admin/v1/cache/warm", {"resume": job["job_id"]})
    assert (resume.status, resume.code) == (409, "InvalidJobState")
    unknown = uuid.uuid4().hex
    for method in ("GET", "DELETE"):
        reply = admin.call(method, f"/admin/v1/cache/warm/{unknown}")
        assert (reply.status, reply.code) == (404, "NoSuchJob")
        reply = admin.call(method, "/admin/v1/cache/warm/not-a-job")
        assert (reply.status, reply.code, reply.json["field"]) == (400, "ValidationError", "job_id")
    reply = admin.call("POST", "/admin/v1/cache/warm", {"resume": unknown})
    assert (reply.status, reply.code) == (404, "NoSuchJob")
    reply = admin.call("POST", "/admin/v1/cache/warm", {"pbucket": "pw-nope-" + unknown[:8]})
    assert (reply.status, reply.code) == (404, "NoSuchBucket")
    for body, field in (
        ({}, "pbucket"),
        ({"pbucket": "Not_A_Bucket"}, "pbucket"),
        ({"pbucket": bucket, "parallel": 0}, "parallel"),
        ({"pbucket": bucket, "parallel": 65}, "parallel"),
        ({"pbucket": bucket, "page_size": 1001}, "page_size"),
        ({"pbucket": bucket, "prefix": 5}, "prefix"),
        ({"pbucket": bucket, "prefx": "a/"}, "prefx"),
        ({"resume": job["job_id"], "prefix": "b/"}, "prefix"),
        ({"resume": job["job_id"], "pbucket": "pw-other"}, "pbucket"),
    ):
        reply = admin.call("POST", "/admin/v1/cache/warm", body)
        assert (reply.status, reply.code, reply.json.get("field")) == (
            400,
            "ValidationError",
            field,
        ), body
    # Cancelling a finished job answers it as it is.
    assert admin.ok("DELETE", f"/admin/v1/cache/warm/{job['job_id']}")["state"] == "done"


def test_warm_api__cancel_after_a_checkpoint_then_resume_fetches_no_block_twice(
    client: Any, far: FaultProxy, admin: AdminApi, warm_gw: GatewayProcess
) -> None:
    bucket = _bucket(client)
    objects = {f"r/{i:02d}": os.urandom(2 * BLOCK) for i in range(20)}
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    far.latency_down_ms = 40  # each object takes a few round trips: the job outlives the poll
    body = {"pbucket": bucket, "prefix": "r/", "parallel": 1, "page_size": 4}
    job_id = admin.ok("POST", "/admin/v1/cache/warm", body, status=202)["job_id"]
    first = _until(lambda: _job(admin, job_id), lambda j: j["last_key"] is not None)
    assert first["state"] == "running"

    cancelled = admin.ok("DELETE", f"/admin/v1/cache/warm/{job_id}")
    assert cancelled["state"] == "cancelled" and cancelled["finished"] is not None
    done_before = cancelled["objects_done"]
    assert 4 <= done_before < len(objects)
    assert cancelled["blocks_fetched"] == 2 * done_before  # each object was finished whole
    assert _job(admin, job_id)["state"] == "cancelled"  # as stored
    assert cancelled["last_key"] <= f"r/{done_before - 1:02d}"

    far.latency_down_ms = 0
    far.reset_counters()
    resumed = admin.ok(
        "POST", "/admin/v1/cache/warm", {"resume": job_id, "page_size": 1000}, status=202
    )
    assert resumed["job_id"] == job_id and resumed["state"] == "running"
    assert resumed["resumes"] == 1 and resumed["page_size"] == 1000
    job = _finished(admin, job_id)
    assert job["state"] == "done" and job["errors"] == 0
    assert job["objects_done"] == len(objects)
    assert job["bytes_done"] == sum(len(d) for d in objects.values())
    assert job["blocks_fetched"] == 2 * len(objects)
    # The resumed run: one LIST, then a HEAD and two block GETs for each object not warmed yet.
    assert far.requests == 1 + 3 * (len(objects) - done_before)

    _vendor_gone(far)
    for key, data in objects.items():
        out = client.get_object(Bucket=bucket, Key=key)
        assert out["Body"].read() == data
        assert out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "hit"


def test_warm_api__a_cancel_flagged_in_redis_by_another_node_stops_the_job(
    client: Any, far: FaultProxy, admin: AdminApi, redis_server: str
) -> None:
    """What a DELETE on another node does: it flags the job's hash; the owner stops."""
    bucket = _bucket(client)
    for i in range(16):
        client.put_object(Bucket=bucket, Key=f"c/{i:02d}", Body=b"c" * 2 * BLOCK)
    far.latency_down_ms = 40
    body = {"pbucket": bucket, "parallel": 1, "page_size": 2}
    job_id = admin.ok("POST", "/admin/v1/cache/warm", body, status=202)["job_id"]
    _until(lambda: _job(admin, job_id), lambda j: j["last_key"] is not None)
    with redis.Redis.from_url(redis_server) as db:
        db.hset(f"pc:c:job:{{{job_id}}}", "cancel", "1")
    job = _finished(admin, job_id)  # seen at the next checkpoint (every 2 objects here)
    assert job["state"] == "cancelled" and job["objects_done"] < 16
    assert job["cancel_requested"] is False


def test_warm_api__authorisation_is_per_pbucket(client: Any, admin: AdminApi) -> None:
    mine, other = _bucket(client), _bucket(client)
    client.put_object(Bucket=mine, Key="x", Body=b"x")
    s3_only = admin.user(doc(allow("s3:*")))
    reply = s3_only.call("POST", "/admin/v1/cache/warm", {"pbucket": mine})
    assert (reply.status, reply.code) == (403, "AccessDenied")

    scoped = admin.user(
        doc(
            allow("admin:WarmCache", f"arn:aws:s3:::{mine}"),
            allow("admin:GetWarmJob", f"arn:aws:s3:::{mine}"),
        )
    )
    job_id = scoped.ok("POST", "/admin/v1/cache/warm", {"pbucket": mine}, status=202)["job_id"]
    # By id, the job's PBucket is the resource (looked up before authorisation).
    assert _finished(scoped, job_id)["pbucket"] == mine
    reply = scoped.call("POST", "/admin/v1/cache/warm", {"resume": job_id})
    assert (reply.status, reply.code) == (409, "InvalidJobState")  # authorised: it is done
    other_id = admin.ok("POST", "/admin/v1/cache/warm", {"pbucket": other}, status=202)["job_id"]
    for method, path, body in (
        ("POST", "/admin/v1/cache/warm", {"pbucket": other}),
        ("POST", "/admin/v1/cache/warm", {"resume": other_id}),
        ("GET", f"/admin/v1/cache/warm/{other_id}", None),
        ("DELETE", f"/admin/v1/cache/warm/{job_id}", None),  # no CancelWarmJob
        ("GET", "/admin/v1/cache/warm", None),  # no ListWarmJobs
        ("GET", f"/admin/v1/cache/warm/{uuid.uuid4().hex}", None),  # unknown job: `*`
    ):
        reply = scoped.call(method, path) if body is None else scoped.call(method, path, body)
        assert (reply.status, reply.code) == (403, "AccessDenied"), (method, path, body)
    reply = s3_only.call("GET", f"/admin/v1/cache/warm/{job_id}")
    assert (reply.status, reply.code) == (403, "AccessDenied")


def test_warm_api__a_node_without_cache_answers_409(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    config = far_config(far, seaweed, redis_server, tmp_path / "tier", enabled=False)
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        api = AdminApi(gw.endpoint, gw.access_key, gw.secret_key, "root")
        bucket = _bucket(gw.client())
        reply = api.call("POST", "/admin/v1/cache/warm", {"pbucket": bucket})
        assert (reply.status, reply.code) == (409, "CacheDisabled")
        done = pcache_warm(_env(gw, tmp_path), f"s3://{bucket}/")
        assert done.returncode == 1 and done.stderr.startswith("CacheDisabled:")


def test_warm_api__a_job_stopped_with_its_node_resumes_after_a_restart(
    tmp_path: Path, far: FaultProxy, seaweed: SeaweedServer, redis_server: str
) -> None:
    config = far_config(far, seaweed, redis_server, tmp_path / "tier", enabled=True)
    objects = {f"n/{i:02d}": os.urandom(2 * BLOCK) for i in range(12)}
    far.mode, far.latency_down_ms = "pass", 40
    try:
        with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
            api = AdminApi(gw.endpoint, gw.access_key, gw.secret_key, "root")
            s3 = gw.client()
            bucket = _bucket(s3)
            for key, data in objects.items():
                s3.put_object(Bucket=bucket, Key=key, Body=data)
            body = {"pbucket": bucket, "prefix": "n/", "parallel": 1, "page_size": 4}
            job_id = api.ok("POST", "/admin/v1/cache/warm", body, status=202)["job_id"]
            _until(lambda: _job(api, job_id), lambda j: j["last_key"] is not None)
        # SIGTERM: the node stopped the job (resumable) on its way out.
    finally:
        far.latency_down_ms = 0
    with GatewayProcess(tmp_path, config=config, extra_env=SHARED_KEY) as gw:
        api = AdminApi(gw.endpoint, gw.access_key, gw.secret_key, "root")
        stopped = _job(api, job_id)
        assert stopped["state"] == "failed" and "stopped" in stopped["error"]
        assert 4 <= stopped["objects_done"] < len(objects)
        assert (
            api.ok("POST", "/admin/v1/cache/warm", {"resume": job_id}, status=202)["resumes"] == 1
        )
        job = _finished(api, job_id)
        assert job["state"] == "done" and job["objects_done"] == len(objects)
        # The blocks cached before the restart were found in the tier files, not fetched again.
        assert job["blocks_fetched"] == 2 * len(objects)
