"""Bodies between the router's async byte iterators and aiobotocore's aiohttp transport.

Upload: aiobotocore hands the request body to aiohttp untouched, and aiohttp streams any async
iterable chunk by chunk (its AsyncIterablePayload) under the Content-Length botocore set from
ContentLength. So `RequestBody` is an async iterable that also looks enough like a file for
botocore (`read` for parameter validation; `seek`/`tell` at position 0 because the CRT signer, used
whenever awscrt is installed, wraps any body without `seek` in BytesIO). It is never read, hashed
or buffered: payload signing is off and no checksum is computed by the SDK (see s3_upstream).

Download: `ResponseBody` reads aiobotocore's StreamingBody in fixed-size chunks; `aclose` drops the
connection when the body was not read to the end (a half-read connection cannot be reused).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Protocol

from router.errors import UpstreamError
from router.s3_errors import vendor_errors

__all__ = ["RawBody", "RequestBody", "ResponseBody"]

GET_CHUNK = 256 * 1024


class BodyLengthError(Exception):
    """The source yielded more or fewer bytes than the length it was sent with."""


class RequestBody:
    """A sized, single-use upload body; `error` keeps what the source raised, if anything."""

    def __init__(self, source: AsyncIterator[bytes], length: int) -> None:
        self.length = length
        self.sent = 0
        self.error: BaseException | None = None
        self._source = source
        self._iterated = False

    def read(self, size: int = -1) -> bytes:
        """Present only so botocore accepts the body as a blob; nothing may read it this way."""
        raise io.UnsupportedOperation("a streamed body is iterated, never read")

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Rewinding to the start is a no-op until iteration begins; nothing else is possible."""
        if self._iterated or offset != 0 or whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a streamed body cannot seek")
        return 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._iterated:  # a retry would need the bytes again: the gateway owns retries
            raise RuntimeError("a streamed body can be sent once")
        self._iterated = True
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._source:
                if not chunk:
                    continue
                self.sent += len(chunk)
                if self.sent > self.length:
                    raise BodyLengthError(self.sent)
                if self.sent == self.length:
                    # Check for surplus *before* the last byte leaves: once the vendor has the
                    # declared length it may store the object, truncated.
                    await self._expect_end()
                yield chunk
            if self.sent != self.length:
                raise BodyLengthError(self.sent)
        except Exception as exc:  # not GeneratorExit/cancellation: those are not the body's fault
            self.error = exc
            raise

    async def _expect_end(self) -> None:
        async for extra in self._source:
            if extra:
                self.sent += len(extra)
                raise BodyLengthError(self.sent)

    def failure(self) -> BaseException | None:
        """What to raise instead of the transport error the body's own failure caused."""
        if isinstance(self.error, BodyLengthError):
            return UpstreamError("IncompleteBody", 400)
        return self.error


class RawBody(Protocol):
    """The part of aiobotocore's StreamingBody used here (its stubs lag the implementation)."""

    async def read(self, amt: int | None = ...) -> bytes: ...

    def close(self) -> None: ...


class ResponseBody:
    """Async iterator over a vendor GET body, `chunk_size` bytes at most per step."""

    def __init__(self, raw: RawBody, *, operation: str, chunk_size: int = GET_CHUNK) -> None:
        self._raw = raw
        self._operation = operation
        self._chunk_size = chunk_size
        self._done = False

    def __aiter__(self) -> ResponseBody:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        try:
            # reset, timeout, short body, checksum mismatch at the end -> VendorUnavailable
            with vendor_errors(self._operation):
                chunk = await self._raw.read(self._chunk_size)
        except BaseException:
            await self.aclose()  # the connection is mid-body: it cannot go back to the pool
            raise
        if not chunk:
            self._done = True  # aiohttp already returned the connection to the pool
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._raw.close()
