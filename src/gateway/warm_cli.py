"""`pcache warm s3://PBUCKET/PREFIX`: warm a prefix into a gateway node's block cache.

Starts a warm-up job through the admin API (`POST /admin/v1/cache/warm`), then polls it and
shows progress on stderr (an in-place line on a terminal, a line every few seconds otherwise)
until it ends, then prints a summary on stdout (`--json`: the job record). `--no-wait` prints
the new job and returns at once; `--resume JOB` continues a stopped job after its checkpoint.
Connection settings (endpoint, credentials, region, TLS) are those of `pcache admin`.

Exit codes: 0 the job is done without errors, 1 it failed, was cancelled or some objects could
not be warmed (or the API refused), 2 usage, 130 interrupted (the job keeps running).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from gateway.admin_cli.client import AdminClient, ApiError, path
from gateway.admin_cli.commands import _connection_options
from gateway.admin_cli.output import print_json, print_record
from gateway.admin_cli.profile import ConfigProblem, resolve

__all__ = ["main", "parse_target"]

#: seconds between two progress lines when stderr is not a terminal
PLAIN_EVERY = 5.0
MB = 1_000_000
_SPINNER = "|/-\\"


class UsageProblem(Exception):
    """A command-line mistake argparse cannot see (exit code 2)."""


def parse_target(text: str) -> tuple[str, str]:
    """`s3://PBUCKET/PREFIX` → (PBUCKET, PREFIX); the prefix may be empty."""
    if not text.startswith("s3://"):
        raise UsageProblem(f"{text!r} is not an s3://PBUCKET/PREFIX URL")
    pbucket, _, prefix = text.removeprefix("s3://").partition("/")
    if not pbucket:
        raise UsageProblem(f"{text!r} names no PBucket")
    return pbucket, prefix


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pcache warm",
        description="Load every object under an S3 prefix into a gateway node's block cache.",
    )
    parser.add_argument("target", metavar="s3://PBUCKET/PREFIX", help="what to warm")
    parser.add_argument("--parallel", type=int, metavar="N", help="objects at once (1-64, 8)")
    parser.add_argument(
        "--page-size", type=int, metavar="N", help="keys per listing page and checkpoint (1000)"
    )
    parser.add_argument("--resume", metavar="JOB", help="continue this job after its checkpoint")
    parser.add_argument("--no-wait", action="store_true", help="start the job and return")
    parser.add_argument(
        "--interval", type=_positive, default=1.0, metavar="SECONDS", help="poll period (1)"
    )
    _connection_options(parser, suppress=False)
    return parser


def _mb(count: int) -> str:
    return f"{count / MB:,.1f} MB"


def _progress_text(job: Mapping[str, Any]) -> str:
    text = (
        f"{job['objects_done']:,} objects, {_mb(job['bytes_done'])}, "
        f"{job['blocks_fetched']:,} blocks fetched, {job['rate_mb_s']:.1f} MB/s"
    )
    if job["errors"]:
        text += f", {job['errors']:,} errors"
    return text


class _Progress:
    """Progress on stderr: redrawn in place on a terminal, else a line every PLAIN_EVERY s."""

    def __init__(self, err: TextIO, label: str, clock: Callable[[], float]) -> None:
        self.err, self.label, self.clock = err, label, clock
        self.tty = err.isatty()
        self.ticks = 0
        self.last_line = -PLAIN_EVERY
        self.drawn = False

    def show(self, job: Mapping[str, Any]) -> None:
        if self.tty:
            spin = _SPINNER[self.ticks % len(_SPINNER)]
            self.ticks += 1
            self.err.write(f"\r{spin} warming {self.label}: {_progress_text(job)}\x1b[K")
            self.drawn = True
            self.err.flush()
        elif self.clock() - self.last_line >= PLAIN_EVERY:
            self.last_line = self.clock()
            self.err.write(f"warming {self.label}: {_progress_text(job)}\n")
            self.err.flush()

    def end(self) -> None:
        if self.drawn:
            self.err.write("\n")
            self.err.flush()


def _summary(job: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "job_id": job["job_id"],
        "state": job["state"],
        "objects": job["objects_done"],
        "bytes": f"{job['bytes_done']} ({_mb(job['bytes_done'])})",
        "blocks_fetched": job["blocks_fetched"],
        "errors": job["errors"],
        "seconds": job["seconds"],
        "rate_mb_s": job["rate_mb_s"],
    }


def _wait(
    client: AdminClient,
    job: Mapping[str, Any],
    progress: _Progress,
    interval: float,
    sleep: Callable[[float], None],
) -> Mapping[str, Any]:
    target = path("cache", "warm", str(job["job_id"]))
    try:
        while job["state"] == "running":
            progress.show(job)
            sleep(interval)  # the polling period, not a synchronisation
            job = client.call("GET", target)
    finally:
        progress.end()
    return job


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help is 0, a usage error 2
        return exit_.code if isinstance(exit_.code, int) else 2
    job: Mapping[str, Any] | None = None
    try:
        pbucket, prefix = parse_target(args.target)
        conn = resolve(
            os.environ if env is None else env,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            region=args.region,
            ca_bundle=args.ca_bundle,
            verify_tls=not args.no_verify_ssl,
        )
        client = AdminClient(conn)
        body: dict[str, Any] = {"pbucket": pbucket, "prefix": prefix}
        if args.resume is not None:
            body["resume"] = args.resume
        if args.parallel is not None:
            body["parallel"] = args.parallel
        if args.page_size is not None:
            body["page_size"] = args.page_size
        job = client.call("POST", path("cache", "warm"), body)
        assert job is not None
        if args.no_wait:
            if args.json:
                print_json(job, out)
            else:
                print_record(job, out)
            return 0
        progress = _Progress(err, args.target, time.monotonic)
        job = _wait(client, job, progress, args.interval, time.sleep)
    except (ConfigProblem, UsageProblem) as problem:
        print(f"pcache warm: {problem}", file=err)
        return 2
    except ApiError as api:
        print(f"{api.code}: {api.message}", file=err)
        return 1
    except KeyboardInterrupt:
        if job is not None:
            job_id = job["job_id"]
            print(
                f"\npcache warm: stopped watching; job {job_id} keeps running on the gateway "
                f"(cancel it with DELETE /admin/v1/cache/warm/{job_id})",
                file=err,
            )
        return 130
    if args.json:
        print_json(job, out)
    else:
        print_record(_summary(job), out)
    if job["state"] != "done":
        print(f"pcache warm: job {job['state']}: {job.get('error') or 'no reason given'}", file=err)
        return 1
    if job["errors"]:
        print(
            f"pcache warm: {job['errors']} objects could not be warmed "
            f"(latest: {job.get('last_error')})",
            file=err,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
