"""Pure parts of cache warm-up: the job record (Redis form, API form, a dead node's job) and the
`pcache warm` target and progress output."""

from __future__ import annotations

import io

import pytest

from gateway.warm_cli import PLAIN_EVERY, UsageProblem, _Progress, parse_target
from gateway.warm_jobs import STALE_SECONDS, WarmJob, job_key, valid_job_id

JOB_ID = "0123456789abcdef0123456789abcdef"


def _job(**changes: object) -> WarmJob:
    job = WarmJob(
        job_id=JOB_ID,
        pbucket="pb",
        prefix="data/",
        parallel=4,
        page_size=100,
        node="host:1",
        started=1_000.0,
        updated=1_010.0,
        run_started=1_000.0,
    )
    for name, value in changes.items():
        setattr(job, name, value)
    return job


def test_job__redis_document_round_trips() -> None:
    job = _job(objects_done=3, bytes_done=7, cancel=True, last_key="data/ü", elapsed=1.5)
    doc = {k.encode(): v.encode() for k, v in job.to_doc().items()}  # as redis-py answers
    assert WarmJob.from_doc(doc) == job
    assert job_key(JOB_ID) == "pc:c:job:{" + JOB_ID + "}"  # the id is the hash tag


def test_job__api_record_counts_time_over_runs() -> None:
    job = _job(bytes_done=20_000_000, elapsed=5.0, run_started=1_000.0)
    record = job.to_json(1_005.0, local=True)
    assert (record["state"], record["seconds"], record["rate_mb_s"]) == ("running", 10.0, 2.0)
    assert record["started"] == "1970-01-01T00:16:40Z" and record["finished"] is None
    job.fold(1_005.0)
    job.state = "done"
    assert job.to_json(2_000.0, local=False)["seconds"] == 10.0


def test_job__a_running_job_without_heartbeat_is_shown_failed_elsewhere() -> None:
    job = _job()
    fresh = job.to_json(job.updated + STALE_SECONDS - 1, local=False)
    assert fresh["state"] == "running" and fresh["error"] is None
    dead = job.to_json(job.updated + STALE_SECONDS + 1, local=False)
    assert dead["state"] == "failed" and "host:1" in dead["error"]
    # Its time ends at its last heartbeat.
    assert dead["seconds"] == job.updated - job.run_started
    assert job.to_json(job.updated + 999, local=True)["state"] == "running"


@pytest.mark.parametrize(
    ("value", "ok"),
    [(JOB_ID, True), (JOB_ID.upper(), False), (JOB_ID[:-1], False), (None, False), (5, False)],
)
def test_valid_job_id(value: object, ok: bool) -> None:
    assert valid_job_id(value) is ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s3://pb/data/", ("pb", "data/")),
        ("s3://pb", ("pb", "")),
        ("s3://pb/", ("pb", "")),
        ("s3://pb/a/b c", ("pb", "a/b c")),
    ],
)
def test_parse_target(text: str, expected: tuple[str, str]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["pb/data", "s3://", "s3:///x", "http://pb/x"])
def test_parse_target__refuses(text: str) -> None:
    with pytest.raises(UsageProblem):
        parse_target(text)


RECORD = {"objects_done": 1234, "bytes_done": 5_500_000, "blocks_fetched": 9, "rate_mb_s": 2.5}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress__a_line_every_few_seconds_when_not_a_terminal() -> None:
    now = [0.0]
    err = io.StringIO()
    progress = _Progress(err, "s3://pb/x", lambda: now[0])
    for step in range(10):
        now[0] = step * PLAIN_EVERY / 2
        progress.show({**RECORD, "errors": 0})
    progress.end()
    lines = err.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[0] == ("warming s3://pb/x: 1,234 objects, 5.5 MB, 9 blocks fetched, 2.5 MB/s")


def test_progress__redrawn_in_place_on_a_terminal() -> None:
    err = _Terminal()
    progress = _Progress(err, "s3://pb/x", lambda: 0.0)
    progress.show({**RECORD, "errors": 0})
    progress.show({**RECORD, "errors": 2})
    progress.end()
    text = err.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "2 errors" in text
