"""The one place results and errors become HTTP responses.

Nothing is rendered after the response head has left: a failure mid-body closes the connection,
so the client sees a short read, never an error document spliced into object bytes.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gateway.errors import S3Error
from gateway.file_send import FileSlice, read_slice, send_slice
from gateway.results import Empty, Result, Stream, Xml
from gateway.s3xml import Doc

__all__ = ["error_response", "render"]

log = logging.getLogger("pcache.render")

XML_TYPE = "application/xml"
#: bodies up to this size are read whole and sent with the head (see `_stream`)
COALESCE_MAX = 64 * 1024


def _base_headers(request_id: str) -> dict[str, str]:
    return {"x-amz-request-id": request_id, "x-amz-id-2": request_id, "Server": "PCache"}


def error_response(err: S3Error, *, request_id: str, resource: str, head: bool) -> web.Response:
    """S3 error XML (`<Error>`); HEAD and 304 carry no body, as S3 does."""
    headers = _base_headers(request_id)
    headers.update(err.headers)
    if head or err.status == 304:
        return web.Response(status=err.status, headers=headers)
    doc = Doc("Error", ns=None).leaf("Code", err.code).leaf("Message", err.message)
    for name, value in err.fields.items():
        doc.leaf(name, value)
    doc.leaf("Resource", resource).leaf("RequestId", request_id)
    headers["Content-Type"] = XML_TYPE
    return web.Response(status=err.status, body=doc.render(), headers=headers)


async def render(
    request: web.Request, result: Result, *, request_id: str
) -> tuple[web.StreamResponse, int]:
    """Turn a handler's result into a response; returns it with the body bytes actually sent."""
    headers = _base_headers(request_id)
    if isinstance(result, Xml):
        headers.update(result.headers)
        headers.setdefault("Content-Type", XML_TYPE)
        return web.Response(status=result.status, body=result.body, headers=headers), len(
            result.body
        )
    if isinstance(result, Empty):
        headers.update(result.headers)
        if "Content-Length" in headers:
            # HEAD answers carry the object's length without a body: a bare StreamResponse
            # keeps the header as given instead of computing it from an empty body.
            length = int(headers.pop("Content-Length"))
            head = web.StreamResponse(status=result.status, headers=headers)
            head.content_length = length
            await head.prepare(request)
            await head.write_eof()
            return head, 0
        return web.Response(status=result.status, headers=headers), 0
    return await _stream(request, result, headers)


async def _collect(request: web.Request, result: Stream) -> bytes:
    """The whole (small) body in memory: file slices read, vendor chunks joined."""
    parts: list[bytes] = []
    try:
        async for chunk in result.body:
            parts.append(await read_slice(chunk) if isinstance(chunk, FileSlice) else chunk)
    finally:
        if result.close is not None:
            await result.close()
    return b"".join(parts)


async def _stream(
    request: web.Request, result: Stream, headers: dict[str, str]
) -> tuple[web.StreamResponse, int]:
    headers.update(result.headers)
    if result.length <= COALESCE_MAX:
        # A small body goes out with its head in one write (one syscall, one packet), and a
        # failure while reading it is still a proper S3 error: nothing has been sent yet.
        body = await _collect(request, result)
        if len(body) != result.length:
            raise S3Error("InternalError", "The object body ended early.")
        return web.Response(status=result.status, body=body, headers=headers), len(body)
    resp = web.StreamResponse(status=result.status, headers=headers)
    resp.content_length = result.length
    sent = 0
    try:
        await resp.prepare(request)
        async for chunk in result.body:
            if isinstance(chunk, FileSlice):
                sent += await send_slice(request, resp, chunk)
                continue
            # Awaiting write is the backpressure: aiohttp drains the transport above its limit.
            await resp.write(chunk)
            sent += len(chunk)
        if sent != result.length:
            raise ConnectionError(f"body ended after {sent} of {result.length} bytes")
        await resp.write_eof()
    except asyncio.CancelledError:
        raise
    except (ConnectionResetError, BrokenPipeError):
        # The client left mid-body: nothing to tell it, and nothing wrong on our side.
        log.info("client went away after %d of %d bytes", sent, result.length)
        if request.transport is not None:
            request.transport.abort()
    except Exception as exc:
        # The head is gone: the only honest signal left is to cut the connection.
        log.warning("stream aborted after %d bytes: %s", sent, exc.__class__.__name__)
        if request.transport is not None:
            request.transport.abort()
    finally:
        if result.close is not None:
            await result.close()
    return resp, sent
