"""Bounded memory for huge objects: one 5 GiB PUT and GET through PCache, gateway RSS sampled.

Run from the repo root: `.venv/bin/python -m bench.big_object [--gib N]`. Starts SeaweedFS,
Redis and a gateway; streams a generated body (never held in memory) through a presigned URL.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from tests.rig.gateway import GatewayProcess
from tests.rig.redis import RedisServer
from tests.rig.seaweed import SeaweedServer

BLOCK = bytes(range(256)) * 4096  # 1 MiB


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, rss_mib(pid), threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_mib(self.pid))

    def stop(self) -> float:
        self._stop.set()
        return self.peak


def _put(url: str, size: int) -> tuple[int, float]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=600)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    started, sent = time.monotonic(), 0
    while sent < size:
        piece = BLOCK[: min(len(BLOCK), size - sent)]
        conn.send(piece)
        sent += len(piece)
    resp = conn.getresponse()
    resp.read()
    return resp.status, time.monotonic() - started


def _get(url: str) -> tuple[int, int, float]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=600)
    conn.request("GET", f"{parts.path}?{parts.query}")
    resp, started, got = conn.getresponse(), time.monotonic(), 0
    while chunk := resp.read(1 << 20):
        got += len(chunk)
    return resp.status, got, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=float, default=5.0)
    size = int(parser.parse_args().gib * 1024**3)
    work = Path(tempfile.mkdtemp(prefix="pcache-big-"))
    with SeaweedServer("AKBIG", "SKBIG") as sw, RedisServer() as redis:
        config = (
            '[node]\nvendor_allowlist = ["127.0.0.0/8"]\n'
            f'[redis]\nurl = "{redis.url}"\n[vendors.sw]\ntype = "s3"\n'
            f'endpoint = "{sw.endpoint}"\naccess_key = "AKBIG"\nsecret_key = "SKBIG"\n'
            'read_timeout = 120\n[buckets]\ndefault_vendor = "sw"\n'
        )
        with GatewayProcess(work, config=config) as gw:
            assert gw.proc is not None
            s3 = gw.client()
            s3.create_bucket(Bucket="big")
            base = rss_mib(gw.proc.pid)
            params = {"Bucket": "big", "Key": "big"}
            sampler = PeakRss(gw.proc.pid)
            status, put_s = _put(s3.generate_presigned_url("put_object", Params=params), size)
            put_peak = sampler.stop()
            sampler = PeakRss(gw.proc.pid)
            gstatus, got, get_s = _get(s3.generate_presigned_url("get_object", Params=params))
            get_peak = sampler.stop()
    put_rate, get_rate = size / put_s / 1e6, size / get_s / 1e6
    print(f"object {size / 1024**3:.2f} GiB   gateway RSS at start {base:.0f} MiB")
    print(f"PUT  status {status}  {put_rate:7.0f} MB/s  RSS growth {put_peak - base:5.1f} MiB")
    print(
        f"GET  status {gstatus}  {get_rate:7.0f} MB/s  RSS growth {get_peak - base:5.1f} MiB"
        f"  bytes ok: {got == size}"
    )


if __name__ == "__main__":
    main()
