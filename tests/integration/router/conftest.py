"""Router fixtures against the real SeaweedFS: an `S3Upstream` shared by the session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from router.endpoint_guard import parse_allowlist
from router.s3_settings import S3VendorSettings
from router.s3_upstream import S3Upstream
from tests.rig.seaweed import SeaweedServer


def seaweed_settings(seaweed: SeaweedServer, **overrides: Any) -> S3VendorSettings:
    """Settings for the rig's SeaweedFS; `endpoint_url=` etc. override (e.g. via a proxy)."""
    values: dict[str, Any] = {
        "name": "seaweed",
        "endpoint_url": seaweed.endpoint,
        "region": seaweed.region,
        "access_key": seaweed.access_key,
        "secret_key": seaweed.secret_key,
        "connect_timeout": 2.0,
        "read_timeout": 30.0,
        "allowlist": parse_allowlist(["127.0.0.0/8"]),  # the rig's servers are on loopback
    }
    values.update(overrides)
    return S3VendorSettings(**values)


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def s3_upstream(seaweed: SeaweedServer) -> AsyncIterator[S3Upstream]:
    upstream = S3Upstream(seaweed_settings(seaweed))
    yield upstream
    await upstream.close()
