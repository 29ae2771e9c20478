"""Session fixtures for the real servers (SeaweedFS, Redis) and a fresh vendor bucket per test.

Everything binds 127.0.0.1. SDK retries are off (AWS_MAX_ATTEMPTS=1 and explicit client config) so
a deliberate failure is seen exactly once.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import settings

from tests.rig.redis import RedisServer
from tests.rig.seaweed import SeaweedServer

# Property tests check behaviour, not speed: hypothesis's 200 ms per-example deadline turned a
# loaded 2-core machine into failures of correct code.
settings.register_profile("pcache", deadline=None)
settings.load_profile("pcache")

SEAWEED_ACCESS_KEY = "AKSEAWEED"
SEAWEED_SECRET_KEY = "SKSEAWEED"


@pytest.fixture(scope="session", autouse=True)
def _aws_environment() -> Iterator[None]:
    """No retries, no shared config or credential files, no instance-metadata lookups."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_MAX_ATTEMPTS", "1")
        mp.setenv("AWS_RETRY_MODE", "standard")
        mp.setenv("AWS_CONFIG_FILE", "/dev/null")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of a throwaway Redis for the whole session."""
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A SeaweedFS S3 server (.endpoint, .access_key, .secret_key) for the whole session."""
    with SeaweedServer(SEAWEED_ACCESS_KEY, SEAWEED_SECRET_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def s3_direct(seaweed: SeaweedServer) -> Any:
    """A sync boto3 client straight to SeaweedFS: the oracle tests compare against."""
    return seaweed.client()


def _empty_and_delete(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            with contextlib.suppress(ClientError):  # a key the vendor mangled in the listing
                client.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [obj["Key"] for obj in page.get("Contents", [])]
        # XML 1.0 cannot carry control characters, so those keys go one DELETE each.
        odd = [k for k in keys if any(ord(c) < 0x20 for c in k)]
        for key in odd:
            client.delete_object(Bucket=bucket, Key=key)
        plain = [{"Key": k} for k in keys if k not in odd]
        if plain:
            client.delete_objects(Bucket=bucket, Delete={"Objects": plain, "Quiet": True})
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def vendor_bucket(s3_direct: Any) -> Iterator[str]:
    """A fresh, uniquely named bucket on SeaweedFS, emptied and removed afterwards."""
    name = f"t-{uuid.uuid4().hex[:24]}"
    s3_direct.create_bucket(Bucket=name)
    yield name
    _empty_and_delete(s3_direct, name)
