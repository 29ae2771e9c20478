"""Request bodies: framing, verification while streaming, and "nothing stored unless verified".

A body is checked against everything the client promised: the signed SHA-256, aws-chunked chunk
signatures and trailers, Content-MD5 and `x-amz-checksum-*`. Verification ends only with the last
byte, but a vendor commits an object as soon as it has Content-Length bytes, so the reader
*holds back its final piece* until every check has passed: a failure leaves the vendor with a
short body, which it discards. Bodies up to `SMALL_BODY` are read and verified whole before the
vendor sees a byte (that also covers empty bodies, which a vendor never reads).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from aiohttp import web

from auth.checksums import ChecksumPlan, checksum_plan, decode_checksum_value, new_checksum
from auth.sigv4 import PayloadMode
from auth.streaming import AwsChunkedDecoder, ChunkSigner
from gateway.context import RequestContext
from gateway.errors import S3Error
from router.models import PutOptions

__all__ = ["Body", "read_body", "read_small_body", "upload_through"]

SMALL_BODY = 1024 * 1024
READ_SIZE = 256 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_STREAMING = (
    PayloadMode.STREAMING_SIGNED,
    PayloadMode.STREAMING_SIGNED_TRAILER,
    PayloadMode.STREAMING_UNSIGNED_TRAILER,
)
T = TypeVar("T")


@dataclass(slots=True)
class Body:
    """A request body of `length` decoded bytes, verified as it is consumed once via `chunks()`."""

    ctx: RequestContext
    length: int
    plan: ChecksumPlan
    content_md5: str | None
    mode: PayloadMode
    payload_sha256: str | None
    decoder: AwsChunkedDecoder | None
    prefetched: bytes | None = None
    #: (ALGORITHM, base64) once the body has been verified, when the client asked for one.
    checksum: tuple[str, str] | None = None
    #: The verification failure, if any; the vendor only sees a broken stream.
    error: BaseException | None = None
    _consumed: bool = field(default=False)

    def chunks(self) -> AsyncIterator[bytes]:
        if self._consumed:
            raise RuntimeError("a request body can be consumed once")
        self._consumed = True
        return self._verified_stream()

    async def _verified_stream(self) -> AsyncIterator[bytes]:
        if self.prefetched is not None:
            if self.prefetched:
                yield self.prefetched
            return
        held: bytes | None = None
        verifier = _Verifier(self)
        try:
            async for piece in _decoded(self):
                verifier.update(piece)
                if held is not None:
                    yield held
                held = piece
            verifier.finish()
        except BaseException as exc:
            self.error = exc
            raise
        if held is not None:
            yield held

    async def read_all(self) -> bytes:
        """Read and verify the whole (small) body now."""
        buf = bytearray()
        async for piece in self.chunks():
            buf += piece
        return bytes(buf)


class _Verifier:
    """Running hashes over the decoded payload; `finish` raises on any mismatch."""

    def __init__(self, body: Body) -> None:
        self.body = body
        self.size = 0
        self.sha = hashlib.sha256() if body.payload_sha256 else None
        self.md5 = hashlib.md5(usedforsecurity=False) if body.content_md5 else None
        alg = body.plan.algorithm
        self.sum = new_checksum(alg) if alg else None

    def update(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.body.length:
            raise S3Error("IncompleteBody")
        for h in (self.sha, self.md5, self.sum):
            if h is not None:
                h.update(piece)

    def finish(self) -> None:
        body = self.body
        trailers = body.decoder.finish() if body.decoder is not None else {}
        if self.size != body.length:
            raise S3Error("IncompleteBody")
        if self.sha is not None and self.sha.hexdigest() != (body.payload_sha256 or "").lower():
            raise S3Error("XAmzContentSHA256Mismatch")
        md5 = base64.b64encode(self.md5.digest()).decode() if self.md5 is not None else None
        if md5 is not None and md5 != body.content_md5:
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
        if self.sum is not None:
            expected = _expected_checksum(body.plan, trailers)
            actual = self.sum.digest_b64()
            if expected is not None and actual != expected:
                alg = body.plan.algorithm or ""
                raise S3Error(
                    "BadDigest", f"The {alg} you specified did not match the calculated checksum."
                )
            body.checksum = (body.plan.algorithm or "", actual)


def _expected_checksum(plan: ChecksumPlan, trailers: dict[str, str]) -> str | None:
    """The client's checksum: from its header, or from the aws-chunked trailer it declared."""
    if plan.location == "header":
        return plan.expected
    if plan.location == "trailer" and plan.algorithm and plan.header_name:
        value = trailers.get(plan.header_name.lower())
        if value is None:
            raise S3Error("MalformedTrailerError")
        return decode_checksum_value(plan.algorithm, value, trailing=True)
    return None


async def _raw_pieces(ctx: RequestContext) -> AsyncIterator[bytes]:
    request = ctx.request
    await send_continue(ctx.request)
    timeout = ctx.services.settings.body_read_timeout
    while True:
        try:
            async with asyncio.timeout(timeout):
                piece = await request.content.readany()
        except TimeoutError:
            raise S3Error("RequestTimeout") from None
        if not piece:
            return
        yield piece


async def _decoded(body: Body) -> AsyncIterator[bytes]:
    async for raw in _raw_pieces(body.ctx):
        if body.decoder is None:
            yield raw
            continue
        for piece in body.decoder.feed(raw):
            if piece:
                yield piece


async def send_continue(request: web.Request) -> None:
    """Send `100 Continue` only now: after auth, so a refused upload never streams its body.
    (Every listener defers it: see s3app's expect handler; admin and STS call this too.)"""
    if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
        writer = request.writer
        if writer is not None and not getattr(request, "_pcache_continued", False):
            await writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            writer.output_size = 0  # as aiohttp's own expect handler: not the response's bytes
            setattr(request, "_pcache_continued", True)  # noqa: B010


def _validate_md5(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest") from None
    if len(raw) != 16:
        raise S3Error("InvalidDigest")
    return value


def _decoded_length(ctx: RequestContext) -> int:
    raw = ctx.request.headers.get("x-amz-decoded-content-length")
    if raw is None or not raw.isdigit():
        raise S3Error("MissingContentLength")
    return int(raw)


def _declared_length(ctx: RequestContext, streaming: bool) -> int:
    if streaming:
        return _decoded_length(ctx)
    raw = ctx.request.headers.get("Content-Length")
    if raw is None:
        raise S3Error("MissingContentLength")
    if not raw.isdigit():
        raise S3Error("InvalidArgument", "Invalid Content-Length.")
    return int(raw)


def _chunk_signer(ctx: RequestContext) -> ChunkSigner | None:
    v = ctx.verified
    if v is None or v.payload not in (
        PayloadMode.STREAMING_SIGNED,
        PayloadMode.STREAMING_SIGNED_TRAILER,
    ):
        return None
    return ChunkSigner(
        signing_key=v.signing_key,
        amz_date=v.amz_date,
        scope=v.scope,
        seed_signature=v.seed_signature,
    )


async def read_body(ctx: RequestContext, *, max_size: int) -> Body:
    """Set up verification for an upload body (PutObject, UploadPart)."""
    headers = ctx.request.headers
    mode = ctx.verified.payload if ctx.verified is not None else PayloadMode.UNSIGNED
    encoding = headers.get("Content-Encoding", "")
    streaming = mode in _STREAMING
    if "aws-chunked" in encoding.lower() and not streaming:
        # The framing is declared but the payload hash says otherwise: which one lies is
        # unknowable, so nothing is stored.
        raise S3Error(
            "InvalidRequest",
            "Content-Encoding aws-chunked needs a STREAMING-* x-amz-content-sha256 value.",
        )
    length = _declared_length(ctx, streaming)
    if length > max_size:
        raise S3Error("EntityTooLarge", fields={"MaxSizeAllowed": str(max_size)})
    trailer = headers.get("x-amz-trailer")
    plan = checksum_plan({k.lower(): v for k, v in headers.items()}, trailer_declared=trailer)
    decoder = None
    if streaming:
        decoder = AwsChunkedDecoder(
            mode=mode,
            decoded_length=length,
            chunk_signer=_chunk_signer(ctx),
            trailer_names=(trailer.strip().lower(),) if trailer else (),
        )
    body = Body(
        ctx=ctx,
        length=length,
        plan=plan,
        content_md5=_validate_md5(headers.get("Content-MD5")),
        mode=mode,
        payload_sha256=(ctx.verified.payload_sha256 if ctx.verified is not None else None),
        decoder=decoder,
    )
    if length <= SMALL_BODY:
        data = await body.read_all()
        body = replace(body, prefetched=data, _consumed=False)
    return body


async def read_small_body(ctx: RequestContext, limit: int = 2 * 1024 * 1024) -> bytes:
    """A verified XML request body (bounded): CompleteMultipartUpload, DeleteObjects, tagging."""
    headers = ctx.request.headers
    if "Content-Length" not in headers and "x-amz-decoded-content-length" not in headers:
        if ctx.request.can_read_body:
            raise S3Error("MissingContentLength")
        return b""
    if ctx.verified is not None and ctx.verified.payload is PayloadMode.STREAMING_UNSIGNED_TRAILER:
        # AWS takes the unsigned-trailer framing only where an object body streams in
        # (PutObject, UploadPart); on a configuration body it is refused, as S3 does.
        raise S3Error(
            "InvalidRequest",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER is only allowed on object uploads.",
        )
    body = await read_body(ctx, max_size=limit)
    if body.prefetched is None:
        raise S3Error("MalformedXML")
    return body.prefetched


async def upload_through(
    body: Body, send: Callable[[PutOptions], Awaitable[T]], options: PutOptions
) -> T:
    """Run a vendor upload over a verified body; a verification failure wins over what the
    vendor saw (a broken stream), so the client gets BadDigest, not ServiceUnavailable."""
    if body.plan.algorithm and body.checksum is not None:
        options = replace(
            options, checksum_algorithm=body.checksum[0], checksum_value=body.checksum[1]
        )
    elif body.plan.location == "header" and body.plan.algorithm and body.plan.expected:
        # Verified by us at the end of the stream; the vendor checks it again and stores it.
        options = replace(
            options, checksum_algorithm=body.plan.algorithm, checksum_value=body.plan.expected
        )
    if body.content_md5 is not None:
        options = replace(options, content_md5=body.content_md5)
    try:
        return await send(options)
    except BaseException:
        if body.error is not None:
            raise body.error from None
        raise
