"""Lifecycle job fixtures: a Redis client on the session Redis, SeaweedFS views, a clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis
from redis.asyncio import Redis

from router.pbucket import BucketView, PBucket, TargetSpec
from router.profiles import StorageClasses
from router.s3_upstream import S3Upstream
from tests.integration.router.conftest import seaweed_settings
from tests.rig.iam import until
from tests.rig.seaweed import SeaweedServer
from ttl.lease import lease_key
from ttl.store import LifecycleStore


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def redis_client(redis_server: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def ttl_upstream(seaweed: SeaweedServer) -> AsyncIterator[S3Upstream]:
    """SeaweedFS with a storage-class map, so transitions have somewhere to go."""
    upstream = S3Upstream(
        seaweed_settings(
            seaweed,
            name="seaweed-ttl",
            storage_classes=StorageClasses("STANDARD", "STANDARD_IA", "GLACIER_IR"),
        )
    )
    yield upstream
    await upstream.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pb_name(redis_client: Redis) -> AsyncIterator[str]:
    """A fresh PBucket name; its rules leave the shared Redis afterwards (other nodes'
    schedulers read the index)."""
    name = f"pb-{uuid.uuid4().hex[:16]}"
    yield name
    await LifecycleStore(redis_client).delete(name)


@pytest.fixture
def view(ttl_upstream: S3Upstream, vendor_bucket: str, pb_name: str) -> BucketView:
    """A `single` PBucket on a fresh SeaweedFS bucket."""
    pb = PBucket(name=pb_name, targets=(TargetSpec("seaweed-ttl", vendor_bucket),))
    return BucketView(pb, ttl_upstream)


def objects(s3_direct: Any, bucket: str) -> dict[str, str]:
    """key → storage class, as SeaweedFS lists them."""
    out: dict[str, str] = {}
    for page in s3_direct.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj.get("StorageClass", "STANDARD")
    return out


def lease_gone(redis_url: str, pbucket: str, timeout: float = 5.0) -> None:
    """Wait (polling Redis, a sync client: nothing else needs the loop) until the lease of
    `pbucket` has expired."""
    with redis.Redis.from_url(redis_url) as client:
        until(lambda: not client.exists(lease_key(pbucket)), timeout, f"the lease of {pbucket}")
