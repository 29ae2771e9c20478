"""Lifecycle jobs against real SeaweedFS and Redis, with a settable clock instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from router.pbucket import BucketView
from tests.integration.ttl.conftest import objects
from tests.integration.ttl.jobs_helpers import (
    BIG,
    DAY,
    FailingListView,
    PausingView,
    Removed,
    later,
    put_objects,
    put_rules,
    run,
    runner,
)
from ttl.clock import SettableClock
from ttl.job_store import JobStore


async def test_expiration__days_and_prefix(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    await put_rules(
        redis_client,
        pb_name,
        [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
          "Expiration": {"Days": 30}}],
    )  # fmt: skip
    put_objects(s3_direct, vendor_bucket, {"logs/a": 10, "logs/b": 20, "data/c": 5})
    removed = Removed()

    early = await run(runner(redis_client, view, later(10), removed=removed), pb_name)
    assert (early.state, early.scanned, early.expired) == ("succeeded", 3, 0)
    assert set(objects(s3_direct, vendor_bucket)) == {"logs/a", "logs/b", "data/c"}

    due = await run(runner(redis_client, view, later(31), removed=removed), pb_name)
    assert (due.state, due.scanned, due.expired, due.byte_count) == ("succeeded", 3, 2, 30)
    assert due.rules == {"logs": {"expired": 2, "transitioned": 0, "aborted": 0}}
    assert set(objects(s3_direct, vendor_bucket)) == {"data/c"}
    assert sorted(removed.keys) == [(pb_name, "logs/a"), (pb_name, "logs/b")]

    history = await JobStore(redis_client).history(pb_name)
    assert [j.job_id for j in history] == [due.job_id, early.job_id]
    assert history[0].expired == 2 and history[0].state == "succeeded"
    assert history[0].phase == "done" and history[0].last_key == "logs/b"


async def test_expiration__date(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    date = (today + 2 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    await put_rules(
        redis_client,
        pb_name,
        [{"ID": "d", "Status": "Enabled", "Filter": {}, "Expiration": {"Date": date}}],
    )
    put_objects(s3_direct, vendor_bucket, {"k1": 1, "k2": 1})
    before = await run(runner(redis_client, view, SettableClock(today + DAY)), pb_name)
    assert before.expired == 0
    after = await run(runner(redis_client, view, SettableClock(today + 2 * DAY)), pb_name)
    assert after.expired == 2
    assert objects(s3_direct, vendor_bucket) == {}


async def test_expiration__tag_and_size_filters(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    await put_rules(
        redis_client,
        pb_name,
        [
            {
                "ID": "tagged-big",
                "Status": "Enabled",
                "Filter": {
                    "And": {
                        "Tags": [{"Key": "tier", "Value": "scratch"}],
                        "ObjectSizeGreaterThan": 100,
                    }
                },
                "Expiration": {"Days": 1},
            },
            {
                "ID": "small",
                "Status": "Enabled",
                "Filter": {"And": {"Prefix": "s/", "ObjectSizeLessThan": 10}},
                "Expiration": {"Days": 1},
            },
        ],
    )
    put_objects(s3_direct, vendor_bucket, {"big-tagged": 200}, Tagging="tier=scratch")
    put_objects(s3_direct, vendor_bucket, {"small-tagged": 50}, Tagging="tier=scratch")
    put_objects(s3_direct, vendor_bucket, {"big-other": 200}, Tagging="tier=keep")
    put_objects(s3_direct, vendor_bucket, {"big-untagged": 200, "s/tiny": 5, "s/large": 20})
    job = await run(runner(redis_client, view, later(2)), pb_name)
    assert (job.scanned, job.expired, job.errors) == (6, 2, 0)
    assert set(objects(s3_direct, vendor_bucket)) == {
        "small-tagged",
        "big-other",
        "big-untagged",
        "s/large",
    }
    assert job.rules["tagged-big"]["expired"] == 1 and job.rules["small"]["expired"] == 1


async def test_transition__vendor_class_visible(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    """GLACIER maps to this vendor's archive class (GLACIER_IR in the fixture's profile), and
    SeaweedFS reports it in HEAD and in the listing; metadata and tags survive the move."""
    await put_rules(
        redis_client,
        pb_name,
        [
            {"ID": "ia", "Status": "Enabled", "Filter": {"Prefix": "docs/"},
             "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
            {"ID": "cold", "Status": "Enabled", "Filter": {"Prefix": "old/"},
             "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
        ],
    )  # fmt: skip
    put_objects(
        s3_direct,
        vendor_bucket,
        {"docs/a": BIG, "old/b": BIG, "docs/small": 10},
        Metadata={"owner": "ann"},
        ContentType="text/plain",
        Tagging="t=1",
    )
    removed = Removed()
    job = await run(runner(redis_client, view, later(31), removed=removed), pb_name)
    assert (job.transitioned, job.expired, job.errors) == (2, 0, 0)
    assert objects(s3_direct, vendor_bucket) == {
        "docs/a": "STANDARD_IA",
        "old/b": "GLACIER_IR",
        "docs/small": "STANDARD",  # under 128 KiB: S3's default never moves it
    }
    head = s3_direct.head_object(Bucket=vendor_bucket, Key="old/b")
    assert head["StorageClass"] == "GLACIER_IR"
    assert head["Metadata"] == {"owner": "ann"} and head["ContentType"] == "text/plain"
    tags = s3_direct.get_object_tagging(Bucket=vendor_bucket, Key="old/b")["TagSet"]
    assert tags == [{"Key": "t", "Value": "1"}]
    assert sorted(k for _, k in removed.keys) == ["docs/a", "old/b"]

    again = await run(runner(redis_client, view, later(32)), pb_name)
    assert again.transitioned == 0 and again.errors == 0  # idempotent: nothing moves twice


async def test_abort_incomplete_multipart(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    await put_rules(
        redis_client,
        pb_name,
        [{"ID": "mpu", "Status": "Enabled", "Filter": {"Prefix": "up/"},
          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}],
    )  # fmt: skip
    stale = s3_direct.create_multipart_upload(Bucket=vendor_bucket, Key="up/x")["UploadId"]
    other = s3_direct.create_multipart_upload(Bucket=vendor_bucket, Key="keep/y")["UploadId"]
    early = await run(runner(redis_client, view, later(3)), pb_name)
    assert early.aborted == 0
    job = await run(runner(redis_client, view, later(8)), pb_name)
    assert (job.aborted, job.rules["mpu"]["aborted"], job.errors) == (1, 1, 0)
    left = s3_direct.list_multipart_uploads(Bucket=vendor_bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in left] == [("keep/y", other)]
    assert stale != other


async def test_dry_run__changes_nothing(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    await put_rules(
        redis_client,
        pb_name,
        [
            {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "x/"},
             "Expiration": {"Days": 1}},
            {"ID": "t", "Status": "Enabled", "Filter": {"Prefix": "t/"},
             "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
            {"ID": "m", "Status": "Enabled", "Filter": {},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        ],
    )  # fmt: skip
    put_objects(s3_direct, vendor_bucket, {"x/1": 1, "x/2": 2, "t/big": BIG})
    upload = s3_direct.create_multipart_upload(Bucket=vendor_bucket, Key="m/u")["UploadId"]
    removed = Removed()
    jobs = runner(redis_client, view, later(31), removed=removed, dry_run_cap=2)
    job = await run(jobs, pb_name, dry_run=True)
    assert (job.dry_run, job.expired, job.transitioned, job.aborted) == (True, 2, 1, 1)
    assert job.planned_total == 4 and len(job.planned) == 2  # the cap
    assert {p["key"] for p in job.planned} <= {"t/big", "x/1", "x/2"}
    assert objects(s3_direct, vendor_bucket) == {"x/1": "STANDARD", "x/2": "STANDARD",
                                                  "t/big": "STANDARD"}  # fmt: skip
    uploads = s3_direct.list_multipart_uploads(Bucket=vendor_bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload]
    assert removed.keys == []
    assert await JobStore(redis_client).last_run(pb_name) is None  # a dry run is not a run


async def test_resume__after_a_failed_listing(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    """The vendor fails after two pages: the job fails with its checkpoint; the next run
    continues the same job from there and counts nothing twice."""
    await put_rules(
        redis_client,
        pb_name,
        [{"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}],
    )
    keys = {f"k{i}": 1 for i in range(7)}
    put_objects(s3_direct, vendor_bucket, keys)
    clock = later(2)
    failing = FailingListView(view, ok=2)
    first = await run(runner(redis_client, failing, clock, page_size=2), pb_name)
    assert (first.state, first.error, first.last_key) == ("failed", "ServiceUnavailable", "k3")
    stored = await JobStore(redis_client).get(pb_name, first.job_id)
    assert stored is not None and (stored.expired, stored.scanned) == (4, 4)
    second = await run(runner(redis_client, view, clock, page_size=2), pb_name)
    assert second.job_id == first.job_id and second.resumes == 1
    assert (second.state, second.scanned, second.expired) == ("succeeded", 7, 7)
    assert objects(s3_direct, vendor_bucket) == {}


async def test_progress__checkpoint_after_each_page_while_running(
    redis_client: Redis, view: BucketView, s3_direct: Any, vendor_bucket: str, pb_name: str
) -> None:
    """Another node sees a running job's counters and `last_key` as of its last page; the
    node running it answers with live counters."""
    await put_rules(
        redis_client,
        pb_name,
        [{"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}],
    )
    put_objects(s3_direct, vendor_bucket, {f"k{i}": 1 for i in range(5)})
    paused = PausingView(view, free_pages=1)
    jobs = runner(redis_client, paused, later(2), page_size=2)
    job = await jobs.start(pb_name)
    assert job is not None
    await paused.listed.wait()  # page one done and checkpointed, page two listed, paused
    stored = await JobStore(redis_client).get(pb_name, job.job_id)
    assert stored is not None
    assert (stored.state, stored.scanned, stored.expired, stored.last_key) == (
        "running", 2, 2, "k1",
    )  # fmt: skip
    live = await jobs.record(pb_name, job.job_id)
    assert live is job
    paused.go.set()
    done = await jobs.wait(job.job_id)
    assert done is not None and (done.state, done.scanned, done.expired) == ("succeeded", 5, 5)
    assert await jobs.wait(job.job_id) is None  # no longer running here
    stored = await JobStore(redis_client).get(pb_name, job.job_id)
    assert stored is not None and (stored.state, stored.expired) == ("succeeded", 5)
