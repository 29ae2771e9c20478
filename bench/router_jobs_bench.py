"""Rebalance and migrate job throughput through one PCache gateway over two SeaweedFS servers.

    .venv/bin/python -m bench.router_jobs_bench              # 2,000 objects of 16 KiB
    .venv/bin/python -m bench.router_jobs_bench --keys 500   # quicker

Three runs, each on its own PBucket seeded through the gateway:

* rebalance, server-side: `balance` over two buckets of server 0 grows a third bucket on server
  0; the job moves about a third of the keys with CopyObject.
* rebalance, streamed: the same, but the third bucket is on server 1: each move streams GET →
  PUT through the gateway.
* migrate: `[new on server 1, old on server 0]` with every key on old; the job copies all.

Each row: keys looked at, keys moved or copied, seconds, keys moved per second, MB/s moved.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.test_admin_api import AdminApi
from tests.rig.gateway import GatewayProcess
from tests.rig.redis import RedisServer
from tests.rig.seaweed import SeaweedServer

KIB = 1024
SIZE = 16 * KIB
RESULTS_DIR = Path(__file__).parent / "results"
MASTER_KEY_HEX = "7c" * 32
BUCKETS = {0: ("rj-ra", "rj-rb", "rj-rc", "rj-sa", "rj-sb", "rj-mold"), 1: ("rj-sc", "rj-mnew")}


def _config(weeds: list[SeaweedServer], redis_url: str) -> str:
    vendors = "\n".join(
        f'[vendors.w{i}]\ntype = "s3"\nendpoint = "{w.endpoint}"\n'
        f'access_key = "{w.access_key}"\nsecret_key = "{w.secret_key}"\n'
        for i, w in enumerate(weeds)
    )
    return f"""
[node]
vendor_allowlist = ["127.0.0.0/8"]

[redis]
url = "{redis_url}"

{vendors}
[cache]
enabled = false
"""


@contextlib.contextmanager
def environment() -> Iterator[tuple[GatewayProcess, list[SeaweedServer]]]:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pcache-rj-")))
        weeds = [stack.enter_context(SeaweedServer()) for _ in range(2)]
        for i, names in BUCKETS.items():
            for name in names:
                weeds[i].client().create_bucket(Bucket=name)
        redis = stack.enter_context(RedisServer())
        gateway = stack.enter_context(
            GatewayProcess(
                work / "gw",
                config=_config(weeds, redis.url),
                extra_env={"PCACHE_MASTER_KEY": MASTER_KEY_HEX},
            )
        )
        yield gateway, weeds


def _targets(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"vendor": v, "bucket": b} for v, b in pairs]


def _seed(client: Any, bucket: str, keys: int) -> None:
    body = os.urandom(SIZE)
    with ThreadPoolExecutor(32) as pool:
        list(
            pool.map(
                lambda i: client.put_object(Bucket=bucket, Key=f"k{i:06d}", Body=body),
                range(keys),
            )
        )


def _job(admin: AdminApi, pbucket: str, kind: str) -> dict[str, Any]:
    started = time.perf_counter()
    job = admin.ok("POST", f"/admin/v1/pbuckets/{pbucket}/{kind}", {"parallel": 16}, status=202)
    while job["state"] == "running":
        time.sleep(0.05)  # poll period
        job = admin.ok("GET", f"/admin/v1/router-jobs/{job['job_id']}")
    seconds = time.perf_counter() - started
    done = job["moved"] if kind == "rebalance" else job["copied"]
    row = {
        "state": job["state"],
        "scanned": job["scanned"],
        "done": done,
        "errors": job["errors"],
        "seconds": round(seconds, 2),
        "keys_s": round(done / seconds, 1),
        "mb_s": round(job["bytes"] / seconds / 1e6, 2),
    }
    print(f"    {kind:<9} {json.dumps(row)}", flush=True)
    return row


def run(keys: int) -> dict[str, Any]:
    results: dict[str, Any] = {"keys": keys, "size": SIZE, "parallel": 16}
    with environment() as (gateway, _):
        admin = AdminApi(gateway.endpoint, gateway.access_key, gateway.secret_key, "root")
        s3 = gateway.client(max_pool_connections=32)
        for name, third in (("server-side", ("w0", "rj-rc")), ("streamed", ("w1", "rj-sc"))):
            pb = f"rebalance-{name}"
            first = ("rj-ra", "rj-rb") if name == "server-side" else ("rj-sa", "rj-sb")
            two = _targets(("w0", first[0]), ("w0", first[1]))
            created = {"name": pb, "policy": "balance", "targets": two}
            admin.ok("POST", "/admin/v1/pbuckets", created, status=201)
            _seed(s3, pb, keys)
            grown = {"policy": "balance", "targets": [*two, *_targets(third)]}
            admin.ok("PUT", f"/admin/v1/pbuckets/{pb}", grown)
            print(f"  rebalance, {name}", flush=True)
            results[f"rebalance {name}"] = _job(admin, pb, "rebalance")
        old_only = {"name": "seed-old", "targets": _targets(("w0", "rj-mold"))}
        admin.ok("POST", "/admin/v1/pbuckets", old_only, status=201)
        _seed(s3, "seed-old", keys)
        pair = _targets(("w1", "rj-mnew"), ("w0", "rj-mold"))
        migrating = {"name": "mig", "policy": "migrate", "targets": pair}
        admin.ok("POST", "/admin/v1/pbuckets", migrating, status=201)
        print("  migrate, streamed across servers", flush=True)
        results["migrate"] = _job(admin, "mig", "migrate")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2000)
    args = parser.parse_args()
    results = run(args.keys)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"router_jobs_{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
