"""The rebalance / migrate job record: its Redis document, its API form, and resuming."""

from __future__ import annotations

import json

from router.job_model import STALE_SECONDS, RouterJob


def _job(kind: str = "migrate", **changes: object) -> RouterJob:
    job = RouterJob(
        job_id="0" * 32,
        kind=kind,
        pbucket="pb",
        dry_run=False,
        parallel=4,
        page_size=100,
        node="host:1",
        started=1_000.0,
        updated=1_010.0,
        targets=["weed/new w=1", "far/old/p/ w=1"],
        walk=[1],
        run_started=1_000.0,
    )
    for name, value in changes.items():
        setattr(job, name, value)
    return job


def test_job__document_round_trips_through_json_without_the_cancel_flag() -> None:
    job = _job(last_key="k/ü", plan=[{"key": "a", "from": "x", "to": "y"}], cancel=True)
    job.counters["copied"] = 3
    doc = json.loads(json.dumps(job.to_doc()))
    assert "cancel" not in doc
    assert RouterJob.from_doc(doc, cancel=True) == job


def test_job__migrate_is_retirable_only_after_a_clean_complete_real_run() -> None:
    done = _job(state="done")
    assert done.to_json(2_000.0, local=True)["retirable"] is True
    errors = _job(state="done")
    errors.counters["errors"] = 1
    assert errors.to_json(2_000.0, local=True)["remaining"] == 1
    assert errors.to_json(2_000.0, local=True)["retirable"] is False
    dry = _job(state="done", dry_run=True)
    dry.counters["missing"] = 7
    assert (
        dry.to_json(2_000.0, local=True)["remaining"],
        dry.to_json(2_000.0, local=True)["retirable"],
    ) == (7, False)
    assert _job(state="cancelled").to_json(2_000.0, local=True)["retirable"] is False
    assert "retirable" not in _job("rebalance", walk=[0, 1]).to_json(2_000.0, local=True)


def test_job__a_silent_node_s_job_reads_as_failed_elsewhere() -> None:
    job = _job()
    late = job.updated + STALE_SECONDS + 1
    assert job.to_json(late, local=True)["state"] == "running"
    record = job.to_json(late, local=False)
    assert record["state"] == "failed" and "no heartbeat" in record["error"]
    assert record["target"] == "far/old/p/"


def test_job__resume_restores_the_checkpoint_counters_and_plan() -> None:
    job = _job(dry_run=True)
    job.counters.update(scanned=5, missing=2)
    job.plan.append({"key": "a", "from": "x", "to": "y"})
    job.take_checkpoint()
    job.counters.update(scanned=9, missing=4, errors=1)
    job.plan.append({"key": "b", "from": "x", "to": "y"})
    job.last_error = "b: SlowDown"
    job.restore_checkpoint()
    assert (job.counters["scanned"], job.counters["missing"], job.counters["errors"]) == (5, 2, 0)
    assert [p["key"] for p in job.plan] == ["a"] and job.last_error == ""
