"""S3 throughput and latency, direct to SeaweedFS vs through a PCache gateway, side by side.

Run from the repository root (it starts SeaweedFS, Redis and a PCache gateway itself):

    .venv/bin/python -m bench.s3_bench            # ~10 s per small/1 MiB workload
    .venv/bin/python -m bench.s3_bench --quick    # ~1 minute in all

Workloads (each against both targets, same run): GET/PUT of 4 KiB objects and of 1 MiB objects
(N concurrent aiohttp clients on presigned URLs, fixed duration), 256 MiB single-stream PUT
(generated body) and GET (streamed to nowhere); plus gateway RSS and the SigV4 verification cost.
Prints one table (direct | pcache | ratio) and writes the same as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from tests.integration.conftest import gateway_config
from tests.rig.gateway import GatewayProcess
from tests.rig.redis import RedisServer
from tests.rig.seaweed import SeaweedServer

from bench.sigv4_micro import chunk_verify_us, header_verify_us, presigned_verify_us

KIB = 1024
MIB = 1024 * KIB
RESULTS_DIR = Path(__file__).parent / "results"
PRESIGN_TTL = 3600


@dataclass(frozen=True)
class Settings:
    duration: float
    small_concurrency: int
    large_concurrency: int
    huge_size: int
    key_pool: int
    micro_iterations: int


QUICK = Settings(3.0, 16, 4, 256 * MIB, 64, 2000)
FULL = Settings(10.0, 16, 4, 256 * MIB, 512, 20000)


@dataclass
class Target:
    """One S3 endpoint: a boto3 client for presigning, and a bucket on it."""

    name: str
    client: Any
    bucket: str

    def url(self, method: str, key: str) -> str:
        op = "put_object" if method == "PUT" else "get_object"
        return str(
            self.client.generate_presigned_url(
                op, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGN_TTL
            )
        )


@dataclass
class Run:
    """Outcome of one load phase."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    bytes_moved: int

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies_ms) or [float("nan")]
        return {
            "req_s": self.requests / self.seconds,
            "mb_s": self.bytes_moved / MIB / self.seconds,
            "p50_ms": _percentile(lat, 50),
            "p99_ms": _percentile(lat, 99),
            "errors": float(self.errors),
        }


def _percentile(sorted_values: list[float], pct: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(pct) - 1]


# --- gateway RSS ---------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (a supervisor's worker processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


class RssSampler:
    """Samples VmRSS every `interval` seconds on a daemon thread: the largest of the process
    and its children (`max_kib`: each worker process of a supervisor counts on its own), and
    their largest sum (`max_total_kib`)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.start_kib = rss_kib(pid)
        self.max_kib = self.start_kib
        self.max_total_kib = self.start_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        children: list[int] = []
        rounds = 0
        while not self._stop.wait(self.interval):
            if rounds % 20 == 0:  # workers restart rarely: list them every 2 s
                children = child_pids(self.pid)
            rounds += 1
            sizes = []
            for pid in (self.pid, *children):
                with contextlib.suppress(OSError):
                    sizes.append(rss_kib(pid))
            if sizes:
                self.max_kib = max(self.max_kib, *sizes)
                self.max_total_kib = max(self.max_total_kib, sum(sizes))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# --- load generation -----------------------------------------------------------------------------


async def _one(
    session: aiohttp.ClientSession, method: str, url: str, body: bytes | None
) -> tuple[float, int, str | None]:
    """One request; returns (latency ms, payload bytes moved, error description or None)."""
    start = time.perf_counter()
    moved = 0
    async with session.request(method, url, data=body) as resp:
        if resp.status != 200:
            text = (await resp.read())[:200].decode(errors="replace")
            return (time.perf_counter() - start) * 1000, 0, f"{resp.status} {text}"
        async for chunk in resp.content.iter_chunked(256 * KIB):
            moved += len(chunk)
    if method == "PUT" and body is not None:
        moved = len(body)
    return (time.perf_counter() - start) * 1000, moved, None


async def closed_loop(
    urls: list[str], method: str, body: bytes | None, concurrency: int, duration: float
) -> Run:
    """`concurrency` workers cycling through `urls` back to back until `duration` elapses."""
    cycle = itertools.cycle(urls)
    latencies: list[float] = []
    counters = {"errors": 0, "bytes": 0}
    first_error: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                try:
                    ms, moved, error = await _one(session, method, next(cycle), body)
                except aiohttp.ClientError as exc:
                    ms, moved, error = 0.0, 0, repr(exc)
                if error is not None:
                    counters["errors"] += 1
                    first_error.append(error)
                    continue
                latencies.append(ms)
                counters["bytes"] += moved

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if first_error:
        print(f"  ! {len(first_error)} errors, first: {first_error[0]}", flush=True)
    return Run(len(latencies), counters["errors"], elapsed, latencies, counters["bytes"])


async def each_once(urls: list[str], method: str, body: bytes | None, concurrency: int) -> None:
    """Every URL exactly once (untimed): seeds the keys a GET phase will read."""
    queue = list(urls)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while queue:
                _, _, error = await _one(session, method, queue.pop(), body)
                if error is not None:
                    raise RuntimeError(f"seeding {method} failed: {error}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _generated(size: int, piece: int = MIB) -> AsyncIterator[bytes]:
    block = bytes(range(256)) * (piece // 256)
    sent = 0
    while sent < size:
        n = min(piece, size - sent)
        yield block[:n]
        sent += n


async def stream_put(url: str, size: int) -> Run:
    """A single PUT of `size` generated bytes, never held in memory at once."""
    headers = {"Content-Length": str(size)}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        start = time.perf_counter()
        async with session.put(url, data=_generated(size), headers=headers) as resp:
            await resp.read()
            ok = resp.status == 200
        elapsed = time.perf_counter() - start
    return Run(1, 0 if ok else 1, elapsed, [elapsed * 1000], size if ok else 0)


async def stream_get(url: str) -> Run:
    """A single GET whose body is read in 1 MiB pieces and dropped."""
    timeout = aiohttp.ClientTimeout(total=600)
    moved = 0
    async with aiohttp.ClientSession(timeout=timeout) as session:
        start = time.perf_counter()
        async with session.get(url) as resp:
            async for chunk in resp.content.iter_chunked(MIB):
                moved += len(chunk)
            ok = resp.status == 200
        elapsed = time.perf_counter() - start
    return Run(1, 0 if ok else 1, elapsed, [elapsed * 1000], moved)


# --- workloads -----------------------------------------------------------------------------------


@dataclass
class Results:
    rows: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def add(self, workload: str, target: str, values: dict[str, float]) -> None:
        self.rows.setdefault(workload, {})[target] = values


def sized_workloads(targets: list[Target], settings: Settings, results: Results) -> None:
    for label, size, conc in (
        ("4KiB", 4 * KIB, settings.small_concurrency),
        ("1MiB", MIB, settings.large_concurrency),
    ):
        body = bytes(size)
        keys = [f"{label}/obj-{i:05d}" for i in range(settings.key_pool)]
        for method in ("PUT", "GET"):
            for target in targets:
                urls = [target.url(method, k) for k in keys]
                if method == "GET":  # every key exists, and has been read once
                    puts = [target.url("PUT", k) for k in keys]
                    asyncio.run(each_once(puts, "PUT", body, conc))
                    asyncio.run(each_once(urls, "GET", None, conc))
                run = asyncio.run(
                    closed_loop(
                        urls, method, body if method == "PUT" else None, conc, settings.duration
                    )
                )
                results.add(f"{label} {method} c={conc}", target.name, run.summary())
                _progress(f"{label} {method}", target.name, run)


def huge_workloads(targets: list[Target], settings: Settings, results: Results) -> None:
    size = settings.huge_size
    label = f"{size // MIB}MiB"
    for target in targets:
        key = f"{label}/stream"
        run = asyncio.run(stream_put(target.url("PUT", key), size))
        results.add(f"{label} PUT x1", target.name, run.summary())
        _progress(f"{label} PUT", target.name, run)
        for attempt in (1, 2):
            run = asyncio.run(stream_get(target.url("GET", key)))
            results.add(f"{label} GET x1 #{attempt}", target.name, run.summary())
            _progress(f"{label} GET #{attempt}", target.name, run)


def _progress(workload: str, target: str, run: Run) -> None:
    s = run.summary()
    print(
        f"  {workload:<14} {target:<7} {s['req_s']:9.1f} req/s {s['mb_s']:8.1f} MB/s "
        f"p50 {s['p50_ms']:8.2f} ms p99 {s['p99_ms']:8.2f} ms errors {run.errors}",
        flush=True,
    )


# --- environment ---------------------------------------------------------------------------------


@contextlib.contextmanager
def environment(workdir: Path) -> Iterator[tuple[list[Target], GatewayProcess]]:
    """SeaweedFS + Redis + PCache, a bucket on each target."""
    with SeaweedServer() as seaweed, RedisServer() as redis:
        config = gateway_config(seaweed, redis.url, workdir)
        with GatewayProcess(workdir, config=config) as gateway:
            # Both rig clients sign SigV4 (Config(signature_version="s3v4")), path-style.
            direct = Target("direct", seaweed.client(), "bench-direct")
            pcache = Target("pcache", gateway.client(), "bench-pcache")
            for target in (direct, pcache):
                target.client.create_bucket(Bucket=target.bucket)
            yield [direct, pcache], gateway


# --- report --------------------------------------------------------------------------------------

_METRICS = {"4KiB": ("req_s", "p50_ms", "p99_ms"), "default": ("mb_s", "p50_ms", "p99_ms")}


def table(results: Results, extras: dict[str, tuple[float | None, float | None]]) -> str:
    lines = [f"{'workload':<32} {'direct':>12} {'pcache':>12} {'ratio':>8}"]
    lines.append("-" * len(lines[0]))
    for workload, by_target in results.rows.items():
        metrics = _METRICS["4KiB"] if workload.startswith("4KiB") else _METRICS["default"]
        for metric in metrics:
            d = by_target.get("direct", {}).get(metric, float("nan"))
            p = by_target.get("pcache", {}).get(metric, float("nan"))
            lines.append(_row(f"{workload} {metric}", d, p))
    for name, (d, p) in extras.items():
        lines.append(_row(name, d, p))
    return "\n".join(lines)


def _row(name: str, direct: float | None, pcache: float | None) -> str:
    def cell(v: float | None) -> str:
        return f"{v:12.2f}" if v is not None else f"{'-':>12}"

    ratio = f"{pcache / direct:8.2f}" if direct and pcache is not None else f"{'-':>8}"
    return f"{name:<32} {cell(direct)} {cell(pcache)} {ratio}"


def write_json(payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"s3_bench-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~1 minute)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    results = Results()
    with (
        tempfile.TemporaryDirectory(prefix="pcache-bench-") as tmp,
        environment(Path(tmp)) as (targets, gateway),
    ):
        assert gateway.proc is not None
        with RssSampler(gateway.proc.pid) as rss:
            sized_workloads(targets, settings, results)
            huge_workloads(targets, settings, results)
        if any(r.get("errors") for rows in results.rows.values() for r in rows.values()):
            print("  gateway log tail:\n" + gateway.log_text()[-1500:], flush=True)
    print("  sigv4 microbenchmarks...", flush=True)
    extras: dict[str, tuple[float | None, float | None]] = {
        "gateway RSS at start (MiB)": (None, rss.start_kib / KIB),
        "gateway RSS max (MiB)": (None, rss.max_kib / KIB),
        "sigv4 view+parse+verify GET (us/op)": (None, header_verify_us(settings.micro_iterations)),
        "sigv4 view+parse+verify presigned GET (us/op)": (
            None,
            presigned_verify_us(settings.micro_iterations),
        ),
        "sigv4 64KiB chunk verify (us)": (None, chunk_verify_us(settings.micro_iterations // 4)),
    }
    print()
    print(table(results, extras))
    path = write_json(
        {
            "settings": vars(settings),
            "workloads": results.rows,
            "gateway": {k: v[1] for k, v in extras.items()},
        }
    )
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
