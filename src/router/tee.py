"""Stream one upload body to several vendors at once, reading it from the client exactly once.

A pump task reads the source and hands each chunk to one bounded queue per target, so memory
stays at `depth` chunks per target whatever the body size. The slowest live target sets the
pace (the pump waits for room in its queue); a target whose queue stays full for `stall`
seconds is dropped (the `on_stall` callback is told, and cancels that target's upload) so a
hung vendor cannot hold the others hostage. A target that stops reading (its upload failed)
is skipped from then on. If the source itself fails (a bad signature, a short body), every
reader raises that same error and `error` keeps it, so the caller reports the client's
fault, not a vendor's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

__all__ = ["Tee"]

_END = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Tee:
    def __init__(
        self,
        source: AsyncIterator[bytes],
        readers: int,
        *,
        depth: int = 8,
        stall: float = 30.0,
    ) -> None:
        self._source = source
        self._queues: list[asyncio.Queue[object]] = [
            asyncio.Queue(maxsize=depth) for _ in range(readers)
        ]
        self._live = [True] * readers
        self._stall = stall
        self._on_stall: Callable[[int], None] | None = None
        self.error: BaseException | None = None
        self._pump: asyncio.Task[None] | None = None

    def on_stall(self, callback: Callable[[int], None]) -> None:
        """`callback(index)` when reader `index` is dropped for taking no bytes in time."""
        self._on_stall = callback

    def reader(self, index: int) -> AsyncIterator[bytes]:
        return self._read(index)

    def start(self) -> asyncio.Task[None]:
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._run())
        return self._pump

    def drop(self, index: int) -> None:
        """Reader `index` is gone (its upload ended): never wait for it again."""
        self._live[index] = False
        queue = self._queues[index]
        # Free a pump blocked on this queue; what is left is garbage.
        while not queue.empty():
            queue.get_nowait()

    async def _read(self, index: int) -> AsyncIterator[bytes]:
        queue = self._queues[index]
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                assert isinstance(item, bytes)
                yield item
        finally:
            self.drop(index)

    async def _run(self) -> None:
        end: object = _END
        try:
            async for chunk in self._source:
                if not any(self._live):
                    return  # nobody left to send to: stop reading the client
                await self._hand_out(chunk)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the client's body failed: every reader fails with it
            self.error = exc
            end = _Failed(exc)
        await self._hand_out(end)

    async def _hand_out(self, item: object) -> None:
        for i, queue in enumerate(self._queues):
            if not self._live[i]:
                continue
            try:
                await asyncio.wait_for(queue.put(item), self._stall)
            except TimeoutError:
                self.drop(i)
                if self._on_stall is not None:
                    self._on_stall(i)

    async def close(self) -> None:
        """Stop the pump (the uploads are over); does not close the source."""
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
