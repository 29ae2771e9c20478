"""Sans-IO decoder for `Content-Encoding: aws-chunked` bodies, signed or not, with trailers.

Framing and signatures: S3 API Reference, "Signature Calculations for the Authorization Header:
Transferring Payload in Multiple Chunks (Chunked Upload)" and "...Including Trailing Headers".

    signed:    hex(size);chunk-signature=<sig>CRLF <data> CRLF ... 0;chunk-signature=<sig>CRLF
    unsigned:  hex(size)CRLF <data> CRLF ... 0CRLF
    then:      [name:value CRLF ...] [x-amz-trailer-signature:<sig> CRLF] CRLF

Feed bytes in any split; decoded payload comes out as soon as it is trusted (signed chunks are
held until their signature checks out, at most one chunk, <= max_chunk bytes).
"""

from __future__ import annotations

import enum
import hashlib
import re

from auth.errors import (
    AuthError,
    IncompleteBody,
    InvalidChunkSizeError,
    InvalidRequest,
    MalformedTrailerError,
    MissingContentLength,
    SignatureDoesNotMatch,
)
from auth.sigv4 import PayloadMode, Verified, signature, signatures_equal

__all__ = [
    "EMPTY_SHA256",
    "MAX_CHUNK",
    "MIN_CHUNK",
    "TRAILER_SIGNATURE",
    "X_AMZ_DECODED_CONTENT_LENGTH",
    "AwsChunkedDecoder",
    "ChunkSigner",
    "decoded_content_length",
]

CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
TRAILER_SIGNATURE = "x-amz-trailer-signature"
X_AMZ_DECODED_CONTENT_LENGTH = "x-amz-decoded-content-length"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# S3: "all chunks except the final one must be at least 8 KB" (InvalidChunkSizeError).
MIN_CHUNK = 8192
# MinIO caps a chunk at 16 MiB and a chunk header line at 4 KiB; so do we.
MAX_CHUNK = 16 * 1024 * 1024
MAX_LINE = 4096
MAX_TRAILER_LINES = 32

CRLF = b"\r\n"
_SIGNED_SIZE_LINE = re.compile(rb"([0-9a-fA-F]{1,16});chunk-signature=([0-9a-fA-F]{64})")
# Unsigned framing is plain HTTP/1.1 chunking: hex size, optional (ignored) chunk extensions.
_UNSIGNED_SIZE_LINE = re.compile(rb"([0-9a-fA-F]{1,16})(?:;[^\r\n]*)?")
_DECIMAL = re.compile(r"[0-9]{1,18}")


def decoded_content_length(value: str | None) -> int:
    """x-amz-decoded-content-length, which every aws-chunked request must carry.

    Missing or not a plain decimal number: MissingContentLength 411 (versitygw, AWS-verified).
    """
    if value is None or not _DECIMAL.fullmatch(value.strip()):
        raise MissingContentLength(reason=f"{X_AMZ_DECODED_CONTENT_LENGTH}: {value!r}")
    return int(value.strip())


class ChunkSigner:
    """The chain of chunk and trailer signatures that starts at the request's seed signature."""

    def __init__(self, *, signing_key: bytes, amz_date: str, scope: str, seed_signature: str):
        self._key = signing_key
        self._amz_date = amz_date
        self._scope = scope
        self._previous = seed_signature

    @classmethod
    def from_verified(cls, verified: Verified) -> ChunkSigner:
        return cls(
            signing_key=verified.signing_key,
            amz_date=verified.amz_date,
            scope=verified.scope,
            seed_signature=verified.seed_signature,
        )

    @property
    def previous_signature(self) -> str:
        return self._previous

    def chunk_string_to_sign(self, chunk_sha256: str) -> str:
        """ChunkStringToSign = "AWS4-HMAC-SHA256-PAYLOAD" \\n timestamp \\n scope \\n
        previous-signature \\n Hex(SHA256("")) \\n Hex(SHA256(chunk-data))."""
        return "\n".join(
            (
                CHUNK_ALGORITHM,
                self._amz_date,
                self._scope,
                self._previous,
                EMPTY_SHA256,
                chunk_sha256,
            )
        )

    def trailer_string_to_sign(self, trailer_sha256: str) -> str:
        """TrailerStringToSign = "AWS4-HMAC-SHA256-TRAILER" \\n timestamp \\n scope \\n
        previous-signature \\n Hex(SHA256(trailing headers))."""
        return "\n".join(
            (TRAILER_ALGORITHM, self._amz_date, self._scope, self._previous, trailer_sha256)
        )

    def _check(self, to_sign: str, provided: bytes) -> None:
        expected = signature(self._key, to_sign)
        if not signatures_equal(expected, provided.decode("ascii", "replace")):
            raise SignatureDoesNotMatch(reason="aws-chunked chunk or trailer signature")
        self._previous = expected

    def verify_chunk(self, chunk_sha256: str, provided: bytes) -> None:
        """Check one chunk's signature and move the chain on (constant-time compare)."""
        self._check(self.chunk_string_to_sign(chunk_sha256), provided)

    def verify_trailer(self, trailer_sha256: str, provided: bytes) -> None:
        self._check(self.trailer_string_to_sign(trailer_sha256), provided)


class _State(enum.Enum):
    SIZE_LINE = "size-line"
    DATA = "data"
    DATA_END = "data-end"
    TRAILER = "trailer"
    DONE = "done"


_STREAMING = (
    PayloadMode.STREAMING_SIGNED,
    PayloadMode.STREAMING_SIGNED_TRAILER,
    PayloadMode.STREAMING_UNSIGNED_TRAILER,
)


def _framing(reason: str) -> IncompleteBody:
    # versitygw (AWS-verified): any malformed aws-chunked framing is IncompleteBody.
    return IncompleteBody(reason=reason)


class AwsChunkedDecoder:
    """Incremental aws-chunked decoder: `feed()` bytes, collect payload, `finish()` for trailers.

    Linear in the input: the buffer is read through an offset and compacted once per feed, and
    a CRLF search resumes where the previous one stopped.
    """

    def __init__(
        self,
        *,
        mode: PayloadMode,
        decoded_length: int,
        chunk_signer: ChunkSigner | None,
        trailer_names: tuple[str, ...],
        max_chunk: int = MAX_CHUNK,
        max_line: int = MAX_LINE,
    ) -> None:
        if mode not in _STREAMING:
            raise ValueError(f"{mode} is not an aws-chunked payload mode")
        self._signed = mode is not PayloadMode.STREAMING_UNSIGNED_TRAILER
        if self._signed and chunk_signer is None:
            raise ValueError("signed aws-chunked needs a ChunkSigner")
        if decoded_length < 0:
            raise ValueError("decoded_length must be >= 0")
        # x-amz-trailer may list several names ("first,second,third" in aws-c-auth's test).
        names = tuple(
            n.strip().lower() for entry in trailer_names for n in entry.split(",") if n.strip()
        )
        if names and mode is PayloadMode.STREAMING_SIGNED:
            raise InvalidRequest(
                "The x-amz-trailer header requires a -TRAILER x-amz-content-sha256 value."
            )
        self._mode = mode
        # Unsigned framing has no signatures to check, whatever the caller passed.
        self._signer = chunk_signer if self._signed else None
        self._declared = names
        self._decoded_length = decoded_length
        self._max_chunk = max_chunk
        self._max_line = max_line
        self._state = _State.SIZE_LINE
        self._buf = bytearray()
        self._pos = 0  # next unread byte of _buf
        self._scan = 0  # where the pending CRLF search resumes
        self._remaining = 0  # data bytes left in the current chunk
        self._chunk_size = 0
        self._chunk_signature = b""
        self._hasher = hashlib.sha256()
        self._held = bytearray()  # signed chunk data awaiting its signature
        self._short_chunk_seen = False
        self._total = 0
        self._trailer_lines: list[bytes] = []
        self._trailers: dict[str, str] = {}
        self._error: AuthError | None = None

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    @property
    def decoded_bytes(self) -> int:
        return self._total

    def feed(self, data: bytes) -> list[bytes]:
        """Consume `data`; return the payload pieces now known to be good (maybe none)."""
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[bytes] = []
        try:
            while self._step(out):
                pass
        except AuthError as exc:
            self._error = exc
            raise
        # Whatever is left is at most one partial line or CRLF, so this copy stays small.
        del self._buf[: self._pos]
        self._scan -= self._pos
        self._pos = 0
        return out

    def finish(self) -> dict[str, str]:
        """End of body: return the trailers (lowercased name -> value); raise if truncated."""
        if self._error is not None:
            raise self._error
        if self._state is not _State.DONE:
            self._error = _framing(f"body ended in state {self._state.value}")
            raise self._error
        return dict(self._trailers)

    # --- state machine ------------------------------------------------------------------------

    def _step(self, out: list[bytes]) -> bool:
        """Advance once; False when more input is needed."""
        state = self._state
        if state is _State.DATA:
            return self._read_data(out)
        if state is _State.SIZE_LINE:
            line = self._take_line()
            if line is None:
                return False
            self._start_chunk(line)
            return True
        if state is _State.DATA_END:
            return self._end_chunk(out)
        if state is _State.TRAILER:
            line = self._take_line()
            if line is None:
                return False
            self._trailer_line(line)
            return True
        if self._pos < len(self._buf):
            raise _framing("data after the end of the aws-chunked body")
        return False

    def _take_line(self) -> bytes | None:
        start = max(self._scan, self._pos)
        end = self._buf.find(CRLF, start)
        if end < 0:
            if len(self._buf) - self._pos > self._max_line:
                raise _framing("aws-chunked line too long")
            # Resume one byte back: the CR of a CRLF may be the last byte we have.
            self._scan = max(len(self._buf) - 1, self._pos)
            return None
        if end - self._pos > self._max_line:
            raise _framing("aws-chunked line too long")
        line = bytes(self._buf[self._pos : end])
        self._pos = self._scan = end + len(CRLF)
        return line

    def _start_chunk(self, line: bytes) -> None:
        pattern = _SIGNED_SIZE_LINE if self._signed else _UNSIGNED_SIZE_LINE
        match = pattern.fullmatch(line)
        if match is None:
            raise _framing(f"bad chunk header {line[:80]!r}")
        size = int(match.group(1), 16)
        if size > self._max_chunk:
            raise _framing(f"chunk of {size} bytes exceeds {self._max_chunk}")
        if size and self._signed and self._short_chunk_seen:
            raise InvalidChunkSizeError(reason="a chunk before the last one was < 8192 bytes")
        self._chunk_signature = match.group(2) if self._signed else b""
        self._chunk_size = self._remaining = size
        self._hasher = hashlib.sha256()
        if size:
            self._state = _State.DATA
            return
        # The final, empty chunk: its signature covers SHA256(""), then the trailer follows.
        if self._total != self._decoded_length:
            raise _framing(f"decoded {self._total} bytes, declared {self._decoded_length}")
        if self._signer is not None:
            self._signer.verify_chunk(EMPTY_SHA256, self._chunk_signature)
        self._state = _State.TRAILER

    def _read_data(self, out: list[bytes]) -> bool:
        available = len(self._buf) - self._pos
        if available <= 0:
            return False
        take = min(available, self._remaining)
        piece = bytes(self._buf[self._pos : self._pos + take])
        self._pos += take
        self._remaining -= take
        self._total += take
        if self._total > self._decoded_length:
            raise _framing(f"more than the declared {self._decoded_length} decoded bytes")
        if self._signed:
            self._hasher.update(piece)
            self._held += piece
        else:
            out.append(piece)
        if not self._remaining:
            self._state = _State.DATA_END
        return True

    def _end_chunk(self, out: list[bytes]) -> bool:
        have = self._buf[self._pos : self._pos + len(CRLF)]
        if have != CRLF[: len(have)]:
            raise _framing("chunk data not followed by CRLF")
        if len(have) < len(CRLF):
            return False
        self._pos += len(CRLF)
        if self._signer is not None:
            self._signer.verify_chunk(self._hasher.hexdigest(), self._chunk_signature)
            out.append(bytes(self._held))
            self._held.clear()
            if self._chunk_size < MIN_CHUNK:
                self._short_chunk_seen = True
        self._state = _State.SIZE_LINE
        return True

    # --- trailer -------------------------------------------------------------------------------

    def _trailer_line(self, line: bytes) -> None:
        if line:
            if len(self._trailer_lines) >= MAX_TRAILER_LINES:
                raise MalformedTrailerError(reason="too many trailer lines")
            self._trailer_lines.append(line)
            return
        self._trailers = self._check_trailers(self._trailer_lines)
        self._state = _State.DONE

    def _check_trailers(self, lines: list[bytes]) -> dict[str, str]:
        trailers: dict[str, str] = {}
        signature_value: bytes | None = None
        for line in lines:
            name_b, sep, value_b = line.partition(b":")
            name = name_b.strip().decode("ascii", "replace").lower()
            if not sep or not name:
                raise MalformedTrailerError(reason=f"trailer line {line[:80]!r}")
            if name == TRAILER_SIGNATURE and self._mode is not PayloadMode.STREAMING_SIGNED:
                # Only the signed-trailer variant carries it; in the unsigned one it is ignored.
                if signature_value is not None:
                    raise MalformedTrailerError(reason="two trailer signatures")
                signature_value = value_b.strip()
                continue
            if signature_value is not None or name in trailers or name not in self._declared:
                raise MalformedTrailerError(reason=f"unexpected trailer {name!r}")
            trailers[name] = value_b.strip().decode("ascii", "replace")
        missing = [name for name in self._declared if name not in trailers]
        if missing:
            raise MalformedTrailerError(reason=f"declared trailer(s) {missing} not sent")
        if self._mode is PayloadMode.STREAMING_SIGNED_TRAILER:
            self._verify_trailer_signature(trailers, signature_value)
        return trailers

    def _verify_trailer_signature(self, trailers: dict[str, str], provided: bytes | None) -> None:
        if provided is None:
            raise SignatureDoesNotMatch(reason="signed trailer without x-amz-trailer-signature")
        # The trailing headers are hashed in canonical-header form: "name:value\n", sorted.
        canonical = "".join(f"{name}:{trailers[name]}\n" for name in sorted(trailers))
        assert self._signer is not None  # signed modes always have one (checked in __init__)
        self._signer.verify_trailer(hashlib.sha256(canonical.encode()).hexdigest(), provided)
