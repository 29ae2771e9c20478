"""Cache integrity and tenant isolation end to end (security.md §7.6): two gateway nodes sharing
the session's Redis, IAM users and anonymous callers in front of cached objects, one vendor-bucket
name on two vendors, checksums, SSE-C, multipart ETags and hostile keys against the tier's file
names. Every node's S3 vendor is SeaweedFS behind the counting FaultProxy (`far`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cache.block_file import TMP_DIR
from cache.blocks import BLOCK_ID_HEX_LENGTH
from tests.integration.conftest import _create_local_vendor_bucket
from tests.integration.test_cache_faults import (
    block_files,
    new_bucket,
    settled_status,
)
from tests.rig.cachegw import BLOCK, SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import IamRig, error_code, until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

MIB = 1024 * 1024
_TAG = uuid.uuid4().hex[:10]
# CAC-03: one vendor-bucket name on two vendors, seen as two PBuckets of node A.
SAME_VB = f"samevb-{_TAG}"
PB_FAR = f"cac03-far-{_TAG}"
PB_LOCAL = f"cac03-local-{_TAG}"


@pytest.fixture(autouse=True)
def _proxy_passes(far: FaultProxy) -> Iterator[None]:
    far.mode, far.bandwidth, far.latency_down_ms = "pass", None, 0
    yield
    far.mode, far.bandwidth, far.latency_down_ms = "pass", None, 0
    far.drop_connections()


@pytest.fixture(scope="module")
def node_a(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
    s3_direct: Any,
) -> Iterator[GatewayProcess]:
    """Node A: the far vendor plus a local-directory vendor, and two PBuckets whose vendor
    buckets share one name (CAC-03)."""
    work = tmp_path_factory.mktemp("node-a")
    local_root = work / "local-vendor"
    s3_direct.create_bucket(Bucket=SAME_VB)
    asyncio.run(_create_local_vendor_bucket(local_root, SAME_VB))
    config = far_config(far, seaweed, redis_server, work / "tier") + (
        f'\n[vendors.local]\ntype = "local"\nroot = "{local_root}"\n'
        f'\n[[pbuckets]]\nname = "{PB_FAR}"\nvendor = "far"\nbucket = "{SAME_VB}"\n'
        f'\n[[pbuckets]]\nname = "{PB_LOCAL}"\nvendor = "local"\nbucket = "{SAME_VB}"\n'
    )
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


@pytest.fixture(scope="module")
def node_b(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    """Node B: same vendor, same Redis, its own tier directory."""
    work = tmp_path_factory.mktemp("node-b")
    config = far_config(far, seaweed, redis_server, work / "tier")
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


def _get(client: Any, bucket: str, key: str, **kw: Any) -> tuple[bytes, dict[str, str]]:
    out = client.get_object(Bucket=bucket, Key=key, **kw)
    return out["Body"].read(), out["ResponseMetadata"]["HTTPHeaders"]


def _anonymous(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _status_of(call: Any) -> int:
    try:
        call()
    except ClientError as err:
        return int(err.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


# -- CAC-05 / CAC-06 / CAC-15: two nodes, one Redis ------------------------------------------------


def test_two_nodes__overwrite_and_delete_through_a_are_seen_by_b_at_once(
    node_a: GatewayProcess, node_b: GatewayProcess, s3_direct: Any
) -> None:
    """CAC-05: both nodes cache `k`; a PUT through A → B serves the new bytes and ETag within
    1 s (pub/sub, not a TTL). CAC-06: a multipart overwrite through A → on B, HEAD then GET
    If-Match=<HEAD ETag> → 200 with the new bytes. CAC-15: DELETE through A → B answers 404."""
    a, b = node_a.client(), node_b.client()
    bucket = new_bucket(a)
    v1 = os.urandom(3 * BLOCK + 1)
    a.put_object(Bucket=bucket, Key="k", Body=v1)
    assert _get(a, bucket, "k")[0] == v1
    assert _get(b, bucket, "k")[0] == v1
    settled_status(node_b)
    assert _get(b, bucket, "k")[1]["x-pcache-cache"] == "hit"  # B really holds v1

    v2 = os.urandom(3 * BLOCK + 1)  # same size: only the bytes and the ETag tell them apart
    etag2 = a.put_object(Bucket=bucket, Key="k", Body=v2)["ETag"]
    seen: list[bytes] = []

    def b_serves_v2() -> bool:
        body, headers = _get(b, bucket, "k")
        seen.append(body)
        return body == v2 and headers["etag"] == etag2

    assert until(b_serves_v2, timeout=5) < 1.0
    assert all(body in (v1, v2) for body in seen)

    part1, part2 = os.urandom(5 * MIB), os.urandom(BLOCK + 3)
    upload = a.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": a.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=n, Body=body)[
                "ETag"
            ],
        }
        for n, body in ((1, part1), (2, part2))
    ]
    etag3 = a.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": parts}
    )["ETag"]
    assert etag3.endswith('-2"')
    assert until(lambda: b.head_object(Bucket=bucket, Key="k")["ETag"] == etag3, timeout=5) < 1.0
    head = b.head_object(Bucket=bucket, Key="k")
    assert head["ETag"] == etag3 == s3_direct.head_object(Bucket=bucket, Key="k")["ETag"]
    body, headers = _get(b, bucket, "k", IfMatch=head["ETag"])
    assert body == part1 + part2 and headers["etag"] == etag3
    assert int(headers["content-length"]) == len(part1) + len(part2)

    a.delete_object(Bucket=bucket, Key="k")
    assert (
        until(lambda: error_code(lambda: b.get_object(Bucket=bucket, Key="k")) == "NoSuchKey") < 1
    )
    assert _status_of(lambda: b.head_object(Bucket=bucket, Key="k")) == 404
    assert error_code(lambda: b.get_object(Bucket=bucket, Key="k", Range="bytes=0-9")) == (
        "NoSuchKey"
    )


# -- CAC-01 / CAC-02: authorisation before the cache -----------------------------------------------


def test_isolation__cached_private_object_stays_private(
    node_a: GatewayProcess, far: FaultProxy, redis_server: str
) -> None:
    """CAC-01: alice (allowed) GETs a private object, now cached; bob (no rights) → 403
    AccessDenied; anonymous → 403. CAC-02: with a bucket policy making `pub/*` public, anonymous
    reads `pub/x`, then anonymous GETs of the cached private key are still 403."""
    root = node_a.client()
    bucket = new_bucket(root)
    secret, public = os.urandom(2 * BLOCK + 3), b"public bytes"
    root.put_object(Bucket=bucket, Key="priv/k", Body=secret)
    root.put_object(Bucket=bucket, Key="pub/x", Body=public)
    rig = IamRig(redis_server, node_a.endpoint)
    try:
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        _, ak, sk = rig.user(allow, prefix="alice")
        alice = rig.client(ak, sk)
        _, bk, bs = rig.user(prefix="bob")
        bob = rig.client(bk, bs)
        for client in (alice, bob):

            def known(caller: Any = client) -> bool:
                return error_code(caller.list_buckets) != "InvalidAccessKeyId"

            until(known)

        assert _get(alice, bucket, "priv/k")[0] == secret
        settled_status(node_a)
        body, headers = _get(alice, bucket, "priv/k")
        assert body == secret and headers["x-pcache-cache"] == "hit"

        far.reset_counters()
        assert error_code(lambda: bob.get_object(Bucket=bucket, Key="priv/k")) == "AccessDenied"
        assert error_code(
            lambda: bob.get_object(Bucket=bucket, Key="priv/k", Range="bytes=0-10")
        ) == ("AccessDenied")
        url = f"{node_a.endpoint}/{bucket}"
        assert _anonymous(f"{url}/priv/k")[0] == 403
        assert _anonymous(f"{url}/priv/k", Range="bytes=0-10")[0] == 403
        assert far.requests == 0  # refused before any lookup reached the vendor

        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/pub/*",
                }
            ],
        }
        root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        until(lambda: _anonymous(f"{url}/pub/x")[0] == 200)
        assert _anonymous(f"{url}/pub/x") == (200, public)  # now served from the cache
        for _ in range(2):
            status, body = _anonymous(f"{url}/priv/k")
            assert status == 403 and secret[:16] not in body
        assert _anonymous(f"{url}/priv/k", Range="bytes=0-10")[0] == 403
        assert error_code(lambda: bob.get_object(Bucket=bucket, Key="priv/k")) == "AccessDenied"
        assert _get(alice, bucket, "priv/k")[0] == secret
    finally:
        rig.close()


# -- CAC-03: one vendor-bucket name on two vendors -------------------------------------------------


def test_isolation__same_vendor_bucket_name_on_two_vendors_keeps_its_own_bytes(
    node_a: GatewayProcess, far: FaultProxy
) -> None:
    """CAC-03: PBuckets on the far vendor and on the local vendor, both over a vendor bucket
    named alike, hold the same key with different bytes of one size → each PBucket returns its
    own bytes on the first (miss) and the second (cached) read."""
    client = node_a.client()
    far_bytes, local_bytes = os.urandom(2 * BLOCK + 5), os.urandom(2 * BLOCK + 5)
    client.put_object(Bucket=PB_FAR, Key="same/k", Body=far_bytes)
    client.put_object(Bucket=PB_LOCAL, Key="same/k", Body=local_bytes)
    assert _get(client, PB_FAR, "same/k")[0] == far_bytes
    assert _get(client, PB_LOCAL, "same/k")[0] == local_bytes
    settled_status(node_a)
    far.mode = "reset"  # the second reads must come from the cache
    far.drop_connections()
    for pbucket, expected in ((PB_FAR, far_bytes), (PB_LOCAL, local_bytes)):
        body, headers = _get(client, pbucket, "same/k")
        assert body == expected and headers["x-pcache-cache"] == "hit", pbucket
        ranged, _ = _get(client, pbucket, "same/k", Range=f"bytes={BLOCK - 2}-{BLOCK + 2}")
        assert ranged == expected[BLOCK - 2 : BLOCK + 3], pbucket


# -- CAC-12: checksums through the cache -----------------------------------------------------------


def test_checksums__full_get_carries_the_vendor_checksum_ranged_get_none(
    node_a: GatewayProcess, s3_direct: Any
) -> None:
    """CAC-12: an object uploaded with a SHA-256 checksum (SeaweedFS stores and returns it):
    a full GET with ChecksumMode=ENABLED, on miss and on hit, carries the vendor's
    x-amz-checksum-sha256 and passes boto3's validation; a ranged GET from the cache carries no
    full-object x-amz-checksum-* on its 206."""
    client = node_a.client()
    bucket = new_bucket(client)
    data = os.urandom(3 * BLOCK + 11)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    client.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm="SHA256")
    vendor = s3_direct.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert vendor["ChecksumSHA256"] == digest  # what the vendor stored
    for label in ("miss", "hit"):
        out = client.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
        body = out["Body"].read()  # boto3 validates the body against the header here
        headers = out["ResponseMetadata"]["HTTPHeaders"]
        assert body == data and headers["x-pcache-cache"] == label
        assert headers.get("x-amz-checksum-sha256") == digest
        if label == "miss":
            settled_status(node_a)
    for rng in ("bytes=0-99", f"bytes={BLOCK}-{2 * BLOCK + 5}", "bytes=-7"):
        out = client.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED", Range=rng)
        headers = out["ResponseMetadata"]["HTTPHeaders"]
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert headers["x-pcache-cache"] == "hit"
        assert not [h for h in headers if h.startswith("x-amz-checksum-")], rng
        first, _, last = rng.removeprefix("bytes=").partition("-")
        if first:
            assert out["Body"].read() == data[int(first) : int(last) + 1]
        else:
            assert out["Body"].read() == data[-int(last) :]


# -- CAC-14: SSE-C is never a shared cache entry ------------------------------------------------


def _sse_c(key: bytes) -> dict[str, Any]:
    """SSE-C parameters; boto3 base64-encodes the raw key and adds its MD5 itself."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def test_sse_c__reads_without_the_key_never_get_plaintext_and_sse_c_bypasses_cache(
    node_a: GatewayProcess, far: FaultProxy, s3_direct: Any
) -> None:
    """CAC-14: an SSE-C object (SeaweedFS supports SSE-C) read through the gateway without the
    customer key → an error, never the plaintext, however often asked (nothing cached from the
    attempt). And a GET carrying SSE-C headers is never answered from the cache: after a plain
    cached GET of another key, the SSE-C GET of that key reaches the vendor."""
    client = node_a.client()
    bucket = new_bucket(client)
    customer_key = os.urandom(32)
    secret = os.urandom(BLOCK + 17)
    s3_direct.put_object(Bucket=bucket, Key="enc", Body=secret, **_sse_c(customer_key))
    for rng in (None, "bytes=0-99", None):
        kw = {"Range": rng} if rng else {}
        try:
            body, _ = _get(client, bucket, "enc", **kw)
        except ClientError as err:
            assert 400 <= err.response["ResponseMetadata"]["HTTPStatusCode"] < 500
        else:  # pragma: no cover - the failure being tested
            pytest.fail(f"plaintext of an SSE-C object served without its key ({len(body)} B)")

    plain = os.urandom(BLOCK + 1)
    client.put_object(Bucket=bucket, Key="plain", Body=plain)
    assert _get(client, bucket, "plain")[0] == plain
    settled_status(node_a)
    far.reset_counters()
    assert _get(client, bucket, "plain")[1]["x-pcache-cache"] == "hit"
    assert far.requests == 0
    try:
        _, headers = _get(client, bucket, "plain", **_sse_c(customer_key))
    except ClientError as err:
        headers = err.response["ResponseMetadata"]["HTTPHeaders"]
    assert far.requests >= 1  # the vendor was asked: the cache did not answer
    assert "x-pcache-cache" not in headers


@pytest.mark.xfail(
    strict=True,
    reason="SSE-C headers are not passed to the vendor (router's get_object has no SSE-C "
    "parameters): a GET with the right customer key fails at the vendor",
)
def test_sse_c__read_with_the_right_key_goes_to_the_vendor(
    node_a: GatewayProcess, far: FaultProxy, s3_direct: Any
) -> None:
    """CAC-14 (the other half): the owner's SSE-C GET with the right key → 200 plaintext from
    the vendor, twice, and neither read is a cache answer."""
    client = node_a.client()
    bucket = new_bucket(client)
    customer_key = os.urandom(32)
    secret = os.urandom(BLOCK + 17)
    s3_direct.put_object(Bucket=bucket, Key="enc", Body=secret, **_sse_c(customer_key))
    for _ in range(2):
        far.reset_counters()
        body, headers = _get(client, bucket, "enc", **_sse_c(customer_key))
        assert body == secret and "x-pcache-cache" not in headers
        assert far.requests >= 1


# -- CAC-16: the vendor's ETag, multipart included ----------------------------------------------


def test_etag__multipart_etag_through_the_cache_is_the_vendors(
    node_a: GatewayProcess, s3_direct: Any
) -> None:
    """CAC-16: a multipart object's ETag (`"...-N"`) through the cache equals the vendor's on
    the miss, on the hit and on a ranged hit, never an MD5 of the cached bytes."""
    client = node_a.client()
    bucket = new_bucket(client)
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(7)]
    upload = s3_direct.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3_direct.upload_part(
                Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n, Body=body
            )["ETag"],
        }
        for n, body in enumerate(parts_data, start=1)
    ]
    s3_direct.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    vendor_etag = s3_direct.head_object(Bucket=bucket, Key="mp")["ETag"]
    assert vendor_etag.endswith('-3"')
    data = b"".join(parts_data)
    body, headers = _get(client, bucket, "mp")
    assert body == data and headers["etag"] == vendor_etag and headers["x-pcache-cache"] == "miss"
    settled_status(node_a)
    body, headers = _get(client, bucket, "mp")
    assert body == data and headers["etag"] == vendor_etag and headers["x-pcache-cache"] == "hit"
    _, headers = _get(client, bucket, "mp", Range="bytes=100-200")
    assert headers["etag"] == vendor_etag
    assert client.head_object(Bucket=bucket, Key="mp")["ETag"] == vendor_etag
    assert vendor_etag.strip('"') != hashlib.md5(data).hexdigest()  # an MD5 of the bytes


# -- CAC-17: keys never become paths ------------------------------------------------------------


_FAR_KEYS = [
    ("seg" * 60 + "/") * 5 + "z" * (1024 - 5 * 181),  # 1024 bytes in 181-byte segments
    "%2e%2e/%2e%2e/etc/passwd",
    "%2E%2E%2F%2E%2E%2Fescape",
    unicodedata.normalize("NFC", "caf\u00e9/r\u00e9sum\u00e9"),
    unicodedata.normalize("NFD", "caf\u00e9/r\u00e9sum\u00e9"),
    "\u202eevil\U0001f600/\u0131\u212a/\u00a0nbsp",
]
_LOCAL_KEYS = [
    "s" * 1024,  # one 1024-byte segment: longer than any file name may be
    "d/e/../../f",
    "..\\..\\win.ini",
    "a//b/./c",
    "x/../y",
]


def test_keys__hostile_keys_make_only_hash_named_files_inside_the_tier(
    node_a: GatewayProcess,
) -> None:
    """CAC-17: 1024-byte keys, `../` and `%2e%2e/` keys and odd (NUL-free) unicode, NFC and NFD
    spellings as distinct keys → each reads back its own bytes twice (miss, then hit), and the
    tier directory holds only `<2 hex>/<64 hex>` block files (and `tmp/`), nothing elsewhere."""
    client = node_a.client()
    far_bucket = new_bucket(client)
    keys = [(far_bucket, k) for k in _FAR_KEYS]
    keys += [(PB_LOCAL, f"cac17/{k}") for k in _LOCAL_KEYS[1:]] + [(PB_LOCAL, _LOCAL_KEYS[0])]
    assert len({k for _, k in keys}) == len(keys)  # NFC and NFD really are two keys
    bodies = {}
    for n, (bucket, key) in enumerate(keys):
        bodies[bucket, key] = os.urandom(BLOCK + 1 + n)
        client.put_object(Bucket=bucket, Key=key, Body=bodies[bucket, key])
    tier = node_a.workdir / "tier"
    before = set(block_files(tier))
    for label in ("miss", "hit"):
        for (bucket, key), body in bodies.items():
            got, headers = _get(client, bucket, key)
            assert got == body, (key, label)
            assert headers["x-pcache-cache"] == label, (key, label)
        settled_status(node_a)
    assert len(set(block_files(tier)) - before) == 2 * len(keys)  # two blocks per object
    for path in tier.rglob("*"):
        parts = path.relative_to(tier).parts
        if parts[0] == TMP_DIR:
            continue
        assert len(parts) <= 2 and len(parts[0]) == 2, path
        assert all(c in "0123456789abcdef" for c in "".join(parts)), path
        if len(parts) == 2:
            assert len(parts[1]) == BLOCK_ID_HEX_LENGTH and parts[1].startswith(parts[0])
    words = ("passwd", "escape", "win.ini", "evil", "sum", "sss", "zzz", "%2", "\u00e9")
    for path in node_a.workdir.rglob("*"):
        name = path.name.lower()
        assert not any(w in name for w in words), path
        assert len(path.name.encode()) <= 255, path
