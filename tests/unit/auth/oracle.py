"""botocore as the signing oracle: a real boto3 S3 client whose requests never leave the process.

A `before-send` hook captures each prepared request (URL, headers, body) and answers it with an
empty 200, so the request is exactly what boto3 would put on the wire; the clock is frozen.

Two signers: with awscrt installed (as here, and in aws-cli v2) boto3 signs through aws-c-auth
("crt"); without it, through botocore's Python signer ("python"), whose canonical request is
recorded for byte comparison. Tests run against both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import botocore.crt.auth
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from auth.sigv4 import RequestView

ACCESS_KEY = "PCORACLEACCESSKEY001"
SECRET_KEY = "oracle/secret+key=with/odd+chars0123456"
REGION = "us-east-1"
NOW = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


@dataclass
class Sent:
    view: RequestView
    body: bytes


@dataclass
class Capture:
    sent: list[Sent] = field(default_factory=list)
    canonical_requests: list[str] = field(default_factory=list)


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any) -> bytes:
        return b""


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return bytes(body.read())


def view_of(method: str, url: str, headers: Any) -> RequestView:
    parts = urlsplit(url)
    pairs = [(str(k), v.decode() if isinstance(v, bytes) else str(v)) for k, v in headers.items()]
    if not any(k.lower() == "host" for k, _ in pairs):
        pairs.append(("Host", parts.netloc))  # what urllib3 sends
    return RequestView(method, parts.path, parts.query, tuple(pairs))


Signer = Literal["python", "crt"]
SIGNERS: tuple[Signer, ...] = ("python", "crt")


@contextlib.contextmanager
def frozen_clock(now: datetime = NOW, *, signer: Signer = "python") -> Iterator[list[str]]:
    """Freeze botocore's signing clock and pick its signer; yield the canonical requests the
    Python signer builds (the CRT signer does not expose them)."""
    recorded: list[str] = []
    original = botocore.auth.SigV4Auth.string_to_sign

    def spy(self: Any, request: Any, canonical_request: str) -> str:
        recorded.append(canonical_request)
        return original(self, request, canonical_request)  # type: ignore[no-any-return]

    def clock(remove_tzinfo: bool = True) -> datetime:
        return now.replace(tzinfo=None) if remove_tzinfo else now

    maps = dict(botocore.auth.AUTH_TYPE_MAPS)
    if signer == "python":
        maps.update({"s3v4": S3SigV4Auth, "s3v4-query": S3SigV4QueryAuth})
    else:
        maps.update(botocore.crt.auth.CRT_AUTH_TYPE_MAPS)
    with (
        mock.patch("botocore.auth.get_current_datetime", clock),
        mock.patch("botocore.crt.auth.get_current_datetime", clock),
        mock.patch.dict(botocore.auth.AUTH_TYPE_MAPS, maps),
        mock.patch.object(botocore.auth.SigV4Auth, "string_to_sign", spy),
    ):
        yield recorded


def s3_client(capture: Capture, *, https: bool = False, **config: Any) -> Any:
    """A boto3 S3 client (path-style, SigV4) whose sends are captured, not performed."""
    scheme = "https" if https else "http"
    client = boto3.client(
        "s3",
        endpoint_url=f"{scheme}://s3.pcache.test:8443",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            **config,
        ),
    )

    def before_send(request: Any, **_: Any) -> AWSResponse:
        body = _body_bytes(request.body)
        capture.sent.append(Sent(view_of(request.method, request.url, request.headers), body))
        return AWSResponse(request.url, 200, {}, _EmptyBody())

    client.meta.events.register("before-send.s3", before_send)
    return client
