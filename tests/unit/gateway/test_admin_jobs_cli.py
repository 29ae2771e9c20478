"""`pcache admin pbucket rebalance|migrate --wait`: the progress line."""

from __future__ import annotations

from gateway.admin_cli.jobs import progress_text

JOB = {
    "kind": "rebalance",
    "pbucket": "logs",
    "dry_run": False,
    "state": "running",
    "scanned": 1200,
    "misplaced": 310,
    "moved": 300,
    "dropped": 2,
    "skipped": 0,
    "errors": 1,
    "bytes": 123456789,
    "target": "aws/logs-b",
}


def test_progress_text__counters_of_the_kind_and_where_it_is() -> None:
    assert progress_text(JOB) == (
        "rebalance logs: scanned 1,200 misplaced 310 moved 300 dropped 2 skipped 0 errors 1,"
        " 123,456,789 bytes at aws/logs-b"
    )
    migrate = {
        **JOB,
        "kind": "migrate",
        "dry_run": True,
        "state": "done",
        "missing": 5,
        "copied": 0,
        "present": 7,
    }
    assert progress_text(migrate) == (
        "migrate logs (dry run): scanned 1,200 missing 5 copied 0 present 7 skipped 0 errors 1,"
        " 123,456,789 bytes"
    )
