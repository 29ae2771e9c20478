"""aws-chunked decoding: the AWS worked example, framing faults, trailers, and arbitrary splits."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth.checksums import checksum_plan
from auth.errors import (
    AuthError,
    IncompleteBody,
    InvalidChunkSizeError,
    InvalidRequest,
    MalformedTrailerError,
    MissingContentLength,
    SignatureDoesNotMatch,
)
from auth.sigv4 import PayloadMode, RequestView, parse_auth, signature, verify
from auth.streaming import AwsChunkedDecoder, ChunkSigner, decoded_content_length
from tests.unit.auth.oracle import SECRET_KEY, Capture, frozen_clock, s3_client

# The S3 API Reference's chunked-upload example, as aws-c-auth's test_chunked_signing.c uses it.
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
    "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
    "x-amz-decoded-content-length;x-amz-storage-class, "
    "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
)
EXAMPLE_VIEW = RequestView(
    "PUT",
    "/examplebucket/chunkObject.txt",
    "",
    (
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("Authorization", EXAMPLE_AUTH),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
    ),
)
EXAMPLE_NOW = datetime(2013, 5, 24, 0, 1, tzinfo=UTC)
SIG_CHUNK1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
SIG_CHUNK2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
SIG_FINAL = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
SIG_TRAILER = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"


def example_signer() -> ChunkSigner:
    params = parse_auth(EXAMPLE_VIEW)
    assert params is not None
    verified = verify(EXAMPLE_VIEW, params, EXAMPLE_SECRET, now=EXAMPLE_NOW, region="us-east-1")
    assert verified.payload is PayloadMode.STREAMING_SIGNED
    return ChunkSigner.from_verified(verified)


def example_body(sig2: str = SIG_CHUNK2) -> bytes:
    return (
        f"10000;chunk-signature={SIG_CHUNK1}\r\n".encode()
        + b"a" * 65536
        + f"\r\n400;chunk-signature={sig2}\r\n".encode()
        + b"a" * 1024
        + f"\r\n0;chunk-signature={SIG_FINAL}\r\n\r\n".encode()
    )


def decode(decoder: AwsChunkedDecoder, pieces: Iterable[bytes]) -> tuple[bytes, dict[str, str]]:
    out = bytearray()
    for piece in pieces:
        for chunk in decoder.feed(piece):
            out += chunk
    return bytes(out), decoder.finish()


def signed_decoder(
    signer: ChunkSigner,
    length: int,
    *,
    trailer: bool = False,
    names: tuple[str, ...] = (),
) -> AwsChunkedDecoder:
    mode = PayloadMode.STREAMING_SIGNED_TRAILER if trailer else PayloadMode.STREAMING_SIGNED
    return AwsChunkedDecoder(
        mode=mode, decoded_length=length, chunk_signer=signer, trailer_names=names
    )


def unsigned_decoder(length: int, names: tuple[str, ...] = ()) -> AwsChunkedDecoder:
    return AwsChunkedDecoder(
        mode=PayloadMode.STREAMING_UNSIGNED_TRAILER,
        decoded_length=length,
        chunk_signer=None,
        trailer_names=names,
    )


class Signing:
    """Produces a signed aws-chunked body with our own chain (for sizes the example lacks)."""

    KEY = b"k" * 32
    DATE = "20260301T093015Z"
    SCOPE = "20260301/us-east-1/s3/aws4_request"
    SEED = "0" * 64

    @classmethod
    def signer(cls) -> ChunkSigner:
        return ChunkSigner(
            signing_key=cls.KEY, amz_date=cls.DATE, scope=cls.SCOPE, seed_signature=cls.SEED
        )

    @classmethod
    def body(cls, chunks: Sequence[bytes], trailers: Sequence[tuple[str, str]] = ()) -> bytes:
        chain = cls.signer()
        out = bytearray()
        for data in (*chunks, b""):
            digest = hashlib.sha256(data).hexdigest()
            sig = signature(cls.KEY, chain.chunk_string_to_sign(digest))
            chain.verify_chunk(digest, sig.encode())
            out += f"{len(data):x};chunk-signature={sig}\r\n".encode() + data
            out += b"\r\n" if data else b""
        if trailers:
            canonical = "".join(f"{n}:{v}\n" for n, v in sorted(trailers))
            digest = hashlib.sha256(canonical.encode()).hexdigest()
            sig = signature(cls.KEY, chain.trailer_string_to_sign(digest))
            out += "".join(f"{n}:{v}\r\n" for n, v in trailers).encode()
            out += f"x-amz-trailer-signature:{sig}\r\n".encode()
        return bytes(out + b"\r\n")


def unsigned_body(chunks: Sequence[bytes], trailers: Sequence[tuple[str, str]] = ()) -> bytes:
    out = bytearray()
    for data in chunks:
        if data:
            out += f"{len(data):x}\r\n".encode() + data + b"\r\n"
    out += b"0\r\n" + "".join(f"{n}:{v}\r\n" for n, v in trailers).encode() + b"\r\n"
    return bytes(out)


# --- the AWS example -----------------------------------------------------------------------


def test_aws_chunked__aws_example_decodes_to_66560_a() -> None:
    body = example_body()
    assert len(body) == 66824  # the example's Content-Length
    payload, trailers = decode(signed_decoder(example_signer(), 66560), [body])
    assert payload == b"a" * 66560 and trailers == {}


def test_aws_chunked__aws_example_signatures_chain_exactly() -> None:
    signer = example_signer()
    assert (
        signer.previous_signature
        == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    )
    signer.verify_chunk(hashlib.sha256(b"a" * 65536).hexdigest(), SIG_CHUNK1.encode())
    signer.verify_chunk(hashlib.sha256(b"a" * 1024).hexdigest(), SIG_CHUNK2.encode())
    signer.verify_chunk(hashlib.sha256(b"").hexdigest(), SIG_FINAL.encode())
    assert signer.previous_signature == SIG_FINAL
    trailer = hashlib.sha256(b"first:1st\nsecond:2nd\nthird:3rd\n").hexdigest()
    signer.verify_trailer(trailer, SIG_TRAILER.encode())


def test_aws_chunked__aws_trailer_example_decodes() -> None:
    body = (
        example_body()[: -len(b"\r\n")]
        + (
            f"first:1st\r\nsecond:2nd\r\nthird:3rd\r\nx-amz-trailer-signature:{SIG_TRAILER}\r\n\r\n"
        ).encode()
    )
    decoder = signed_decoder(example_signer(), 66560, trailer=True, names=("first,second, third",))
    payload, trailers = decode(decoder, [body])
    assert payload == b"a" * 66560
    assert trailers == {"first": "1st", "second": "2nd", "third": "3rd"}


def test_aws_chunked__altered_chunk2_signature_is_refused() -> None:
    decoder = signed_decoder(example_signer(), 66560)
    bad = example_body(sig2=SIG_CHUNK2[:-1] + ("0" if SIG_CHUNK2[-1] != "0" else "1"))
    first_chunk_end = bad.index(b"\r\n400;") + 2
    assert b"".join(decoder.feed(bad[:first_chunk_end])) == b"a" * 65536
    with pytest.raises(SignatureDoesNotMatch):
        decoder.feed(bad[first_chunk_end:])  # chunk 2 is never released
    with pytest.raises(SignatureDoesNotMatch):
        decoder.feed(b"")  # the failure sticks


# --- chunk rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[100, 8192, 100], [8192, 10, 100]])
def test_aws_chunked__short_chunk_before_last_is_invalid_chunk_size(sizes: list[int]) -> None:
    body = Signing.body([b"x" * n for n in sizes])
    decoder = signed_decoder(Signing.signer(), sum(sizes))
    with pytest.raises(InvalidChunkSizeError) as info:
        decode(decoder, [body])
    assert info.value.status == 400


def test_aws_chunked__full_chunks_then_short_last_is_accepted() -> None:
    chunks = [b"1" * 8192, b"2" * 8192, b"3" * 100]
    payload, _ = decode(signed_decoder(Signing.signer(), 16484), [Signing.body(chunks)])
    assert payload == b"".join(chunks)


def test_aws_chunked__unsigned_small_chunks_are_accepted() -> None:
    chunks = [b"a" * 10, b"b" * 3, b"c"]
    payload, _ = decode(unsigned_decoder(14), [unsigned_body(chunks)])
    assert payload == b"".join(chunks)


@pytest.mark.parametrize("declared", [66559, 66561, 0])
def test_aws_chunked__decoded_length_mismatch_is_incomplete_body(declared: int) -> None:
    with pytest.raises(IncompleteBody):
        decode(signed_decoder(example_signer(), declared), [example_body()])


@pytest.mark.parametrize(
    "body",
    [
        b"j;chunk-signature=" + b"0" * 64 + b"\r\nabc",  # size not hex
        b"3:chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n",  # ':' instead of ';'
        b"3;" + b"0" * 64 + b"\r\nabc\r\n",  # no chunk-signature=
        b"3;chunk-signature=" + b"0" * 63 + b"\r\nabc\r\n",  # short signature
        b"3;chunk-signature=" + b"0" * 64 + b"\nabc\r\n",  # LF only
        b"-3;chunk-signature=" + b"0" * 64 + b"\r\n",
        b" 3;chunk-signature=" + b"0" * 64 + b"\r\n",
        b"0x3;chunk-signature=" + b"0" * 64 + b"\r\n",
        b"12345678901234567;chunk-signature=" + b"0" * 64 + b"\r\n",  # 17 hex digits
        b"\r\n",  # empty size line
    ],
)
def test_aws_chunked__malformed_signed_framing_is_incomplete_body(body: bytes) -> None:
    with pytest.raises(IncompleteBody):
        decode(signed_decoder(Signing.signer(), 3), [body])


def test_aws_chunked__missing_crlf_after_data_is_incomplete_body() -> None:
    body = Signing.body([b"abc"]).replace(b"abc\r\n", b"abcXY", 1)
    with pytest.raises(IncompleteBody):
        decode(signed_decoder(Signing.signer(), 3), [body])


@pytest.mark.parametrize("cut", [1, 10, 90, 95, 98, 99])
def test_aws_chunked__truncated_body_is_incomplete_on_finish(cut: int) -> None:
    body = Signing.body([b"abc"])
    assert len(body) > cut
    decoder = signed_decoder(Signing.signer(), 3)
    with pytest.raises(IncompleteBody):
        decode(decoder, [body[:cut]])


def test_aws_chunked__data_after_the_end_is_incomplete_body() -> None:
    with pytest.raises(IncompleteBody):
        decode(unsigned_decoder(5), [unsigned_body([b"hello"]) + b"extra"])


def test_aws_chunked__chunk_over_16_mib_is_refused_from_its_header() -> None:
    line = f"{17 * 1024 * 1024:x};chunk-signature={'0' * 64}\r\n".encode()
    with pytest.raises(IncompleteBody) as info:
        signed_decoder(Signing.signer(), 17 * 1024 * 1024).feed(line)
    assert info.value.status == 400


def test_aws_chunked__header_line_over_4_kib_is_refused() -> None:
    decoder = unsigned_decoder(5)
    with pytest.raises(IncompleteBody):
        for _ in range(5000):
            decoder.feed(b"0")


def test_aws_chunked__bad_signature_bytes_are_a_mismatch() -> None:
    body = Signing.body([b"abc"])
    good = body.split(b"chunk-signature=")[1][:64]
    with pytest.raises(SignatureDoesNotMatch):
        decode(signed_decoder(Signing.signer(), 3), [body.replace(good, b"F" * 64, 1)])


# --- trailers ------------------------------------------------------------------------------

CRC64_HELLO = "M3eFcAZSQlc="


def test_aws_chunked__unsigned_trailer_example_decodes() -> None:
    body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n"
    decoder = unsigned_decoder(5, ("x-amz-checksum-crc64nvme",))
    payload, trailers = decode(decoder, [body])
    assert payload == b"hello"
    assert trailers == {"x-amz-checksum-crc64nvme": CRC64_HELLO}


def test_aws_chunked__unsigned_trailer_ignores_a_trailer_signature() -> None:
    body = unsigned_body([b"hello"], [("x-amz-checksum-crc64nvme", CRC64_HELLO)])
    body = body[:-2] + b"x-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n"
    _, trailers = decode(unsigned_decoder(5, ("x-amz-checksum-crc64nvme",)), [body])
    assert trailers == {"x-amz-checksum-crc64nvme": CRC64_HELLO}


@pytest.mark.parametrize(
    ("trailer_lines", "declared"),
    [
        (b"", ("x-amz-checksum-crc64nvme",)),  # declared, not sent
        (b":M3eFcAZSQlc=\r\n", ("x-amz-checksum-crc64nvme",)),  # empty name
        (b"x-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n", ()),  # sent, not declared
        (b"invalid_trailer:\r\n", ("x-amz-checksum-crc64nvme",)),
        (b"no-colon-here\r\n", ("x-amz-checksum-crc64nvme",)),
        (
            b"x-amz-checksum-crc64nvme:a\r\nx-amz-checksum-crc64nvme:b\r\n",
            ("x-amz-checksum-crc64nvme",),
        ),
    ],
)
def test_aws_chunked__trailer_problems_are_malformed_trailer(
    trailer_lines: bytes, declared: tuple[str, ...]
) -> None:
    body = b"5\r\nhello\r\n0\r\n" + trailer_lines + b"\r\n"
    with pytest.raises(MalformedTrailerError) as info:
        decode(unsigned_decoder(5, declared), [body])
    assert info.value.status == 400


def test_aws_chunked__signed_trailer_verifies() -> None:
    body = Signing.body([b"hello"], [("x-amz-checksum-crc64nvme", CRC64_HELLO)])
    decoder = signed_decoder(Signing.signer(), 5, trailer=True, names=("x-amz-checksum-crc64nvme",))
    assert decode(decoder, [body]) == (b"hello", {"x-amz-checksum-crc64nvme": CRC64_HELLO})


def test_aws_chunked__signed_trailer_with_wrong_signature_is_refused() -> None:
    body = Signing.body([b"hello"], [("x-amz-checksum-crc64nvme", CRC64_HELLO)])
    body = body.replace(CRC64_HELLO.encode(), b"AAAAAAAAAAA=")
    decoder = signed_decoder(Signing.signer(), 5, trailer=True, names=("x-amz-checksum-crc64nvme",))
    with pytest.raises(SignatureDoesNotMatch):
        decode(decoder, [body])


def test_aws_chunked__signed_trailer_without_signature_is_refused() -> None:
    body = Signing.body([b"hello"], [("x-amz-checksum-crc64nvme", CRC64_HELLO)])
    head, _, _ = body.partition(b"x-amz-trailer-signature:")
    decoder = signed_decoder(Signing.signer(), 5, trailer=True, names=("x-amz-checksum-crc64nvme",))
    with pytest.raises(SignatureDoesNotMatch):
        decode(decoder, [head + b"\r\n"])


def test_aws_chunked__trailer_declared_without_trailer_mode_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        signed_decoder(Signing.signer(), 5, names=("x-amz-checksum-crc32",))


def test_aws_chunked__non_streaming_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aws-chunked"):
        AwsChunkedDecoder(
            mode=PayloadMode.UNSIGNED, decoded_length=0, chunk_signer=None, trailer_names=()
        )


# --- any split, linear time ----------------------------------------------------------------


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(max_size=3000),
    sizes=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=30),
)
def test_aws_chunked__unsigned_any_chunking_and_split_decodes_exactly(
    payload: bytes, sizes: list[int], cuts: list[int]
) -> None:
    chunks, at = [], 0
    while at < len(payload):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(payload[at : at + size])
        at += size
    body = unsigned_body(chunks, [("x-amz-checksum-crc64nvme", CRC64_HELLO)])
    decoder = unsigned_decoder(len(payload), ("x-amz-checksum-crc64nvme",))
    got, trailers = decode(decoder, _splits(body, cuts))
    assert got == payload and trailers == {"x-amz-checksum-crc64nvme": CRC64_HELLO}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=8192, max_value=9000), max_size=3),
    last=st.integers(min_value=0, max_value=8191),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=30),
    trailer=st.booleans(),
)
def test_aws_chunked__signed_any_split_decodes_exactly(
    sizes: list[int], last: int, cuts: list[int], trailer: bool
) -> None:
    chunks = [bytes([i % 251]) * n for i, n in enumerate([*sizes, last]) if n]
    payload = b"".join(chunks)
    trailers = [("x-amz-checksum-crc32", "DUoRhQ==")] if trailer else []
    body = Signing.body(chunks, trailers)
    names = tuple(n for n, _ in trailers)
    decoder = signed_decoder(Signing.signer(), len(payload), trailer=trailer, names=names)
    got, got_trailers = decode(decoder, _splits(body, cuts))
    assert got == payload and got_trailers == dict(trailers)


def _one_byte_at_a_time(decoder: AwsChunkedDecoder, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    total = 0
    view = memoryview(body)
    for i in range(len(body)):
        for piece in decoder.feed(view[i : i + 1].tobytes()):
            total += len(piece)
    decoder.finish()
    return total, time.perf_counter() - started


@pytest.mark.parametrize("signed", [False, True])
def test_aws_chunked__one_mib_fed_one_byte_at_a_time_is_linear(signed: bool) -> None:
    size = 1024 * 1024
    chunk = 64 * 1024
    chunks = [bytes([i]) * chunk for i in range(size // chunk)]
    if signed:
        body = Signing.body(chunks)
        decoder = signed_decoder(Signing.signer(), size)
    else:
        body = unsigned_body(chunks)
        decoder = unsigned_decoder(size)
    total, elapsed = _one_byte_at_a_time(decoder, body)
    assert total == size
    # Quadratic re-scanning of a 64 KiB chunk per byte would take minutes, not seconds.
    assert elapsed < 15


def test_aws_chunked__long_chunk_extension_fed_bytewise_decodes() -> None:
    # Unsigned framing is plain HTTP chunking: extensions are allowed and ignored.
    decoder = unsigned_decoder(3)
    body = b"3;" + b"e" * 4000 + b"\r\nabc\r\n0\r\n\r\n"
    got, _ = decode(decoder, [body[i : i + 1] for i in range(len(body))])
    assert got == b"abc"


# --- boto3 over HTTPS: the unsigned-trailer path end to end ----------------------------------


@pytest.mark.parametrize("signer", ["python", "crt"])
def test_aws_chunked__boto3_https_put_object_decodes_with_its_checksum(signer: str) -> None:
    capture = Capture()
    client = s3_client(capture, https=True)
    with frozen_clock(signer=signer):  # type: ignore[arg-type]
        client.put_object(Bucket="bkt", Key="k", Body=b"hello world")
    (sent,) = capture.sent
    params = parse_auth(sent.view)
    assert params is not None
    from tests.unit.auth.oracle import NOW, REGION

    verified = verify(sent.view, params, SECRET_KEY, now=NOW, region=REGION)
    assert verified.payload is PayloadMode.STREAMING_UNSIGNED_TRAILER
    headers = {n.lower(): v for n, v in sent.view.headers}
    plan = checksum_plan(headers, trailer_declared=headers.get("x-amz-trailer"))
    assert plan.location == "trailer" and plan.algorithm == "CRC32"
    decoder = AwsChunkedDecoder(
        mode=verified.payload,
        decoded_length=int(headers["x-amz-decoded-content-length"]),
        chunk_signer=None,
        trailer_names=(headers["x-amz-trailer"],),
    )
    payload, trailers = decode(decoder, [sent.body])
    assert payload == b"hello world"
    checksum = plan.new_checksum()
    assert checksum is not None and plan.header_name is not None
    checksum.update(payload)
    checksum.verify(trailers[plan.header_name])
    assert trailers[plan.header_name] == "DUoRhQ=="


def test_auth_error__carries_code_and_status() -> None:
    error: AuthError = IncompleteBody(reason="x")
    assert (error.code, error.status) == ("IncompleteBody", 400)
    assert "x" in str(error) and error.reason == "x"


@pytest.mark.parametrize("value", [None, "", "abc", "-1", "1.5", "1e3", "9" * 40])
def test_decoded_content_length__missing_or_not_a_number_is_411(value: str | None) -> None:
    with pytest.raises(MissingContentLength) as info:
        decoded_content_length(value)
    assert info.value.status == 411


def test_decoded_content_length__plain_decimal_is_read() -> None:
    assert decoded_content_length("66560") == 66560
    assert decoded_content_length("0") == 0
