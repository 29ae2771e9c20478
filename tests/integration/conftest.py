"""Gateway fixtures: a real `pcache serve` in front of SeaweedFS (and a local vendor), over HTTP
and HTTPS, plus a fresh PBucket per test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import _empty_and_delete
from tests.integration.test_admin_api import AdminApi
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import TEST_MASTER_KEY_HEX, IamRig
from tests.rig.pbuckets import PBucketUnderTest
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

# A PBucket declared in the config on the local-directory vendor (under a key prefix), so tests
# can move objects between two vendors.
LOCAL_PBUCKET = "pb-local"
SEAWEED_VENDOR = "seaweed"


async def _create_local_vendor_bucket(root: Path, name: str) -> None:
    from router.local_upstream import LocalUpstream, LocalVendorSettings

    vendor = LocalUpstream(LocalVendorSettings(name="local", root=root))
    try:
        await vendor.create_bucket(name)
    finally:
        await vendor.close()


def gateway_config(seaweed: SeaweedServer, redis_url: str, workdir: Path) -> str:
    return f"""
[node]
region = "us-east-1"
domain = "s3.pcache.test"
vendor_allowlist = ["127.0.0.0/8"]  # the rig's SeaweedFS is on loopback

[redis]
url = "{redis_url}"

[vendors.{SEAWEED_VENDOR}]
type = "s3"
endpoint = "{seaweed.endpoint}"
access_key = "{seaweed.access_key}"
secret_key = "{seaweed.secret_key}"
read_timeout = 30

[vendors.local]
type = "local"
root = "{workdir / "local-vendor"}"

[buckets]
default_vendor = "{SEAWEED_VENDOR}"

[[pbuckets]]
name = "{LOCAL_PBUCKET}"
vendor = "local"
bucket = "lb"
prefix = "tenant/"
"""


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer, redis_server: str
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("gateway")
    config = gateway_config(seaweed, redis_server, workdir)
    asyncio.run(_create_local_vendor_bucket(workdir / "local-vendor", "lb"))
    env = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}
    with GatewayProcess(workdir, config=config, tls=True, extra_env=env) as gw:
        yield gw


@pytest.fixture(scope="session")
def s3(gateway: GatewayProcess) -> Any:
    """boto3 (latest, default checksum settings) to PCache over plain HTTP."""
    return gateway.client()


@pytest.fixture(scope="session")
def s3_tls(gateway: GatewayProcess) -> Any:
    """boto3 to PCache over HTTPS: uploads use aws-chunked with an unsigned CRC32 trailer."""
    return gateway.client(tls=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.policies("single", "balance", ...)` (on a test or a module) runs each test
    that uses `pbucket` (or `bucket`) once per placement policy; unmarked tests get `single`."""
    marker = metafunc.definition.get_closest_marker("policies")
    if marker is not None and "pbucket" in metafunc.fixturenames:
        metafunc.parametrize("pbucket", marker.args, indirect=True)


@pytest.fixture(scope="session")
def policy_vendor_buckets(s3_direct: Any) -> Iterator[tuple[str, ...]]:
    """Three SeaweedFS buckets under every `balance` and `replicate` PBucket of the session
    (each PBucket under its own key prefix); made once, on first use."""
    uid = uuid.uuid4().hex[:8]
    names = tuple(f"pol-{uid}-{n}" for n in "abc")
    for name in names:
        s3_direct.create_bucket(Bucket=name)
    yield names
    for name in names:
        _empty_and_delete(s3_direct, name)


@pytest.fixture
def pbucket(
    request: pytest.FixtureRequest, s3: Any, gateway: GatewayProcess
) -> Iterator[PBucketUnderTest]:
    """A fresh, empty PBucket under the policy this test is parametrised with (`single` when
    not): S3 CreateBucket for `single`, the admin API over three vendor buckets otherwise."""
    policy = getattr(request, "param", "single")
    name = f"pb-{uuid.uuid4().hex[:20]}"
    if policy == "single":
        pb = PBucketUnderTest(name, policy, SEAWEED_VENDOR, ((name, ""),))
        s3.create_bucket(Bucket=name)
    else:
        shared = request.getfixturevalue("policy_vendor_buckets")
        targets = tuple((b, f"{name}/") for b in shared)
        pb = PBucketUnderTest(name, policy, SEAWEED_VENDOR, targets)
        root = AdminApi(gateway.endpoint, gateway.access_key, gateway.secret_key, "root")
        root.ok("POST", "/admin/v1/pbuckets", pb.admin_body(), status=201)
    yield pb
    # DeleteBucket removes an admin-made PBucket's record only (the shared buckets stay).
    _empty_and_delete(s3, name)


@pytest.fixture
def bucket(pbucket: PBucketUnderTest) -> str:
    """The name of a fresh PBucket (see `pbucket`; `single` on the SeaweedFS vendor unless the
    test is marked with other policies)."""
    return pbucket.name


@pytest.fixture
def local_bucket(s3: Any) -> Iterator[str]:
    """The config-declared PBucket on the local vendor, emptied after each test."""
    yield LOCAL_PBUCKET
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LOCAL_PBUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=LOCAL_PBUCKET, Key=obj["Key"])


@pytest.fixture(scope="session")
def iam(gateway: GatewayProcess, redis_server: str) -> Iterator[IamRig]:
    """IAM users, keys and policies written straight to the gateway's Redis."""
    rig = IamRig(redis_server, gateway.endpoint)
    yield rig
    rig.close()


@pytest.fixture(scope="module")
def far(seaweed: SeaweedServer) -> Iterator[FaultProxy]:
    """SeaweedFS behind a counting fault proxy: the 'far' vendor of the cache tests."""
    parts = urlsplit(seaweed.endpoint)
    with FaultProxy(parts.hostname or "127.0.0.1", int(parts.port or 80)) as proxy:
        yield proxy
