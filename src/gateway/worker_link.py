"""How the worker processes of one host reach each other: a small HTTP app per worker on a Unix
socket, `<data_dir>/run/w<i>.sock`.

The run directory is created mode 0700 by the supervisor, so only the gateway's own user reaches
the sockets: no credentials on this path. What travels over it:

- `POST /adopt` — a block this worker fetched for the owner (`cache.shard`): the owner renames
  the file into place under its own capacity accounting;
- `POST /invalidate` — drop a block the caller does not own (a purge);
- `POST /touch` — blocks the caller served from the owner's files, in batches every
  `TOUCH_FLUSH` seconds, so eviction order and promotion see every worker's hits;
- `POST /fill` — a block the caller needs and the owner does not have: the owner fetches it
  (single-flight with its own readers, so a host reads a block from the vendor once), caches it
  and answers its bytes; a vendor error comes back as 409 with its code and status;
- `GET /metrics`, `GET /cache-stats` — this worker's own numbers, which the worker answering a
  scrape or an admin status call adds up (`gateway.metrics_merge`).

A sibling that is down (restarting) costs only what it would have cached: an adoption that fails
leaves the block uncached, a lost touch batch a little eviction accuracy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from cache.blocks import BlockId
from cache.shard import Shard
from cache.store import TieredStore
from gateway.buffers import read_exactly
from router.errors import UpstreamError, VendorUnavailable

__all__ = ["LINK", "TOUCH_FLUSH", "Filler", "WorkerLink", "socket_path"]

#: (pbucket, key, object metadata document, block index, block size) -> the block's bytes
Filler = Callable[[str, str, dict[str, Any], int, int], Awaitable[bytes]]

log = logging.getLogger("pcache.workers")

TOUCH_FLUSH = 0.5
_TIMEOUT = aiohttp.ClientTimeout(total=10)
#: a fill waits for a vendor read: the owner's own vendor timeouts bound it, this is a backstop
_FILL_TIMEOUT = aiohttp.ClientTimeout(total=300)
_TOUCH_BATCH = 4096


def socket_path(run_dir: Path, index: int) -> Path:
    return run_dir / f"w{index}.sock"


class WorkerLink:
    """This worker's end: serves its siblings and implements `cache.shard.Peers` toward them."""

    def __init__(self, shard: Shard, run_dir: Path, own_metrics: Callable[[], bytes]) -> None:
        self.shard = shard
        self.run_dir = run_dir
        self._own_metrics = own_metrics
        self.store: TieredStore | None = None
        self.filler: Filler | None = None
        self._sessions: dict[int, aiohttp.ClientSession] = {}
        self._touched: defaultdict[int, set[str]] = defaultdict(set)
        self._runner: web.AppRunner | None = None
        self._flusher: asyncio.Task[None] | None = None

    @property
    def siblings(self) -> list[int]:
        return [i for i in range(self.shard.count) if i != self.shard.index]

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/adopt", self._serve_adopt)
        app.router.add_post("/invalidate", self._serve_invalidate)
        app.router.add_post("/touch", self._serve_touch)
        app.router.add_post("/fill", self._serve_fill)
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/cache-stats", self._serve_cache_stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        path = socket_path(self.run_dir, self.shard.index)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by this worker's previous life
        await web.UnixSite(self._runner, str(path)).start()
        self._flusher = asyncio.create_task(self._flush_touches())

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            socket_path(self.run_dir, self.shard.index).unlink()

    # -- cache.shard.Peers -----------------------------------------------------------------------
    async def adopt(self, owner: int, block_id: BlockId, tier: int, path: Path, size: int) -> bool:
        body = {"block": block_id.hex, "tier": tier, "path": str(path), "size": size}
        answer = await self._call(owner, "POST", "/adopt", body)
        return bool(answer and answer.get("stored"))

    async def invalidate(self, owner: int, block_id: BlockId) -> bool:
        answer = await self._call(owner, "POST", "/invalidate", {"block": block_id.hex})
        return bool(answer and answer.get("removed"))

    def touched(self, owner: int, block_id: BlockId) -> None:
        pending = self._touched[owner]
        if len(pending) < _TOUCH_BATCH:
            pending.add(block_id.hex)

    async def fill(
        self, owner: int, pbucket: str, key: str, info: dict[str, Any], index: int, size: int
    ) -> bytes | None:
        """The block from its owner, who fetched or had it; None if the owner cannot be asked
        (the caller fetches it itself). A vendor error the owner met is raised here too."""
        body = {"pbucket": pbucket, "key": key, "info": info, "index": index, "block_size": size}
        try:
            async with self._session(owner).post(
                "http://worker/fill", json=body, timeout=_FILL_TIMEOUT
            ) as resp:
                if resp.status == 200:
                    if resp.content_length is None:
                        return await resp.read()
                    return await read_exactly(resp.content.iter_any(), resp.content_length)
                if resp.status == 409:
                    error = await resp.json()
                    if error.get("kind") == "unavailable":
                        raise VendorUnavailable(str(error.get("message", "")))
                    raise UpstreamError(str(error["code"]), int(error["status"]))
                return None
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError, KeyError) as err:
            log.debug("worker %d fill: %s", owner, err)
            return None

    # -- across workers --------------------------------------------------------------------------
    async def sibling_metrics(self) -> list[str]:
        """Every sibling's own exposition text (a sibling that does not answer is left out)."""
        texts = await asyncio.gather(*(self._text(i, "/metrics") for i in self.siblings))
        return [t for t in texts if t is not None]

    async def sibling_cache_stats(self) -> list[list[dict[str, Any]]]:
        answers = await asyncio.gather(
            *(self._call(i, "GET", "/cache-stats", None) for i in self.siblings)
        )
        return [a["tiers"] for a in answers if a is not None]

    # -- client side -----------------------------------------------------------------------------
    def _session(self, index: int) -> aiohttp.ClientSession:
        session = self._sessions.get(index)
        if session is None or session.closed:
            connector = aiohttp.UnixConnector(path=str(socket_path(self.run_dir, index)))
            session = aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)
            self._sessions[index] = session
        return session

    async def _call(
        self, index: int, method: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        try:
            async with self._session(index).request(
                method, f"http://worker{path}", json=body
            ) as resp:
                if resp.status != 200:
                    return None
                answer: dict[str, Any] = await resp.json()
                return answer
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as err:
            log.debug("worker %d %s %s: %s", index, method, path, err)
            return None

    async def _text(self, index: int, path: str) -> str | None:
        try:
            async with self._session(index).get(f"http://worker{path}") as resp:
                return await resp.text() if resp.status == 200 else None
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            log.debug("worker %d GET %s: %s", index, path, err)
            return None

    async def _flush_touches(self) -> None:
        while True:
            await asyncio.sleep(TOUCH_FLUSH)
            for owner in list(self._touched):
                batch = self._touched.pop(owner)
                if batch:
                    await self._call(owner, "POST", "/touch", {"blocks": sorted(batch)})

    # -- server side -----------------------------------------------------------------------------
    def _own_store(self) -> TieredStore:
        if self.store is None:
            raise web.HTTPConflict(text="cache off")
        return self.store

    async def _serve_adopt(self, request: web.Request) -> web.Response:
        body = await _json(request)
        store = self._own_store()
        try:
            block_id = BlockId(str(body["block"]))
            tier, size = int(body["tier"]), int(body["size"])
            path = Path(str(body["path"]))
        except (KeyError, TypeError, ValueError) as err:
            raise web.HTTPBadRequest(text=f"bad adopt request: {err}") from None
        return web.json_response({"stored": await store.adopt(block_id, tier, path, size)})

    async def _serve_invalidate(self, request: web.Request) -> web.Response:
        body = await _json(request)
        try:
            block_id = BlockId(str(body["block"]))
        except (KeyError, ValueError) as err:
            raise web.HTTPBadRequest(text=f"bad block: {err}") from None
        store = self._own_store()
        removed = store.shard.owns(block_id) and await store.invalidate(block_id)
        return web.json_response({"removed": removed})

    async def _serve_touch(self, request: web.Request) -> web.Response:
        body = await _json(request)
        blocks = body.get("blocks")
        if not isinstance(blocks, list):
            raise web.HTTPBadRequest(text="blocks must be a list")
        try:
            ids = [BlockId(str(b)) for b in blocks[:_TOUCH_BATCH]]
        except ValueError as err:
            raise web.HTTPBadRequest(text=f"bad block: {err}") from None
        self._own_store().touch(ids)
        return web.json_response({})

    async def _serve_fill(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if self.filler is None:
            raise web.HTTPConflict(text="cache off")
        try:
            pbucket, key = str(body["pbucket"]), str(body["key"])
            info, index, size = body["info"], int(body["index"]), int(body["block_size"])
            if not isinstance(info, dict):
                raise TypeError("info must be an object")
        except (KeyError, TypeError, ValueError) as err:
            raise web.HTTPBadRequest(text=f"bad fill request: {err}") from None
        try:
            data = await self.filler(pbucket, key, info, index, size)
        except UpstreamError as err:
            return web.json_response(
                {"kind": "upstream", "code": err.code, "status": err.status}, status=409
            )
        except VendorUnavailable as err:
            return web.json_response({"kind": "unavailable", "message": str(err)}, status=409)
        except Exception as err:
            log.warning("fill for a sibling failed: %s: %s", type(err).__name__, err)
            raise web.HTTPInternalServerError(text="fill failed") from None
        return web.Response(body=data, content_type="application/octet-stream")

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self._own_metrics(), content_type="text/plain")

    async def _serve_cache_stats(self, request: web.Request) -> web.Response:
        stats = self.store.stats() if self.store is not None else ()
        return web.json_response({"tiers": [dataclasses.asdict(s) for s in stats]})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="not a JSON object")
    return body


LINK = web.AppKey("pcache_worker_link", WorkerLink)
