"""A gateway configuration for cache tests: the S3 vendor is SeaweedFS behind a counting
FaultProxy ("far"), blocks are small (64 KiB) so multi-block objects stay cheap, and the node
shares the session's Redis and master key."""

from __future__ import annotations

from pathlib import Path

from tests.rig.iam import TEST_MASTER_KEY_HEX
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

__all__ = ["BLOCK", "SHARED_KEY", "far_config"]

BLOCK = 64 * 1024
# Nodes sharing the session's Redis (and its root key): a cluster shares one master key.
SHARED_KEY = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}


def far_config(
    proxy: FaultProxy,
    seaweed: SeaweedServer,
    redis_url: str,
    tier: Path,
    *,
    max_age: int = 600,
    stale_if_error: int = 0,
    enabled: bool = True,
    block_size: int = BLOCK,
    breaker_failures: int = 1000,
    tier_capacity: int = 64 * 1024 * 1024,
    write_mode: str = "around",
    cache_extra: str = "",
    tail: str = "",
) -> str:
    """`cache_extra`: more `[cache]` keys; `tail`: more tables (`[[cache.rule]]` ...).

    Writes go around the cache unless `write_mode="through"`: most cache tests PUT through the
    gateway and then need the first read to be cold. The suites switch the vendor on and off and
    expect it back at once, so the circuit breaker (which would fail fast for its cool-down) is
    effectively off unless a test asks."""
    return f"""
[node]
region = "us-east-1"
vendor_allowlist = ["127.0.0.0/8"]  # the rig's vendors are on loopback

[redis]
url = "{redis_url}"

[vendors.far]
type = "s3"
endpoint = "{proxy.endpoint}"
access_key = "{seaweed.access_key}"
secret_key = "{seaweed.secret_key}"
read_timeout = 5
connect_timeout = 2
breaker_failures = {breaker_failures}

[cache]
enabled = {"true" if enabled else "false"}
block_size = {block_size}
max_age = {max_age}
stale_if_error = {stale_if_error}
write_mode = "{write_mode}"
{cache_extra}

[[cache.tier]]
name = "ram"
dir = "{tier}"
capacity = {tier_capacity}
{tail}
"""
