"""LIST: walking a bucket of many keys page by page, far vendor direct, through PCache cold and
warm, and SeaweedFS on loopback, side by side in one run.

    .venv/bin/python -m bench.list_bench            # 10,000 keys, 16 concurrent walkers
    .venv/bin/python -m bench.list_bench --quick    # 2,000 keys

The vendor is SeaweedFS behind the latency proxy (+50 ms each way, as in `bench.cache_bench`).
One walk is ListObjectsV2 with max-keys 1000 from the first page to the last (what `aws s3 ls`,
rclone and s3cmd do before they copy anything). Measured per target:

1. one walk, sequential, best of 3 (the first PCache walk is the cold one and is reported
   apart: it fills the listing cache);
2. pages per second: the first page (1000 keys) over and over from 16 connections for a few
   seconds, on a presigned URL with a client that does not parse the XML;
3. far-vendor requests during each stage, from the proxy's counter (a warm walk makes none).

Prints one table and writes it as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cache_bench import (
    QUICK,
    Endpoint,
    Rig,
    Settings,
    _scratch_root,
    create_pbucket,
    environment,
    seed_small,
)
from bench.s3_bench import closed_loop

RESULTS_DIR = Path(__file__).parent / "results"
PAGE = 1000
WALKERS = 16
ROUNDS = 3
TARGETS = ("far-direct", "pcache-warm", "loopback")


def walk(client: Any, bucket: str) -> int:
    """One full paginated listing; returns the keys seen."""
    seen, token = 0, None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": PAGE}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)
        seen += page.get("KeyCount", 0)
        if not page.get("IsTruncated"):
            return seen
        token = page["NextContinuationToken"]


def timed_walk(client: Any, bucket: str, expected: int) -> float:
    start = time.perf_counter()
    seen = walk(client, bucket)
    elapsed = time.perf_counter() - start
    if seen != expected:
        raise AssertionError(f"listed {seen} keys, expected {expected}")
    return elapsed


def pages_per_second(ep: Endpoint, bucket: str, seconds: float) -> dict[str, float]:
    """The first page (1000 keys) over and over from `WALKERS` connections, on a presigned URL
    and a client that does not parse the XML (boto3's parsing would be the bottleneck)."""
    url = ep.client().generate_presigned_url(
        "list_objects_v2", Params={"Bucket": bucket, "MaxKeys": PAGE}, ExpiresIn=3600
    )
    run = asyncio.run(closed_loop([url], "GET", None, WALKERS, seconds))
    if run.errors:
        raise AssertionError(f"{run.errors} failed LIST requests against {ep.url}")
    return run.summary()


def run(objects: int, seconds: float) -> dict[str, Any]:
    settings = Settings(**{**QUICK.__dict__, "objects": objects, "s3cmd_objects": objects})
    with environment(settings, _scratch_root()) as rig:
        return measure(rig, objects, seconds)


def measure(rig: Rig, objects: int, seconds: float) -> dict[str, Any]:
    bucket = "lb-walk"
    create_pbucket(rig, bucket)
    seed_small(rig, bucket, objects, 1)
    out: dict[str, Any] = {"objects": objects, "page": PAGE, "walkers": WALKERS}
    pcache = rig.targets["pcache-cold"].client()
    rig.proxy.reset_counters()
    out["pcache-cold"] = {
        "walk_s": timed_walk(pcache, bucket, objects),
        "far_requests": rig.proxy.requests,
    }
    print(f"  pcache-cold  walk {out['pcache-cold']['walk_s']:7.3f} s", flush=True)
    for stage in TARGETS:
        ep = rig.targets[stage]
        client = ep.client()
        rig.proxy.reset_counters()
        walks = [timed_walk(client, bucket, objects) for _ in range(ROUNDS)]
        pages = pages_per_second(ep, bucket, seconds)
        out[stage] = {
            "walk_s": min(walks),
            "walk_s_median": statistics.median(walks),
            "pages_per_s": pages["req_s"],
            "page_p50_ms": pages["p50_ms"],
            "page_p99_ms": pages["p99_ms"],
            "far_requests": rig.proxy.requests,
        }
        print(
            f"  {stage:<12} walk {min(walks):7.3f} s  {pages['req_s']:8.1f} pages/s "
            f"far requests {rig.proxy.requests}",
            flush=True,
        )
    return out


def table(results: dict[str, Any]) -> str:
    cols = ("far-direct", "pcache-cold", "pcache-warm", "loopback")
    n, page = results["objects"], results["page"]
    lines = [
        f"ListObjectsV2 walk of {n} keys, {page} a page, far vendor +100 ms RTT",
        f"{'':<34}" + "".join(f"{c:>13}" for c in cols),
        "-" * (34 + 13 * len(cols)),
        f"{'one walk, best (s)':<34}" + "".join(f"{results[c]['walk_s']:>13.3f}" for c in cols),
        f"{'pages/s, ' + str(results['walkers']) + ' connections':<34}"
        + "".join(
            f"{results[c]['pages_per_s']:>13.1f}" if "pages_per_s" in results[c] else f"{'-':>13}"
            for c in cols
        ),
        f"{'far-vendor requests':<34}" + "".join(f"{results[c]['far_requests']:>13}" for c in cols),
    ]
    warm, loop = results["pcache-warm"], results["loopback"]
    lines.append(
        f"warm walk vs loopback {loop['walk_s'] / warm['walk_s']:.2f}x, "
        f"vs far direct {results['far-direct']['walk_s'] / warm['walk_s']:.1f}x faster"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 keys, 2 s of page load")
    parser.add_argument("--objects", type=int, help="keys in the bucket")
    args = parser.parse_args(argv)
    objects = args.objects or (2_000 if args.quick else 10_000)
    results = run(objects, 2.0 if args.quick else 5.0)
    print(table(results))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"list_bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
