"""SigV4 at the wire: what a real client sends right is accepted, everything else gets the exact
S3 error and stores nothing (security.md 7.1-7.3)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.rig.gateway import GatewayProcess


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _send(req: AWSRequest) -> tuple[int, bytes]:
    prepared = req.prepare()
    raw = urllib.request.Request(
        prepared.url, data=prepared.body, method=prepared.method, headers=dict(prepared.headers)
    )
    try:
        with urllib.request.urlopen(raw, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class _ClaimedPayload(S3SigV4Auth):
    """botocore's signer, but signing the payload hash the test claims (botocore computes it)."""

    def payload(self, request: AWSRequest) -> str:
        claimed = request.context.get("claimed_payload")
        return str(claimed) if claimed else str(super().payload(request))


def _signed(gw: GatewayProcess, method: str, path: str, body: bytes, **headers: str) -> AWSRequest:
    claimed = headers.pop("x-amz-content-sha256", None)
    req = AWSRequest(method=method, url=gw.endpoint + path, data=body, headers=headers)
    req.context["claimed_payload"] = claimed
    creds = Credentials(gw.access_key, gw.secret_key)
    _ClaimedPayload(creds, "s3", "us-east-1").add_auth(req)
    return req


def test_auth__wrong_secret_is_signature_mismatch(gateway: GatewayProcess, bucket: str) -> None:
    bad = boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id=gateway.access_key,
        aws_secret_access_key="wrong-secret",
        region_name="us-east-1",
        config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as ei:
        bad.list_objects_v2(Bucket=bucket)
    assert _code(ei) == ("SignatureDoesNotMatch", 403)


def test_auth__unknown_key_is_invalid_access_key(gateway: GatewayProcess, bucket: str) -> None:
    bad = boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id="AKNOBODY00000000000",
        aws_secret_access_key="x",
        region_name="us-east-1",
        config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as ei:
        bad.head_bucket(Bucket=bucket)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_auth__anonymous_is_denied_without_leaking(
    gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=b"x")
    req = urllib.request.Request(
        f"{gateway.endpoint}/{bucket}/secret", headers={"If-None-Match": "*"}
    )
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=5)
    assert ei.value.code == 403
    assert b"<Code>AccessDenied</Code>" in ei.value.read()
    assert "ETag" not in ei.value.headers and "Last-Modified" not in ei.value.headers


def test_auth__sigv2_is_refused_clearly(gateway: GatewayProcess, bucket: str) -> None:
    req = urllib.request.Request(
        f"{gateway.endpoint}/{bucket}", headers={"Authorization": f"AWS {gateway.access_key}:abc="}
    )
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=5)
    body = ei.value.read()
    assert ei.value.code == 400 and b"<Code>InvalidRequest</Code>" in body
    assert b"AWS4-HMAC-SHA256" in body


def test_put__payload_hash_mismatch_stores_nothing(
    gateway: GatewayProcess, s3_direct: Any, bucket: str
) -> None:
    body = b"the real body"
    req = _signed(
        gateway,
        "PUT",
        f"/{bucket}/k",
        body,
        **{"x-amz-content-sha256": hashlib.sha256(b"another body").hexdigest()},
    )
    status, out = _send(req)
    assert status == 400 and b"XAmzContentSHA256Mismatch" in out
    with pytest.raises(ClientError):
        s3_direct.head_object(Bucket=bucket, Key="k")


def test_put__unsigned_semantic_header_is_refused(
    gateway: GatewayProcess, s3_direct: Any, bucket: str
) -> None:
    req = _signed(
        gateway,
        "PUT",
        f"/{bucket}/k",
        b"data",
        **{"x-amz-content-sha256": hashlib.sha256(b"data").hexdigest()},
    )
    req.headers["x-amz-tagging"] = "evil=1"  # added after signing
    status, out = _send(req)
    assert status == 403 and b"AccessDenied" in out and b"HeadersNotSigned" in out
    with pytest.raises(ClientError):
        s3_direct.head_object(Bucket=bucket, Key="k")


def test_put__aws_chunked_signed_example_shape(
    gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    """A signed aws-chunked upload built by hand (no available client sends one)."""
    import hmac

    data = b"a" * 70000
    chunks = [data[:65536], data[65536:], b""]
    req = _signed(
        gateway,
        "PUT",
        f"/{bucket}/chunked",
        b"",
        **{
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
        },
    )
    amz_date = req.headers["X-Amz-Date"]
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    date, scope = amz_date[:8], f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    k = hmac.new(("AWS4" + gateway.secret_key).encode(), date.encode(), hashlib.sha256).digest()
    for part in ("us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    prev, framed = seed, b""
    for chunk in chunks:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                scope,
                prev,
                hashlib.sha256(b"").hexdigest(),
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        framed += f"{len(chunk):x};chunk-signature={prev}\r\n".encode() + chunk + b"\r\n"
    req.data = framed
    req.headers["Content-Length"] = str(len(framed))
    status, out = _send(req)
    assert status == 200, out
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        (
            "PUT",
            "?tagging",
            b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>",
        ),
        ("POST", "?delete", b"<Delete><Object><Key>x</Key></Object></Delete>"),
    ],
)
def test_put__unsigned_trailer_on_a_config_body_is_invalid_request(
    gateway: GatewayProcess, s3: Any, bucket: str, method: str, query: str, body: bytes
) -> None:
    """STR-16: the unsigned-trailer framing belongs to object uploads only."""
    s3.put_object(Bucket=bucket, Key="x", Body=b"keep")
    framed = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    req = _signed(
        gateway,
        method,
        f"/{bucket}/x{query}" if query == "?tagging" else f"/{bucket}{query}",
        framed,
        **{
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(body)),
        },
    )
    status, out = _send(req)
    assert status == 400, out
    assert b"<Code>InvalidRequest</Code>" in out
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"keep"
    assert s3.get_object_tagging(Bucket=bucket, Key="x")["TagSet"] == []
