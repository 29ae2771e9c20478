"""`pcache admin pbucket rebalance|migrate|jobs|job|cancel-job|resume-job`: the PBucket jobs.

    pbucket rebalance NAME [--dry-run] [--parallel N] [--page-size N] [--wait]
    pbucket migrate NAME   [--dry-run] [--parallel N] [--page-size N] [--wait]
    pbucket jobs NAME                       the PBucket's jobs, newest first
    pbucket job JOB_ID [--wait]             one job (with --wait: until it ends)
    pbucket cancel-job JOB_ID
    pbucket resume-job JOB_ID [--parallel N] [--wait]

`--wait` polls the job and shows a progress line on stderr (redrawn in place on a terminal,
a line every few seconds otherwise), then prints the final record. The exit code is then 1
unless the job ended `done` without errors, so scripts can chain on it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from gateway.admin_cli.client import ApiError, path
from gateway.admin_cli.commands import Context
from gateway.admin_cli.output import Column

__all__ = ["add_job_commands", "progress_text"]

#: seconds between two progress lines when stderr is not a terminal
PLAIN_EVERY = 5.0
JOBS: list[Column] = [
    ("JOB_ID", "job_id"),
    ("KIND", "kind"),
    ("STATE", "state"),
    ("DRY_RUN", "dry_run"),
    ("SCANNED", "scanned"),
    ("ERRORS", "errors"),
    ("STARTED", "started"),
    ("FINISHED", "finished"),
]
#: the counters a progress line shows, by kind
_SHOWN = {
    "rebalance": ("scanned", "misplaced", "moved", "dropped", "skipped", "errors"),
    "migrate": ("scanned", "missing", "copied", "present", "skipped", "errors"),
}


def progress_text(job: Mapping[str, Any]) -> str:
    """`rebalance logs (dry run): scanned 1,200 misplaced 310 ... at weed/logs-c`."""
    counts = " ".join(f"{name} {job.get(name, 0):,}" for name in _SHOWN.get(job["kind"], ()))
    dry = " (dry run)" if job.get("dry_run") else ""
    text = f"{job['kind']} {job['pbucket']}{dry}: {counts}, {job['bytes']:,} bytes"
    if job.get("state") == "running" and job.get("target"):
        text += f" at {job['target']}"
    return text


class _Progress:
    def __init__(self, err: TextIO, clock: Callable[[], float]) -> None:
        self.err, self.clock = err, clock
        self.tty = err.isatty()
        self.last_line = -PLAIN_EVERY
        self.drawn = False

    def show(self, job: Mapping[str, Any]) -> None:
        if self.tty:
            self.err.write(f"\r{progress_text(job)}\x1b[K")
            self.drawn = True
        elif self.clock() - self.last_line >= PLAIN_EVERY:
            self.last_line = self.clock()
            self.err.write(progress_text(job) + "\n")
        self.err.flush()

    def end(self) -> None:
        if self.drawn:
            self.err.write("\n")
            self.err.flush()


def _follow(ctx: Context, job: Mapping[str, Any], interval: float) -> None:
    """Poll until the job ends, then print it; ApiError (exit 1) unless done without errors."""
    progress = _Progress(ctx.err, time.monotonic)
    target = path("router-jobs", str(job["job_id"]))
    try:
        while job["state"] == "running":
            progress.show(job)
            time.sleep(interval)  # the polling period, not a synchronisation
            job = ctx.client.call("GET", target)
    finally:
        progress.end()
    _record(ctx, job)
    if job["state"] != "done" or job.get("errors"):
        reason = job.get("error") or job.get("last_error") or f"{job.get('errors')} errors"
        raise ApiError(f"Job{str(job['state']).capitalize()}", str(reason))


def _record(ctx: Context, job: Mapping[str, Any]) -> None:
    # A dry run's plan is a list of objects: readable as indented JSON, not one long line.
    ctx.show(job, documents=("planned",) if job.get("planned") else ())


def _show(ctx: Context, a: argparse.Namespace, job: Mapping[str, Any]) -> None:
    if getattr(a, "wait", False):
        _follow(ctx, job, a.interval)
    else:
        _record(ctx, job)


def _start(kind: str) -> Callable[[Context, argparse.Namespace], None]:
    def command(ctx: Context, a: argparse.Namespace) -> None:
        body: dict[str, Any] = {"dry_run": a.dry_run}
        if a.parallel is not None:
            body["parallel"] = a.parallel
        if a.page_size is not None:
            body["page_size"] = a.page_size
        _show(ctx, a, ctx.client.call("POST", path("pbuckets", a.name, kind), body))

    return command


def job_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("pbuckets", a.name, "jobs")), columns=JOBS)


def job_get(ctx: Context, a: argparse.Namespace) -> None:
    _show(ctx, a, ctx.client.call("GET", path("router-jobs", a.job_id)))


def job_cancel(ctx: Context, a: argparse.Namespace) -> None:
    _record(ctx, ctx.client.call("POST", path("router-jobs", a.job_id, "cancel")))


def job_resume(ctx: Context, a: argparse.Namespace) -> None:
    body = {} if a.parallel is None else {"parallel": a.parallel}
    _show(ctx, a, ctx.client.call("POST", path("router-jobs", a.job_id, "resume"), body))


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return value


def _wait_options(leaf: argparse.ArgumentParser) -> None:
    leaf.add_argument("--wait", action="store_true", help="show progress until the job ends")
    leaf.add_argument(
        "--interval", type=_positive, default=1.0, metavar="SECONDS", help="poll period (1)"
    )


def add_job_commands(verb: Callable[..., argparse.ArgumentParser]) -> None:
    """The job commands, under the `pbucket` noun whose verb factory is `verb`."""
    for kind, text in (
        ("rebalance", "move a balance PBucket's misplaced objects to their owner targets"),
        ("migrate", "copy what a migrate PBucket's new target lacks from the old one"),
    ):
        leaf = verb(kind, _start(kind), text, "name")
        leaf.add_argument("--dry-run", action="store_true", help="count and list, change nothing")
        leaf.add_argument("--parallel", type=int, metavar="N", help="keys at once (1-64, 8)")
        leaf.add_argument("--page-size", type=int, metavar="N", help="keys per page (1-1000)")
        _wait_options(leaf)
    verb("jobs", job_list, "list a PBucket's rebalance and migrate jobs", "name")
    _wait_options(verb("job", job_get, "show a rebalance or migrate job", "job_id"))
    verb("cancel-job", job_cancel, "stop a rebalance or migrate job", "job_id")
    leaf = verb("resume-job", job_resume, "continue a stopped job from its checkpoint", "job_id")
    leaf.add_argument("--parallel", type=int, metavar="N", help="keys at once (1-64)")
    _wait_options(leaf)
