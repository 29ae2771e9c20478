"""The block cache's effect end to end: a far vendor (SeaweedFS behind a latency proxy) read
directly, through PCache cold, through PCache warm, and SeaweedFS on loopback (the floor).

Run from the repository root (it starts SeaweedFS, Redis, a FaultProxy and a PCache gateway):

    .venv/bin/python -m bench.cache_bench            # N=10000 small objects, 256 MiB big object
    .venv/bin/python -m bench.cache_bench --quick    # N=300, 64 MiB; under ~3 minutes

Workloads, each against every target in the same run:

1. 2 KiB objects uploaded straight to SeaweedFS (into a PBucket created through PCache), then
   the whole bucket downloaded with `s3cmd sync` (sequential) and `rclone copy --transfers 16`:
   far vendor direct, PCache cold, PCache warm, SeaweedFS on loopback. Every file is checked
   byte-exact. s3cmd pays one round trip per object, so with a large N it gets its own, smaller
   bucket (`--s3cmd-objects`); the N used is printed and full-N seconds are extrapolated.
2. 4 KiB warm hits: aiohttp, 64 connections, fixed duration, on boto3-presigned (SigV4 query)
   URLs; PCache verifies the signature on every request.
3. One big object, single-stream GET (sha256-checked): far direct, PCache cold, PCache warm,
   loopback.
4. Gateway VmRSS sampled throughout.

The proxy's request counter shows what reached the far vendor in each phase. Prints one table and
writes the same as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from tests.rig.gateway import GatewayProcess
from tests.rig.proxy import FaultProxy
from tests.rig.redis import RedisServer
from tests.rig.seaweed import SeaweedServer

from bench.s3_bench import RssSampler, Run, closed_loop, each_once, rss_kib

KIB = 1024
MIB = 1024 * KIB
RESULTS_DIR = Path(__file__).parent / "results"
BIN = Path(sys.executable).parent
PRESIGN_TTL = 3600
MASTER_KEY_HEX = "5a" * 32
CLIENT_TIMEOUT = 4 * 3600.0
SMALL_SIZE = 2 * KIB
HOT_SIZE = 4 * KIB
STAGES = ("far-direct", "pcache-cold", "pcache-warm", "loopback")


@dataclass(frozen=True)
class Settings:
    objects: int
    s3cmd_objects: int
    rclone_transfers: int
    hot_keys: int
    hot_concurrency: int
    hot_duration: float
    big_size: int
    latency_ms: float
    workers: int = 1  # gateway worker processes ([node] workers)


QUICK = Settings(300, 300, 16, 256, 64, 2.0, 64 * MIB, 50.0)
FULL = Settings(10_000, 1_000, 16, 1024, 64, 5.0, 256 * MIB, 50.0)


@dataclass(frozen=True)
class Endpoint:
    """Where a client points, with whose credentials, and whether it crosses the latency proxy."""

    url: str
    access_key: str
    secret_key: str
    far: bool

    @property
    def hostport(self) -> str:
        return urlsplit(self.url).netloc

    def client(self, **config: Any) -> Any:
        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "retries": {"total_max_attempts": 1, "mode": "standard"},
        }
        options.update(config)
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**options),
        )


@dataclass
class Rig:
    """The running pieces: `targets` maps a stage name to the endpoint that stage reads."""

    seaweed: SeaweedServer
    proxy: FaultProxy
    gateway: GatewayProcess
    scratch: Path
    home: Path
    targets: dict[str, Endpoint] = field(default_factory=dict)


# --- environment -----------------------------------------------------------------------------


def _scratch_root() -> Path | None:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def gateway_config(
    proxy: FaultProxy, seaweed: SeaweedServer, redis_url: str, tier: Path, workers: int = 1
) -> str:
    # max_age is long so that a slow cold phase never turns the warm phase into revalidations.
    return f"""
[node]
region = "us-east-1"
vendor_allowlist = ["127.0.0.0/8"]
workers = {workers}

[redis]
url = "{redis_url}"

[vendors.far]
type = "s3"
endpoint = "{proxy.endpoint}"
access_key = "{seaweed.access_key}"
secret_key = "{seaweed.secret_key}"
read_timeout = 60
connect_timeout = 5

[cache]
max_age = 86400

[[cache.tier]]
name = "ram"
dir = "{tier}"
capacity = {4 * 1024 * MIB}
"""


@contextlib.contextmanager
def environment(settings: Settings, tier_parent: Path | None) -> Iterator[Rig]:
    """SeaweedFS + Redis + latency proxy + PCache; every process and temp dir removed on exit."""
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pcache-cbench-")))
        fast = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="pcache-cbench-", dir=tier_parent)
            )
        )
        seaweed = stack.enter_context(SeaweedServer())
        redis = stack.enter_context(RedisServer())
        parts = urlsplit(seaweed.endpoint)
        proxy = stack.enter_context(FaultProxy(parts.hostname or "127.0.0.1", int(parts.port or 0)))
        proxy.latency_up_ms = proxy.latency_down_ms = settings.latency_ms
        config = gateway_config(proxy, seaweed, redis.url, fast / "tier", settings.workers)
        gateway = stack.enter_context(
            GatewayProcess(
                work / "gateway",
                config=config,
                extra_env={"PCACHE_MASTER_KEY": MASTER_KEY_HEX},
            )
        )
        gateway.wait_for_workers(settings.workers)
        home = work / "home"
        home.mkdir()
        (fast / "dl").mkdir()
        rig = Rig(seaweed, proxy, gateway, fast / "dl", home)
        weed = (seaweed.access_key, seaweed.secret_key)
        root = (gateway.access_key, gateway.secret_key)
        rig.targets = {
            "far-direct": Endpoint(proxy.endpoint, *weed, far=True),
            "pcache-cold": Endpoint(gateway.endpoint, *root, far=True),
            "pcache-warm": Endpoint(gateway.endpoint, *root, far=True),
            "loopback": Endpoint(seaweed.endpoint, *weed, far=False),
        }
        yield rig


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --- seeding ---------------------------------------------------------------------------------


def create_pbucket(rig: Rig, name: str) -> None:
    """A PBucket through PCache's CreateBucket: PCache creates the vendor bucket (same name)."""
    rig.gateway.client().create_bucket(Bucket=name)


def seed_small(
    rig: Rig, bucket: str, count: int, size: int, prefix: str = "obj"
) -> dict[str, bytes]:
    """`count` random objects PUT straight to SeaweedFS (no proxy), 32 at a time."""
    rng = random.Random(f"{bucket}/{count}")
    objects = {f"{prefix}-{i:06d}.bin": rng.randbytes(size) for i in range(count)}
    client = rig.targets["loopback"].client(max_pool_connections=32)

    def put(item: tuple[str, bytes]) -> None:
        client.put_object(Bucket=bucket, Key=item[0], Body=item[1])

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, objects.items()))
    return objects


# --- 1. small objects with s3cmd and rclone --------------------------------------------------


def _client_env(home: Path) -> dict[str, str]:
    """No user config or credentials leak in; tools from this virtualenv first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "RCLONE_", "S3CMD")) and k != "HOME"
    }
    env["HOME"] = str(home)
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def _run_tool(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one client run, process start included (what a user waits for)."""
    start = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} exited {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\n"
            f"stderr:\n{proc.stderr[-2000:]}"
        )
    return elapsed


def s3cmd_sync(ep: Endpoint, bucket: str, dest: Path, home: Path) -> float:
    cfg = home / f"s3cmd-{ep.hostport.replace(':', '_')}.cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {ep.access_key}\n"
        f"secret_key = {ep.secret_key}\n"
        f"host_base = {ep.hostport}\n"
        f"host_bucket = {ep.hostport}\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "bucket_location = us-east-1\n"
        "check_ssl_certificate = False\n"
        "progress_meter = False\n"
    )
    argv = [str(BIN / "s3cmd"), "-c", str(cfg), "--no-progress", "sync"]
    return _run_tool([*argv, f"s3://{bucket}/", f"{dest}/"], _client_env(home))


def rclone_copy(ep: Endpoint, bucket: str, dest: Path, home: Path, transfers: int) -> float:
    remote = (
        f":s3,provider=Other,access_key_id={ep.access_key},"
        f"secret_access_key={ep.secret_key},endpoint='{ep.url}':{bucket}"
    )
    argv = [str(BIN / "rclone"), "--config", "/dev/null", "copy", "--transfers", str(transfers)]
    return _run_tool([*argv, remote, str(dest)], _client_env(home))


def verify_tree(dest: Path, objects: dict[str, bytes]) -> int:
    """Every expected file present and byte-exact, nothing else; returns the count checked."""
    found = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    if found != set(objects):
        missing, extra = sorted(set(objects) - found), sorted(found - set(objects))
        raise AssertionError(f"download mismatch: missing {missing[:5]} extra {extra[:5]}")
    for key, data in objects.items():
        if (dest / key).read_bytes() != data:
            raise AssertionError(f"{key}: downloaded bytes differ")
    return len(objects)


def small_objects(rig: Rig, settings: Settings) -> dict[str, Any]:
    tools: dict[str, Any] = {}
    plans = (
        ("s3cmd", "s3cmd sync (sequential)", settings.s3cmd_objects or settings.objects),
        ("rclone", f"rclone copy --transfers {settings.rclone_transfers}", settings.objects),
    )
    for tool, label, count in plans:
        bucket = f"cb-{tool}"
        create_pbucket(rig, bucket)
        t0 = time.perf_counter()
        objects = seed_small(rig, bucket, count, SMALL_SIZE)
        print(f"  seeded {count} x 2 KiB into {bucket} in {time.perf_counter() - t0:.1f} s")
        stages: dict[str, dict[str, float]] = {}
        for stage in STAGES:
            ep = rig.targets[stage]
            dest = rig.scratch / f"{tool}-{stage}"
            dest.mkdir()
            rig.proxy.reset_counters()
            if tool == "s3cmd":
                seconds = s3cmd_sync(ep, bucket, dest, rig.home)
            else:
                seconds = rclone_copy(ep, bucket, dest, rig.home, settings.rclone_transfers)
            far_requests = rig.proxy.requests
            checked = verify_tree(dest, objects)
            shutil.rmtree(dest)
            stages[stage] = {
                "seconds": seconds,
                "objects_s": count / seconds,
                "ms_per_object": seconds * 1000 / count,
                "far_requests": far_requests,
                "far_requests_per_object": far_requests / count,
                "verified": checked,
            }
            print(
                f"  {tool:<6} {stage:<12} {seconds:8.2f} s {count / seconds:9.1f} obj/s "
                f"far requests {far_requests:6d}  verified {checked}",
                flush=True,
            )
        tools[tool] = {
            "label": label,
            "objects": count,
            "stages": stages,
            "direct_over_warm": stages["far-direct"]["seconds"] / stages["pcache-warm"]["seconds"],
            "warm_vs_loopback": stages["loopback"]["seconds"] / stages["pcache-warm"]["seconds"],
            "extrapolated_seconds_at_n": {
                s: settings.objects / v["objects_s"] for s, v in stages.items()
            },
        }
    return tools


# --- 2. 4 KiB warm hits ----------------------------------------------------------------------


def _presigned(ep: Endpoint, bucket: str, keys: list[str]) -> list[str]:
    client = ep.client()
    return [
        str(
            client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": k}, ExpiresIn=PRESIGN_TTL
            )
        )
        for k in keys
    ]


def _run_summary(run: Run) -> dict[str, float]:
    values = run.summary()
    values["requests"] = float(run.requests)
    return values


def warm_hits(rig: Rig, settings: Settings) -> dict[str, Any]:
    bucket = "cb-hot"
    create_pbucket(rig, bucket)
    keys = list(seed_small(rig, bucket, settings.hot_keys, HOT_SIZE, prefix="hot"))
    pcache_urls = _presigned(rig.targets["pcache-warm"], bucket, keys)
    loop_urls = _presigned(rig.targets["loopback"], bucket, keys)
    asyncio.run(each_once(pcache_urls, "GET", None, 32))  # the cold fill, untimed
    asyncio.run(each_once(loop_urls, "GET", None, 32))
    out: dict[str, Any] = {}
    for stage, urls in (("loopback", loop_urls), ("pcache-warm", pcache_urls)):
        rig.proxy.reset_counters()
        run = asyncio.run(
            closed_loop(urls, "GET", None, settings.hot_concurrency, settings.hot_duration)
        )
        out[stage] = _run_summary(run)
        out[stage]["far_requests"] = float(rig.proxy.requests)
        s = out[stage]
        print(
            f"  4KiB GET {stage:<12} {s['req_s']:9.1f} req/s p50 {s['p50_ms']:7.2f} ms "
            f"p99 {s['p99_ms']:7.2f} ms errors {run.errors} far requests {rig.proxy.requests}",
            flush=True,
        )
    return out


# --- 3. one big object -----------------------------------------------------------------------


async def _timed_get(url: str) -> tuple[float, int, str, int]:
    """One streamed GET: (seconds, bytes, sha256 hex, status)."""
    digest = hashlib.sha256()
    moved = 0
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        start = time.perf_counter()
        async with session.get(url) as resp:
            async for chunk in resp.content.iter_chunked(MIB):
                digest.update(chunk)
                moved += len(chunk)
            status = resp.status
        elapsed = time.perf_counter() - start
    return elapsed, moved, digest.hexdigest(), status


def big_object(rig: Rig, settings: Settings) -> dict[str, Any]:
    bucket, key, size = "cb-big", "big.bin", settings.big_size
    create_pbucket(rig, bucket)
    # In 16 MiB pieces: randbytes of more than 256 MiB overflows a C int (n * 8 bits).
    rng = random.Random(size)
    data = b"".join(rng.randbytes(min(16 * MIB, size - at)) for at in range(0, size, 16 * MIB))
    expected = hashlib.sha256(data).hexdigest()
    transfer = TransferConfig(multipart_chunksize=16 * MIB, max_concurrency=4)
    rig.targets["loopback"].client().upload_fileobj(io.BytesIO(data), bucket, key, Config=transfer)
    del data
    out: dict[str, Any] = {"size": size}
    for stage in STAGES:
        url = _presigned(rig.targets[stage], bucket, [key])[0]
        rig.proxy.reset_counters()
        seconds, moved, digest, status = asyncio.run(_timed_get(url))
        ok = status == 200 and moved == size and digest == expected
        out[stage] = {
            "seconds": seconds,
            "mb_s": moved / MIB / seconds,
            "far_requests": rig.proxy.requests,
            "byte_exact": ok,
        }
        print(
            f"  {size // MIB}MiB GET {stage:<12} {seconds:7.2f} s {moved / MIB / seconds:8.1f} "
            f"MiB/s far requests {rig.proxy.requests:4d} byte-exact {ok}",
            flush=True,
        )
        if not ok:
            raise AssertionError(f"{stage}: status {status}, {moved} bytes, sha256 {digest}")
    return out


# --- report ----------------------------------------------------------------------------------


_SMALL_ROWS = (
    ("seconds", "{:.2f}"),
    ("objects_s", "{:.1f}"),
    ("ms_per_object", "{:.1f}"),
    ("far_requests", "{}"),
    ("far_requests_per_object", "{:.2f}"),
)
_NAMES = {
    "objects_s": "objects/s",
    "ms_per_object": "wall ms per object",
    "far_requests": "far-vendor requests (proxy counter)",
    "far_requests_per_object": "far-vendor requests per object",
    "mb_s": "MiB/s",
    "req_s": "requests/s",
    "p50_ms": "p50 ms",
    "p99_ms": "p99 ms",
}


def _cells(values: list[str]) -> str:
    return "".join(f"{v:>13}" for v in values)


def table(settings: Settings, results: dict[str, Any]) -> str:
    rtt = 2 * settings.latency_ms
    lines: list[str] = []
    head = f"{'':<44}" + _cells(list(STAGES))
    rule = "-" * len(head)
    lines += [f"1. 2 KiB objects, far vendor RTT +{rtt:.0f} ms (whole bucket)", head, rule]
    for tool, r in results["small"].items():
        stages = r["stages"]
        n_note = f"N={r['objects']}"
        if r["objects"] != settings.objects:
            n_note += f" of {settings.objects}"
        lines.append(f"{r['label'] + ', ' + n_note:<44}")
        for metric, fmt in _SMALL_ROWS:
            cells = [fmt.format(stages[s][metric]) for s in STAGES]
            lines.append(f"  {_NAMES.get(metric, metric):<42}" + _cells(cells))
        lines.append(
            f"  direct/warm {r['direct_over_warm']:.1f}x"
            + ("  (target >= 20x)" if tool == "s3cmd" else "")
            + f"   warm vs loopback {r['warm_vs_loopback']:.2f}x"
            + ("  (target >= 1.0x: warm no slower)" if tool == "rclone" else "")
        )
        if r["objects"] != settings.objects:
            ext = r["extrapolated_seconds_at_n"]
            lines.append(
                f"  extrapolated to N={settings.objects}: "
                + ", ".join(f"{s} {ext[s]:.0f} s" for s in STAGES)
            )
    hot = results["hot"]
    lines += [
        "",
        f"2. 4 KiB warm GETs, {settings.hot_concurrency} connections, {settings.hot_duration:g} s,"
        " presigned SigV4 URLs",
    ]
    head2 = f"{'':<44}" + _cells(["loopback", "pcache-warm", "ratio"])
    lines += [head2, "-" * len(head2)]
    for metric in ("req_s", "p50_ms", "p99_ms", "errors", "far_requests"):
        d, p = hot["loopback"][metric], hot["pcache-warm"][metric]
        ratio = f"{p / d:.2f}" if d else "-"
        name = _NAMES.get(metric, metric)
        lines.append(f"  {name:<42}" + _cells([f"{d:.1f}", f"{p:.1f}", ratio]))
    big = results["big"]
    lines += ["", f"3. {big['size'] // MIB} MiB single-stream GET", head, rule]
    for metric, fmt in (("mb_s", "{:.1f}"), ("seconds", "{:.2f}"), ("far_requests", "{}")):
        cells = [fmt.format(big[s][metric]) for s in STAGES]
        lines.append(f"  {_NAMES.get(metric, metric):<42}" + _cells(cells))
    warm = [
        f"{t} {r['stages']['pcache-warm']['far_requests']}" for t, r in results["small"].items()
    ]
    warm += [f"4KiB {hot['pcache-warm']['far_requests']:.0f}"]
    warm += [f"{big['size'] // MIB}MiB {big['pcache-warm']['far_requests']}"]
    lines += ["", "far-vendor requests during warm runs (listings only): " + ", ".join(warm)]
    rss = results["rss_mib"]
    lines += [
        f"4. gateway RSS: start {rss['start']:.0f} MiB, max {rss['max']:.0f} MiB,"
        f" end {rss['end']:.0f} MiB (per process; {rss.get('workers', 1)} worker(s),"
        f" all together max {rss.get('total_max', rss['max']):.0f} MiB)",
    ]
    return "\n".join(lines)


def write_json(payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"cache_bench-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def parse_settings(argv: list[str] | None) -> tuple[Settings, Path | None]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (under ~3 minutes)")
    parser.add_argument("--objects", type=int, help="small objects for rclone (and s3cmd)")
    parser.add_argument(
        "--s3cmd-objects", type=int, help="small objects for s3cmd (0: same as --objects)"
    )
    parser.add_argument("--latency-ms", type=float, help="added latency each way (default 50)")
    parser.add_argument("--big-mib", type=int, help="big object size in MiB")
    parser.add_argument("--workers", type=int, help="gateway worker processes (default 1)")
    parser.add_argument(
        "--tier-dir", type=Path, help="parent dir for the cache tier (default /dev/shm)"
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.objects is not None:
        changes["objects"] = args.objects
    if args.s3cmd_objects is not None:
        changes["s3cmd_objects"] = args.s3cmd_objects
    if args.latency_ms is not None:
        changes["latency_ms"] = args.latency_ms
    if args.big_mib is not None:
        changes["big_size"] = args.big_mib * MIB
    if args.workers is not None:
        changes["workers"] = args.workers
    settings = Settings(**{**asdict(base), **changes})
    if not settings.s3cmd_objects or settings.s3cmd_objects > settings.objects:
        settings = Settings(**{**asdict(settings), "s3cmd_objects": settings.objects})
    return settings, args.tier_dir or _scratch_root()


def main(argv: list[str] | None = None) -> None:
    settings, tier_parent = parse_settings(argv)
    # Ctrl-C and kill both unwind the context managers: every process stopped, temp dirs gone
    # (SIGINT explicitly, as a shell's background job would otherwise inherit it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with environment(settings, tier_parent) as rig:
        assert rig.gateway.proc is not None
        print(
            f"  far vendor: SeaweedFS behind +{settings.latency_ms:g}/+{settings.latency_ms:g} ms;"
            f" cache tier under {tier_parent or tempfile.gettempdir()}",
            flush=True,
        )
        with RssSampler(rig.gateway.proc.pid) as rss:
            try:
                results["small"] = small_objects(rig, settings)
                results["hot"] = warm_hits(rig, settings)
                results["big"] = big_object(rig, settings)
            except Exception:
                print("  gateway log tail:\n" + rig.gateway.log_text()[-1500:], flush=True)
                raise
            end_kib = rss.max_kib
            with contextlib.suppress(OSError):
                end_kib = rss_kib(rig.gateway.proc.pid)
        results["rss_mib"] = {
            "start": rss.start_kib / KIB,
            "max": rss.max_kib / KIB,
            "end": end_kib / KIB,
            "total_max": rss.max_total_kib / KIB,
            "workers": settings.workers,
        }
    results["wall_seconds"] = time.perf_counter() - started
    print()
    print(table(settings, results))
    print(f"\n  wall time {results['wall_seconds']:.0f} s")
    notes = {
        "far": "far-direct and pcache-* cross the latency proxy; loopback is SeaweedFS directly",
        "client_4kib": "aiohttp on boto3-presigned SigV4 query URLs (verified per request)",
        "client_big": "aiohttp, one stream, sha256 of the body checked",
        "tier_parent": str(tier_parent or tempfile.gettempdir()),
        "cpus": os.cpu_count(),
    }
    path = write_json({"settings": asdict(settings), "notes": notes, "results": results})
    print(f"JSON: {path}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\n  interrupted: processes stopped, temp dirs removed", file=sys.stderr)
        sys.exit(130)
