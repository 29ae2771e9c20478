"""SigV4 verification cost: building the RequestView, `parse_auth` and `verify` on a boto3-signed
GET (header auth) and on a boto3 presigned GET URL, and one aws-chunked 64 KiB chunk (SHA-256
of the data + the chained chunk signature check).

Run alone: `python -m bench.sigv4_micro [iterations]`.
"""

from __future__ import annotations

import hashlib
import sys
import timeit
from typing import Any
from urllib.parse import urlsplit

from tests.unit.auth.oracle import (
    NOW,
    REGION,
    SECRET_KEY,
    Capture,
    frozen_clock,
    s3_client,
    view_of,
)

from auth.sigv4 import RequestView, parse_auth, signature, verify
from auth.streaming import ChunkSigner

CHUNK = 64 * 1024


def _signed_get() -> Any:
    """The RequestView boto3 would put on the wire for a GetObject (frozen clock)."""
    capture = Capture()
    with frozen_clock(signer="python"):
        s3_client(capture).get_object(Bucket="bench-bucket", Key="dir/object-0001.bin")
    return capture.sent[0].view


def _presigned_get() -> Any:
    """The RequestView of a boto3 presigned GetObject URL (one hour, frozen clock), fetched the
    way curl would (Host, User-Agent, Accept)."""
    client = s3_client(Capture())
    with frozen_clock(signer="python"):
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": "bench-bucket", "Key": "dir/object-0001.bin"}
        )
    headers = {"Host": urlsplit(url).netloc, "User-Agent": "curl/8.5.0", "Accept": "*/*"}
    return view_of("GET", url, headers)


def _per_op_us(fn: Any, number: int) -> float:
    """Best of 5 timeit repeats, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def _verify_us(sent: RequestView, number: int) -> float:
    method, path, query, headers = sent.method, sent.raw_path, sent.raw_query, sent.headers

    def once() -> None:
        # Built per request as the gateway does: the view indexes headers and splits the query.
        view = RequestView(method, path, query, headers)
        params = parse_auth(view)
        assert params is not None
        verify(view, params, SECRET_KEY, now=NOW, region=REGION)

    once()  # raises if the signature does not check out
    return _per_op_us(once, number)


def header_verify_us(number: int) -> float:
    """RequestView + parse_auth + verify of a header-signed GET (x-amz-content-sha256 of the
    empty body)."""
    return _verify_us(_signed_get(), number)


def presigned_verify_us(number: int) -> float:
    """RequestView + parse_auth + verify of a presigned GET URL (UNSIGNED-PAYLOAD, six query
    parameters)."""
    return _verify_us(_presigned_get(), number)


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


if __name__ == "__main__":
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(f"header-signed GET  view+parse+verify: {header_verify_us(iterations):6.1f} us")
    print(f"presigned GET      view+parse+verify: {presigned_verify_us(iterations):6.1f} us")
    print(f"64 KiB chunk verify:                  {chunk_verify_us(iterations // 4):6.1f} us")
