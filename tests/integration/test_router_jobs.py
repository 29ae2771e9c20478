"""The `rebalance` and `migrate` jobs end to end: PBuckets made and grown through the admin API of
the session gateway, objects written through S3, jobs driven through the admin API, and every
vendor bucket checked directly with boto3 afterwards.

Vendors: `seaweed` is the session gateway's SeaweedFS and `far-<uid>`, added through the admin
API, the same SeaweedFS behind the fault proxy: two upstreams, so moves between them stream
through the gateway while moves within one are server-side copies; the proxy's latency also
keeps a job running long enough to cancel it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from router.placement import Candidate, owner, target_identity
from tests.conftest import _empty_and_delete
from tests.integration.test_admin_api import AdminApi
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

UID = uuid.uuid4().hex[:8]
WEED, FAR = "seaweed", f"far-{UID}"
#: (vendor, bucket, prefix) of each target
Target = tuple[str, str, str]


def _bucket(tag: str) -> str:
    return f"rj-{UID}-{tag}"


#: shared by the tests, each under its own key prefix (creating and deleting SeaweedFS buckets
#: is what costs time here)
VENDOR_BUCKETS = [_bucket(t) for t in ("a", "b", "c")]
#: PBuckets the tests made, removed at the end (so the vendor can go too)
MADE: list[str] = []


@pytest.fixture(scope="module")
def admin(gateway: GatewayProcess) -> AdminApi:
    return AdminApi(gateway.endpoint, gateway.access_key, gateway.secret_key, "root")


@pytest.fixture(scope="module")
def gw(
    gateway: GatewayProcess,
    admin: AdminApi,
    far: FaultProxy,
    seaweed: SeaweedServer,
    s3_direct: Any,
) -> Iterator[GatewayProcess]:
    for bucket in VENDOR_BUCKETS:
        s3_direct.create_bucket(Bucket=bucket)
    vendor = {
        "name": FAR,
        "endpoint": far.endpoint,
        "access_key": seaweed.access_key,
        "secret_key": seaweed.secret_key,
    }
    admin.ok("POST", "/admin/v1/vendors", vendor, status=201)  # served here once answered
    try:
        yield gateway
    finally:
        for pb in MADE:
            admin.call("DELETE", f"/admin/v1/pbuckets/{pb}")
        admin.call("DELETE", f"/admin/v1/vendors/{FAR}")
        for bucket in VENDOR_BUCKETS:
            _empty_and_delete(s3_direct, bucket)


@pytest.fixture
def slow_far(far: FaultProxy) -> Iterator[FaultProxy]:
    yield far
    far.latency_down_ms = 0


def _create(admin: AdminApi, name: str, body: dict[str, Any]) -> None:
    admin.ok("POST", "/admin/v1/pbuckets", {"name": name, **body}, status=201)
    MADE.append(name)


def _body(targets: list[Target], policy: str = "balance") -> dict[str, Any]:
    return {
        "policy": policy,
        "targets": [{"vendor": v, "bucket": b, "prefix": p} for v, b, p in targets],
    }


def _owner(targets: list[Target], key: str) -> Target:
    """The target `key` belongs on, computed here from the placement rule alone."""
    cands = [Candidate(target_identity(v, b, p)) for v, b, p in targets]
    return targets[owner(cands, key)]


def _seed(gw: GatewayProcess, pbucket: str, count: int) -> dict[str, bytes]:
    s3 = gw.client()
    objects = {
        f"obj/{i:04d}-{uuid.uuid4().hex[:6]}": os.urandom(200 + 37 * i) for i in range(count)
    }
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda kv: s3.put_object(Bucket=pbucket, Key=kv[0], Body=kv[1]), objects.items()
            )
        )
    return objects


def _vendor_keys(s3_direct: Any, bucket: str, prefix: str = "") -> dict[str, str]:
    """key (prefix stripped) → ETag of everything in a vendor bucket under `prefix`."""
    out: dict[str, str] = {}
    for page in s3_direct.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix) :]] = obj["ETag"]
    return out


def _placement(s3_direct: Any, targets: list[Target]) -> dict[str, list[Target]]:
    """key → every target holding it."""
    where: dict[str, list[Target]] = {}
    for target in targets:
        for key in _vendor_keys(s3_direct, target[1], target[2]):
            where.setdefault(key, []).append(target)
    return where


def _run(admin: AdminApi, pbucket: str, kind: str, **body: Any) -> dict[str, Any]:
    """Start a job and wait for it to end; its final record."""
    job = admin.ok("POST", f"/admin/v1/pbuckets/{pbucket}/{kind}", body, status=202)
    assert job["kind"] == kind and job["pbucket"] == pbucket
    return _wait(admin, job["job_id"])


def _wait(admin: AdminApi, job_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def ended() -> bool:
        seen.update(admin.ok("GET", f"/admin/v1/router-jobs/{job_id}"))
        return seen["state"] != "running"

    until(ended, 20, f"job {job_id} to end")
    return seen


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def test_rebalance__every_key_ends_on_exactly_its_owner_with_its_bytes(
    gw: GatewayProcess, admin: AdminApi, s3_direct: Any
) -> None:
    pb = f"rb-{UID}"
    two: list[Target] = [(WEED, _bucket("a"), "rb/"), (FAR, _bucket("b"), "rb/")]
    three = [*two, (WEED, _bucket("c"), "rb/")]
    _create(admin, pb, _body(two))
    objects = _seed(gw, pb, 90)
    admin.ok("PUT", f"/admin/v1/pbuckets/{pb}", _body(three))
    misplaced = {k for k in objects if _owner(three, k) != _owner(two, k)}
    assert 15 <= len(misplaced) <= 45  # about a third moves to the new target
    s3 = gw.client()
    for key in sorted(misplaced)[:10]:  # still readable before the job (probing)
        assert s3.get_object(Bucket=pb, Key=key)["Body"].read() == objects[key]
    before = _placement(s3_direct, three)

    dry = _run(admin, pb, "rebalance", dry_run=True)
    assert dry["state"] == "done" and dry["dry_run"] is True
    assert (dry["scanned"], dry["misplaced"], dry["moved"]) == (90, len(misplaced), 0)
    assert len(dry["planned"]) == min(100, len(misplaced))
    assert {p["key"] for p in dry["planned"]} <= misplaced
    assert all(p["to"] == f"{WEED}/{_bucket('c')}/rb/" for p in dry["planned"])
    assert _placement(s3_direct, three) == before  # nothing moved

    job = _run(admin, pb, "rebalance", parallel=4, page_size=25)
    assert job["state"] == "done", job
    # A moved key is seen again on its new target, walked last.
    assert (job["scanned"], job["misplaced"], job["moved"], job["errors"]) == (
        90 + len(misplaced),
        len(misplaced),
        len(misplaced),
        0,
    )
    assert job["bytes"] == sum(len(objects[k]) for k in misplaced)
    where = _placement(s3_direct, three)
    assert sorted(where) == sorted(objects)
    for key, data in objects.items():
        assert where[key] == [_owner(three, key)], key
        _, bucket, prefix = where[key][0]
        got = s3_direct.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
        assert got == data, key

    again = _run(admin, pb, "rebalance")
    assert (again["state"], again["scanned"], again["misplaced"], again["moved"]) == (
        "done",
        90,
        0,
        0,
    )
    listed = admin.ok("GET", f"/admin/v1/pbuckets/{pb}/jobs")["items"]
    assert [j["job_id"] for j in listed] == [again["job_id"], job["job_id"], dry["job_id"]]


def test_rebalance__cancel_checkpoints_and_resume_finishes_exactly(
    gw: GatewayProcess, admin: AdminApi, s3_direct: Any, slow_far: FaultProxy
) -> None:
    pb = f"rc-{UID}"
    two: list[Target] = [(FAR, _bucket("a"), "rc/"), (WEED, _bucket("b"), "rc/")]
    three = [*two, (FAR, _bucket("c"), "rc/")]
    _create(admin, pb, _body(two))
    objects = _seed(gw, pb, 60)
    admin.ok("PUT", f"/admin/v1/pbuckets/{pb}", _body(three))
    misplaced = {k for k in objects if _owner(three, k) != _owner(two, k)}

    slow_far.latency_down_ms = 30  # every move touches `far`: the job takes seconds
    body = {"parallel": 1, "page_size": 5}
    job = admin.ok("POST", f"/admin/v1/pbuckets/{pb}/rebalance", body, status=202)
    job_path = f"/admin/v1/router-jobs/{job['job_id']}"
    refused = admin.call("POST", f"/admin/v1/pbuckets/{pb}/rebalance", {})
    assert (refused.status, refused.json["code"]) == (409, "JobRunning")
    until(lambda: admin.ok("GET", job_path)["moved"] >= 3, 15, "a few keys moved")
    stopped = admin.ok("POST", job_path + "/cancel")
    assert stopped["state"] == "cancelled" and stopped["last_key"]
    assert 3 <= stopped["moved"] < len(misplaced)

    slow_far.latency_down_ms = 0
    resumed = admin.ok("POST", job_path + "/resume", {"parallel": 8}, status=202)
    assert resumed["resumes"] == 1 and resumed["state"] == "running"
    done = _wait(admin, job["job_id"])
    assert done["state"] == "done", done
    # Counted once each over both runs: the checkpoint was the last key handed out.
    assert (done["scanned"], done["moved"], done["errors"]) == (
        60 + len(misplaced),
        len(misplaced),
        0,
    )
    where = _placement(s3_direct, three)
    assert all(where[k] == [_owner(three, k)] for k in objects)
    redo = admin.call("POST", job_path + "/resume", {})
    assert (redo.status, redo.json["code"]) == (409, "InvalidJobState")


def test_migrate__copies_what_new_lacks_new_wins_old_untouched_then_retirable(
    gw: GatewayProcess, admin: AdminApi, s3_direct: Any
) -> None:
    pb, new, old = f"mj-{UID}", _bucket("a"), _bucket("b")
    pre = "mj/"
    objects = {f"m/{i:03d}": os.urandom(100 + i) for i in range(60)}
    newer = {k: b"written to new since: " + k.encode() for k in sorted(objects)[::5]}

    def put(bucket: str, items: dict[str, bytes]) -> None:
        with ThreadPoolExecutor(8) as pool:
            calls = [(bucket, pre + k, v) for k, v in items.items()]
            list(pool.map(lambda c: s3_direct.put_object(Bucket=c[0], Key=c[1], Body=c[2]), calls))

    put(old, objects)
    put(new, newer)
    old_before = _vendor_keys(s3_direct, old, pre)
    targets: list[Target] = [(WEED, new, pre), (FAR, old, pre)]
    _create(admin, pb, _body(targets, "migrate"))
    wrong = admin.call("POST", f"/admin/v1/pbuckets/{pb}/rebalance", {})
    assert (wrong.status, wrong.json["code"]) == (409, "InvalidPolicy")

    dry = _run(admin, pb, "migrate", dry_run=True)
    assert (dry["state"], dry["missing"], dry["present"], dry["copied"]) == ("done", 48, 12, 0)
    assert (dry["remaining"], dry["retirable"]) == (48, False)
    assert set(_vendor_keys(s3_direct, new, pre)) == set(newer)

    job = _run(admin, pb, "migrate", parallel=8, page_size=25)
    assert job["state"] == "done", job
    assert (job["scanned"], job["copied"], job["present"], job["errors"]) == (60, 48, 12, 0)
    assert job["bytes"] == sum(len(v) for k, v in objects.items() if k not in newer)
    assert (job["remaining"], job["retirable"]) == (0, True)
    assert _vendor_keys(s3_direct, old, pre) == old_before  # old untouched
    on_new = _vendor_keys(s3_direct, new, pre)
    assert sorted(on_new) == sorted(objects)
    for key, data in objects.items():
        assert on_new[key] == _md5(newer.get(key, data)), key  # new's own copies kept

    again = _run(admin, pb, "migrate")
    assert (again["copied"], again["present"], again["retirable"]) == (0, 60, True)


def test_router_jobs__bad_requests_are_admin_errors(admin: AdminApi) -> None:
    cases = [
        ("POST", "/admin/v1/pbuckets/no-such-pb-rj/rebalance", {}, 404, "NoSuchBucket"),
        ("POST", f"/admin/v1/pbuckets/rb-{UID}/rebalance", {"parallel": 0}, 400, "ValidationError"),
        ("POST", f"/admin/v1/pbuckets/rb-{UID}/migrate", {"dry": True}, 400, "ValidationError"),
        ("GET", "/admin/v1/router-jobs/not-a-job", None, 400, "ValidationError"),
        ("GET", "/admin/v1/router-jobs/" + "0" * 32, None, 404, "NoSuchJob"),
        ("POST", "/admin/v1/router-jobs/" + "0" * 32 + "/cancel", None, 404, "NoSuchJob"),
    ]
    for method, path, body, status, code in cases:
        reply = admin.call(method, path) if body is None else admin.call(method, path, body)
        assert (reply.status, reply.json["code"]) == (status, code), (path, reply.raw)


def test_cli__rebalance_with_progress_jobs_listing_and_refusals(
    gw: GatewayProcess, admin: AdminApi, s3_direct: Any, tmp_path: Path
) -> None:
    pb = f"rl-{UID}"
    two: list[Target] = [(WEED, _bucket("a"), "cli/"), (WEED, _bucket("b"), "cli/")]
    three = [*two, (WEED, _bucket("c"), "cli/")]
    _create(admin, pb, _body(two))
    objects = _seed(gw, pb, 30)
    admin.ok("PUT", f"/admin/v1/pbuckets/{pb}", _body(three))
    misplaced = {k for k in objects if _owner(three, k) != _owner(two, k)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_ACCESS_KEY_ID=gw.access_key,
        AWS_SECRET_ACCESS_KEY=gw.secret_key,
        PCACHE_ENDPOINT=gw.endpoint,
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", "admin", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    dry = cli("pbucket", "rebalance", pb, "--dry-run", "--wait", "--interval", "0.1")
    assert dry.returncode == 0, dry.stderr
    assert f"misplaced:        {len(misplaced)}" in dry.stdout and "planned:" in dry.stdout
    assert f"rebalance {pb} (dry run): scanned" in dry.stderr  # the progress line
    done = cli(
        "--json", "pbucket", "rebalance", pb, "--parallel", "4", "--wait", "--interval", "0.1"
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert (job["state"], job["moved"], job["errors"]) == ("done", len(misplaced), 0)
    assert all(where == [_owner(three, k)] for k, where in _placement(s3_direct, three).items())
    listed = cli("pbucket", "jobs", pb)
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].startswith(job["job_id"])
    assert len(listed.stdout.splitlines()) == 3  # heading + two jobs
    shown = cli("--json", "pbucket", "job", job["job_id"])
    assert json.loads(shown.stdout)["job_id"] == job["job_id"]
    refused = cli("pbucket", "migrate", pb)
    assert refused.returncode == 1 and refused.stderr.startswith("InvalidPolicy: ")
