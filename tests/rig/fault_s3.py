"""A fault injector that speaks just enough HTTP to fail like an S3 vendor: every request gets
the next scripted error (status + S3 error XML), or a redirect, and is counted. It never serves
an object, so no test can mistake it for a working S3; success paths use the real SeaweedFS.

Runs its own event loop in a thread, like FaultProxy, so sync tests can use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from tests.rig.ports import HOST

__all__ = ["Fault", "FaultyS3"]


@dataclass(frozen=True)
class Fault:
    status: int
    code: str = ""
    location: str | None = None  # for 3xx

    def body(self) -> bytes:
        if not self.code:
            return b""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>injected</Message></Error>"
        ).encode()


INTERNAL_ERROR = Fault(500, "InternalError")


class FaultyS3:
    def __init__(self, script: Iterable[Fault] = (), default: Fault = INTERNAL_ERROR) -> None:
        self.script = list(script)
        self.default = default
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests.append((request.method, request.path))
        fault = self.script.pop(0) if self.script else self.default
        headers = {"Content-Type": "application/xml", "x-amz-request-id": "FAULT"}
        if fault.location:
            headers["Location"] = fault.location
        body = b"" if request.method == "HEAD" else fault.body()
        return web.Response(status=fault.status, body=body, headers=headers)

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        server = site._server  # the bound port of an ephemeral listener
        assert isinstance(server, asyncio.Server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def start(self) -> FaultyS3:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> FaultyS3:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
