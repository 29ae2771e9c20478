"""`[node] workers = 2`: two worker processes behind one port (SO_REUSEPORT) sharing one tier
directory by shard (cache.shard), against SeaweedFS behind the counting fault proxy.

Connections are opened fresh for every GET, so the kernel spreads them over both workers; every
block must be stored exactly once (its owner's), every worker must serve every block (its own
or by path), a killed worker must come back with its blocks, and stopping the node must leave no
worker behind.
"""

from __future__ import annotations

import hashlib
import os
import signal
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cache_faults import admin, scrape
from tests.rig.cachegw import BLOCK, SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

OBJECTS = 16
SIZE = 2 * BLOCK + 1000  # three blocks each


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("workers")
    config = far_config(far, seaweed, redis_server, work / "tier").replace(
        "[node]\n", "[node]\nworkers = 2\n", 1
    )
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        gw.wait_for_workers(2)
        yield gw


@pytest.fixture(scope="module")
def objects(node: GatewayProcess) -> dict[str, bytes]:
    client = node.client()
    bucket = f"wk-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    bodies = {}
    for i in range(OBJECTS):
        body = os.urandom(SIZE)
        client.put_object(Bucket=bucket, Key=f"k{i}", Body=body)
        bodies[
            client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": f"k{i}"}, ExpiresIn=3600
            )
        ] = body
    return bodies


def _get_all(objects: dict[str, bytes]) -> list[str]:
    """GET every object on a new connection; returns the x-pcache-cache labels."""
    labels = []
    for url, body in objects.items():
        with urllib.request.urlopen(url, timeout=10) as resp:
            got = resp.read()
            labels.append(resp.headers["x-pcache-cache"])
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    return labels


def _blocks(gw: GatewayProcess) -> float:
    return sum(v for (name, _), v in scrape(gw).items() if name == "pcache_cache_tier_blocks")


def test_workers__each_block_is_stored_once_by_its_owner_and_both_workers_serve(
    node: GatewayProcess, objects: dict[str, bytes], far: FaultProxy
) -> None:
    _get_all(objects)
    # Blocks fetched by the worker that does not own them are handed over, never doubled.
    until(lambda: _blocks(node) == 3 * OBJECTS, 10, "every block cached once")
    status: Any = admin(node).ok("GET", "/admin/v1/cache")
    assert sum(t["blocks"] for t in status["tiers"]) == 3 * OBJECTS
    far.reset_counters()
    for _ in range(3):
        assert set(_get_all(objects)) == {"hit"}
    assert far.requests == 0
    log = node.log_text()
    for worker in (0, 1):
        assert f"worker={worker} pcache.access" in log and "op=GetObject" in log
    # both workers served hits, so each read the other's block files by path
    hits = [line for line in log.splitlines() if "op=GetObject" in line and "cache=hit" in line]
    assert {line.split("worker=")[1][0] for line in hits} == {"0", "1"}


def test_workers__concurrent_cold_gets_on_both_workers_read_each_block_once_per_host(
    node: GatewayProcess, far: FaultProxy
) -> None:
    """A worker that needs a block another owns asks the owner, whose single-flight joins every
    reader of the host: one vendor GET per block, whichever workers the readers reached."""
    client = node.client()
    bucket = f"wk-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    blocks = 8
    body = os.urandom(blocks * BLOCK)
    client.put_object(Bucket=bucket, Key="hot", Body=body)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "hot"}, ExpiresIn=600
    )
    far.reset_counters()
    far.latency_down_ms = 30  # every reader arrives while the fetches run
    try:
        with ThreadPoolExecutor(24) as pool:
            got = list(pool.map(lambda _: _get_all({url: body}), range(24)))
    finally:
        far.latency_down_ms = 0
    assert len(got) == 24
    assert far.gets == blocks, far.gets
    log = node.log_text()
    served = {line.split("worker=")[1][0] for line in log.splitlines() if "key=hot" in line}
    assert served <= {"0", "1"}


# Last: it stops the node.
def test_workers__a_killed_worker_comes_back_and_a_killed_supervisor_ends_all(
    node: GatewayProcess, objects: dict[str, bytes], far: FaultProxy
) -> None:
    _get_all(objects)
    cached = _blocks(node)
    assert cached >= 3 * OBJECTS
    assert node.proc is not None
    workers = _children(node.proc.pid)
    assert len(workers) == 2
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    node.wait_for_workers(3)  # the killed one started again
    after = _children(node.proc.pid)
    assert len(after) == 2 and victim not in after
    far.mode = "reset"  # the vendor is gone: only the tiers can answer
    try:
        assert set(_get_all(objects)) == {"hit"}
        assert _blocks(node) == cached  # the new worker indexed its share from disk
    finally:
        far.mode = "pass"
    # Even a supervisor killed outright takes its workers with it (none keeps the port).
    os.kill(node.proc.pid, signal.SIGKILL)
    node.proc.wait(10)
    until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in after), 15, "workers gone")
