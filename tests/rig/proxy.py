"""A TCP fault proxy for tests: latency, a bandwidth cap, resets and hangs between a client and a
server, with counters (connections, bytes, HTTP requests) that prove what reached the server.

It runs its own event loop in a thread so sync and async tests alike can use it. Settings are
plain attributes read per connection (mode) or per chunk (latency, bandwidth).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from types import TracebackType
from typing import Literal

from tests.rig.httpcount import RequestCounter
from tests.rig.ports import HOST

__all__ = ["FaultProxy"]

Mode = Literal["pass", "reset", "hang"]
_CHUNK = 64 * 1024
_QUEUE_CHUNKS = 32  # backpressure: at most ~2 MiB in flight per direction


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.latency_up_ms = 0.0  # client -> server
        self.latency_down_ms = 0.0  # server -> client
        self.bandwidth: int | None = None  # bytes/s per connection and direction
        self.port = 0
        self.reset_counters()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def reset_counters(self) -> None:
        self.connections = self.requests = self.bytes_up = self.bytes_down = 0
        self.gets = 0

    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, HOST, 0)

    def drop_connections(self) -> None:
        """Reset every open connection (a vendor dying mid-transfer); returns once done."""
        asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop).result(10)

    async def _drop_all(self) -> None:
        for writer in list(self._writers):
            _reset(writer)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop_all()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        _, pending = await asyncio.wait(tasks, timeout=2) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Swallow cancellation at stop(): asyncio 3.11's stream callback logs cancelled handlers.
        with contextlib.suppress(asyncio.CancelledError):
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "reset":
            _reset(writer)
            return
        self._writers.add(writer)
        try:
            if self.mode == "hang":
                while await reader.read(_CHUNK):  # swallow everything, answer nothing
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(
                self._pipe(reader, up_writer, upstream=True),
                self._pipe(up_reader, writer, upstream=False),
                return_exceptions=True,
            )
            self._writers.discard(up_writer)
            up_writer.close()
        except OSError:
            _reset(writer)
        finally:
            self._writers.discard(writer)
            writer.close()

    def _account(self, data: bytes, counter: RequestCounter | None) -> None:
        if counter is None:
            self.bytes_down += len(data)
            return
        self.bytes_up += len(data)
        before, before_gets = counter.requests, counter.gets
        counter.feed(data)
        self.requests += counter.requests - before
        self.gets += counter.gets - before_gets

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        """Forward one direction; a reader task stamps chunks so latency delays, not throttles."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(_QUEUE_CHUNKS)

        async def pump() -> None:
            counter = RequestCounter() if upstream else None
            end: bytes | None = b""
            try:
                while data := await reader.read(_CHUNK):
                    self._account(data, counter)
                    await queue.put((loop.time() + self._delay(upstream=upstream), data))
            except OSError:
                end = None  # the source was reset: reset the sink too
            await queue.put((loop.time() + self._delay(upstream=upstream), end))

        pump_task = asyncio.create_task(pump())
        try:
            while True:
                due, data = await queue.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)  # injected latency: the fault this proxy exists for
                if data is None:
                    _reset(writer)
                    return
                if not data:
                    break
                writer.write(data)
                await writer.drain()
                if self.bandwidth:
                    await asyncio.sleep(len(data) / self.bandwidth)  # injected bandwidth cap
            if writer.can_write_eof():
                writer.write_eof()
        finally:
            pump_task.cancel()

    def _delay(self, *, upstream: bool) -> float:
        return (self.latency_up_ms if upstream else self.latency_down_ms) / 1000.0

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0 so the peer sees a TCP RST, not a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
