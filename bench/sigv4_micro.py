"""SigV4 verification cost: `parse_auth` + `verify` on a boto3-signed GET, and one aws-chunked
64 KiB chunk (SHA-256 of the data + the chained chunk signature check)."""

from __future__ import annotations

import hashlib
import timeit
from typing import Any

from tests.unit.auth.oracle import NOW, REGION, SECRET_KEY, Capture, frozen_clock, s3_client

from auth.sigv4 import parse_auth, signature, verify
from auth.streaming import ChunkSigner

CHUNK = 64 * 1024


def _signed_get() -> Any:
    """The RequestView boto3 would put on the wire for a GetObject (frozen clock)."""
    capture = Capture()
    with frozen_clock(signer="python"):
        s3_client(capture).get_object(Bucket="bench-bucket", Key="dir/object-0001.bin")
    return capture.sent[0].view


def _per_op_us(fn: Any, number: int) -> float:
    """Best of 3 timeit repeats, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def header_verify_us(number: int) -> float:
    view = _signed_get()

    def once() -> None:
        params = parse_auth(view)
        assert params is not None
        verify(view, params, SECRET_KEY, now=NOW, region=REGION)

    once()  # raises if the signature does not check out
    return _per_op_us(once, number)


def chunk_verify_us(number: int) -> float:
    """Per 64 KiB chunk: hash the data, then check its signature against a precomputed chain."""
    params = parse_auth(_signed_get())
    assert params is not None
    verified = verify(_signed_get(), params, SECRET_KEY, now=NOW, region=REGION)
    data = bytes(CHUNK)
    data_sha = hashlib.sha256(data).hexdigest()
    chain = ChunkSigner.from_verified(verified)
    expected: list[bytes] = []
    for _ in range(number):
        sig = signature(verified.signing_key, chain.chunk_string_to_sign(data_sha))
        expected.append(sig.encode())
        chain.verify_chunk(data_sha, expected[-1])  # walks the chain forward

    def run() -> None:
        signer = ChunkSigner.from_verified(verified)
        for sig in expected:
            signer.verify_chunk(hashlib.sha256(data).hexdigest(), sig)

    run()
    return min(timeit.repeat(run, number=1, repeat=3)) / number * 1e6
