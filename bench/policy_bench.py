"""PBucket policies side by side: `single` on one vendor, `balance` over three, `replicate` over
three (write quorum 2), each a separate SeaweedFS server, through one PCache gateway with the
cache off (so every request reaches the vendors). SeaweedFS direct is the reference row.

    .venv/bin/python -m bench.policy_bench            # 64 KiB objects, 10 s per phase
    .venv/bin/python -m bench.policy_bench --quick    # 4 s per phase

PUT then GET, 32 connections, boto3-presigned URLs, closed loop. What it shows: the gateway's
cost per policy (balance: placement + one vendor; replicate: three vendors per PUT and the
quorum wait) and the latency a replicate PUT adds over single. On one 2-core machine the three
vendors share the CPU with the gateway, so balance cannot show the rate-limit headroom it buys
against real per-bucket limits; it shows that spreading costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.rig.gateway import GatewayProcess
from tests.rig.redis import RedisServer
from tests.rig.seaweed import SeaweedServer

from bench.s3_bench import RssSampler, Run, closed_loop, each_once

KIB = 1024
RESULTS_DIR = Path(__file__).parent / "results"
MASTER_KEY_HEX = "7c" * 32
SIZE = 64 * KIB
KEYS = 512
CONCURRENCY = 32


def _policies() -> tuple[str, ...]:
    from router.views import POLICIES

    return tuple(p for p in ("single", "balance", "replicate") if p in POLICIES)


def config(weeds: list[SeaweedServer], redis_url: str, policies: tuple[str, ...]) -> str:
    vendors = "\n".join(
        f'[vendors.w{i}]\ntype = "s3"\nendpoint = "{w.endpoint}"\n'
        f'access_key = "{w.access_key}"\nsecret_key = "{w.secret_key}"\n'
        for i, w in enumerate(weeds)
    )
    three = ", ".join(f'{{ vendor = "w{i}", bucket = "pol" }}' for i in range(3))
    pbuckets = ['[[pbuckets]]\nname = "pol-single"\nvendor = "w0"\nbucket = "pol"\n']
    if "balance" in policies:
        pbuckets.append(
            f'[[pbuckets]]\nname = "pol-balance"\npolicy = "balance"\ntargets = [{three}]\n'
        )
    if "replicate" in policies:
        pbuckets.append(
            '[[pbuckets]]\nname = "pol-replicate"\npolicy = "replicate"\nwrite_quorum = 2\n'
            f"targets = [{three}]\n"
        )
    return f"""
[node]
vendor_allowlist = ["127.0.0.0/8"]

[redis]
url = "{redis_url}"

{vendors}
[cache]
enabled = false

{"".join(pbuckets)}
"""


@contextlib.contextmanager
def environment(policies: tuple[str, ...]) -> Iterator[tuple[GatewayProcess, list[SeaweedServer]]]:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pcache-pol-")))
        weeds = [stack.enter_context(SeaweedServer()) for _ in range(3)]
        for w in weeds:
            w.client().create_bucket(Bucket="pol")
        redis = stack.enter_context(RedisServer())
        gateway = stack.enter_context(
            GatewayProcess(
                work / "gw",
                config=config(weeds, redis.url, policies),
                extra_env={"PCACHE_MASTER_KEY": MASTER_KEY_HEX},
            )
        )
        yield gateway, weeds


def _urls(client: Any, bucket: str, method: str) -> list[str]:
    op = "put_object" if method == "PUT" else "get_object"
    return [
        str(client.generate_presigned_url(op, Params={"Bucket": bucket, "Key": f"k{i:05d}"}))
        for i in range(KEYS)
    ]


def _phase(urls: list[str], method: str, body: bytes | None, seconds: float) -> dict[str, float]:
    run: Run = asyncio.run(closed_loop(urls, method, body, CONCURRENCY, seconds))
    out = run.summary()
    print(
        f"    {method:<4} {out['req_s']:8.0f} req/s  p50 {out['p50_ms']:6.2f} ms  "
        f"p99 {out['p99_ms']:7.2f} ms  errors {run.errors}",
        flush=True,
    )
    return out


def run(seconds: float) -> dict[str, Any]:
    policies = _policies()
    body = os.urandom(SIZE)
    results: dict[str, Any] = {"policies": policies, "size": SIZE}
    with environment(policies) as (gateway, weeds):
        rss = RssSampler(gateway.proc.pid if gateway.proc else 0)
        with rss:
            rows: list[tuple[str, Any, str]] = [("seaweedfs direct", weeds[0].client(), "pol")]
            rows += [(f"pcache {p}", gateway.client(), f"pol-{p}") for p in policies]
            for name, client, bucket in rows:
                print(f"  {name}", flush=True)
                puts, gets = _urls(client, bucket, "PUT"), _urls(client, bucket, "GET")
                asyncio.run(each_once(puts, "PUT", body, CONCURRENCY))  # every key exists
                results[name] = {
                    "put": _phase(puts, "PUT", body, seconds),
                    "get": _phase(gets, "GET", None, seconds),
                }
        results["rss_max_mib"] = rss.max_kib / 1024
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'64 KiB objects, 32 connections':<24} {'PUT req/s':>10} {'PUT p50 ms':>11} "
        f"{'GET req/s':>10} {'GET p50 ms':>11}"
    ]
    for name in ["seaweedfs direct", *(f"pcache {p}" for p in results["policies"])]:
        put, get = results[name]["put"], results[name]["get"]
        lines.append(
            f"{name:<24} {put['req_s']:>10.0f} {put['p50_ms']:>11.2f} "
            f"{get['req_s']:>10.0f} {get['p50_ms']:>11.2f}"
        )
    if "pcache replicate" in results:
        added = (
            results["pcache replicate"]["put"]["p50_ms"] - results["pcache single"]["put"]["p50_ms"]
        )
        lines.append(f"replicate PUT adds {added:.2f} ms at p50 over single (quorum 2 of 3)")
    lines.append(f"gateway RSS max {results['rss_max_mib']:.0f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 s per phase")
    args = parser.parse_args(argv)
    results = run(4.0 if args.quick else 10.0)
    print(table(results))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"policy_bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
