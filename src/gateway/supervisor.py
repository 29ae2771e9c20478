"""`[node] workers = N` (N > 1): this process starts N worker processes and keeps them running.

Each worker is `python -m gateway <the same arguments>` with `PCACHE_WORKER=i/N` in its
environment: a complete node that binds the listen ports with SO_REUSEPORT (the kernel spreads
connections over the workers) and owns shard i of the cache tiers (`cache.shard`). What must
happen once per host happens here, before any worker starts: the embedded Redis (its URL goes to
the workers in `PCACHE_WORKER_REDIS_URL`), the master key file, the root credentials, and the
run directory (mode 0700) that holds the workers' Unix sockets (`gateway.worker_link`).

A worker that exits on its own is started again, after 0.5 s doubling to 10 s while it keeps
failing within a minute. SIGTERM / SIGINT are passed to every worker; a worker that has not
exited `shutdown_timeout` + 5 s later is killed. A worker is also sent SIGTERM by the kernel if
the supervisor dies (PR_SET_PDEATHSIG), so none outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from gateway.config import Config

__all__ = [
    "WORKER_ENV",
    "WORKER_REDIS_ENV",
    "die_with_supervisor",
    "parse_worker",
    "run_dir",
    "supervise",
]

log = logging.getLogger("pcache.workers")

WORKER_ENV = "PCACHE_WORKER"
WORKER_REDIS_ENV = "PCACHE_WORKER_REDIS_URL"
SUPERVISOR_ENV = "PCACHE_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 10.0
_HEALTHY_AFTER = 60.0

#: prepares what is shared (Redis, keys); returns the Redis URL and an async cleanup
Prepare = Callable[[Config], Awaitable[tuple[str, Callable[[], Awaitable[None]]]]]


def parse_worker(value: str | None) -> tuple[int, int] | None:
    """`i/N` from the environment, or None for a process that is not a worker."""
    if not value:
        return None
    index, _, count = value.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise ValueError(f"{WORKER_ENV} must be i/N, got {value!r}") from None
    if not 0 <= shard[0] < shard[1]:
        raise ValueError(f"{WORKER_ENV} must be i/N with 0 <= i < N, got {value!r}")
    return shard


def die_with_supervisor() -> None:
    """In a worker: be sent SIGTERM when the supervisor dies, even by SIGKILL (Linux), so no
    worker outlives it holding the port; exit now if it is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    expected = os.environ.get(SUPERVISOR_ENV)
    if expected and os.getppid() != int(expected):
        raise SystemExit("the supervisor is gone")


def run_dir(cfg: Config) -> Path:
    return cfg.data_dir / "run"


class _Worker:
    def __init__(self, index: int, count: int, argv: Sequence[str], env: dict[str, str]) -> None:
        self.index = index
        self.argv = [sys.executable, "-m", "gateway", *argv]
        self.env = {**env, WORKER_ENV: f"{index}/{count}"}
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.backoff = _FIRST_BACKOFF

    async def start(self) -> None:
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(*self.argv, env=self.env)
        log.info("worker %d started (pid %d)", self.index, self.proc.pid)

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    def next_delay(self) -> float:
        if time.monotonic() - self.started > _HEALTHY_AFTER:
            self.backoff = _FIRST_BACKOFF
        delay, self.backoff = self.backoff, min(self.backoff * 2, _MAX_BACKOFF)
        return delay


async def supervise(cfg: Config, argv: Sequence[str], prepare: Prepare) -> None:
    if cfg.listen.rsplit(":", 1)[1] == "0" or (
        cfg.https_listen and cfg.https_listen.rsplit(":", 1)[1] == "0"
    ):
        raise SystemExit("node.workers > 1 needs fixed listen ports (not 0)")
    directory = run_dir(cfg)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # the workers' sockets: this user only
    url, cleanup = await prepare(cfg)
    env = {**os.environ, WORKER_REDIS_ENV: url, SUPERVISOR_ENV: str(os.getpid())}
    workers = [_Worker(i, cfg.workers, argv, env) for i in range(cfg.workers)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for worker in workers:
            await worker.start()
        keepers = [asyncio.create_task(_keep(worker, stop)) for worker in workers]
        await stop.wait()
        await _stop_all(workers, cfg.shutdown_timeout + 5.0)
        for keeper in keepers:
            keeper.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)
    finally:
        await _stop_all(workers, 5.0)
        await cleanup()


async def _keep(worker: _Worker, stop: asyncio.Event) -> None:
    """Restart the worker whenever it exits while the host is not stopping."""
    while not stop.is_set():
        code = await worker.wait()
        if stop.is_set():
            return
        delay = worker.next_delay()
        log.warning("worker %d exited (%d); starting it again in %.1f s", worker.index, code, delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if not stop.is_set():
            await worker.start()


async def _stop_all(workers: Sequence[_Worker], grace: float) -> None:
    running = [w.proc for w in workers if w.proc is not None and w.proc.returncode is None]
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    if not running:
        return
    _, late = await asyncio.wait([asyncio.ensure_future(p.wait()) for p in running], timeout=grace)
    if late:
        for proc in running:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await asyncio.gather(*(p.wait() for p in running))
