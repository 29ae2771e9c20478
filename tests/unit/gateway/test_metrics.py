"""gateway.metrics: request counters and histogram through the module registry, and the
scrape-time collector over a real tiered store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from redis.asyncio import Redis

from auth.iam_store import IamStore
from auth.iam_view import IamView
from auth.secrets import SecretBox
from cache.block_file import HEADER_SIZE
from cache.meta import MetaCache
from cache.store import StoreSettings, TieredStore, TierSettings
from gateway import metrics
from gateway.cache_read import CacheService, CacheSettings
from gateway.metrics import REGISTRY, NodeCollector, observe_request
from tests.unit.cache._helpers import block, payload

KIB = 1024


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _op() -> str:
    return f"Op{uuid.uuid4().hex[:8]}"  # a fresh label set per test: the registry is global


def test_observe_request__counts_requests_bytes_and_latency() -> None:
    op, pb = _op(), f"pb-{uuid.uuid4().hex[:8]}"
    observe_request(op, pb, 200, 1000, 0.0007, None)
    observe_request(op, pb, 206, 24, 0.2, None)
    observe_request(op, pb, 503, 0, 3.0, None)
    assert _value("pcache_requests_total", op=op, status_class="2xx", pbucket=pb) == 2
    assert _value("pcache_requests_total", op=op, status_class="5xx", pbucket=pb) == 1
    assert _value("pcache_response_bytes_total", op=op, pbucket=pb) == 1024
    assert _value("pcache_request_seconds_count", op=op) == 3
    assert _value("pcache_request_seconds_sum", op=op) == pytest.approx(3.2007)
    assert _value("pcache_request_seconds_bucket", op=op, le="0.0005") == 0
    assert _value("pcache_request_seconds_bucket", op=op, le="0.001") == 1
    assert _value("pcache_request_seconds_bucket", op=op, le="0.25") == 2
    assert _value("pcache_request_seconds_bucket", op=op, le="30.0") == 3
    assert _value("pcache_request_seconds_bucket", op=op, le="+Inf") == 3


def test_observe_request__cache_results_by_label() -> None:
    pb = f"pb-{uuid.uuid4().hex[:8]}"
    observe_request("GetObject", pb, 200, 100, 0.01, "miss")
    observe_request("GetObject", pb, 200, 100, 0.01, "hit")
    observe_request("GetObject", pb, 206, 40, 0.01, "hit")
    observe_request("GetObject", pb, 200, 7, 0.01, "partial")
    observe_request("GetObject", pb, 200, 5, 0.01, None)  # not through the cache
    assert _value("pcache_cache_requests_total", result="hit", pbucket=pb) == 2
    assert _value("pcache_cache_requests_total", result="miss", pbucket=pb) == 1
    assert _value("pcache_cache_requests_total", result="partial", pbucket=pb) == 1
    assert _value("pcache_cache_bytes_total", result="hit", pbucket=pb) == 140
    assert _value("pcache_cache_bytes_total", result="miss", pbucket=pb) == 100


def test_observe_request__unknown_bucket_names_never_become_labels() -> None:
    op, stranger = _op(), f"pb-{uuid.uuid4().hex[:8]}"
    observe_request(op, stranger, 404, 0, 0.001, None)
    observe_request(op, stranger, 403, 0, 0.001, None)
    assert _value("pcache_requests_total", op=op, status_class="4xx", pbucket="-") == 2
    assert f'pbucket="{stranger}"' not in generate_latest(REGISTRY).decode()
    observe_request(op, stranger, 200, 0, 0.001, None)  # a success proves the PBucket exists
    observe_request(op, stranger, 404, 0, 0.001, None)
    assert _value("pcache_requests_total", op=op, status_class="4xx", pbucket=stranger) == 1
    observe_request(op, None, 200, 0, 0.001, None)  # ListBuckets: no bucket
    assert _value("pcache_requests_total", op=op, status_class="2xx", pbucket="-") == 1


async def _service(tmp_path: Path) -> CacheService:
    store = await TieredStore.open(
        StoreSettings(
            (
                TierSettings(tmp_path / "ram", 2 * (HEADER_SIZE + 8 * KIB)),
                TierSettings(tmp_path / "disk", 100 * (HEADER_SIZE + 8 * KIB)),
            )
        )
    )
    # The meta cache is never used here: its client is built but never connects.
    return CacheService(store=store, meta=MetaCache(Redis()), settings=CacheSettings())


async def test_collector__reports_tiers_and_single_flight(tmp_path: Path) -> None:
    service = await _service(tmp_path)
    for n in range(3):  # the third admission demotes the oldest block to "disk"
        assert await service.store.put(block(n), payload(n, 8 * KIB))
    assert await service.store.read(block(2)) is not None
    assert await service.store.read(block(99)) is None

    async def fetch() -> bytes:
        return b"x"

    assert await service.flights.run("k", fetch) == b"x"
    registry = CollectorRegistry()
    registry.register(NodeCollector(lambda: service, tier_names=("ram", "disk")))

    def value(name: str, tier: str | None = None) -> float | None:
        return registry.get_sample_value(name, {} if tier is None else {"tier": tier})

    file_size = HEADER_SIZE + 8 * KIB
    assert value("pcache_cache_tier_capacity_bytes", "ram") == 2 * file_size
    assert value("pcache_cache_tier_capacity_bytes", "disk") == 100 * file_size
    assert value("pcache_cache_tier_used_bytes", "ram") == 2 * file_size
    assert value("pcache_cache_tier_used_bytes", "disk") == file_size
    assert value("pcache_cache_tier_blocks", "ram") == 2
    assert value("pcache_cache_tier_blocks", "disk") == 1
    assert value("pcache_cache_tier_evictions_total", "ram") == 1
    assert value("pcache_cache_tier_demotions_total", "disk") == 1
    assert value("pcache_cache_tier_hits_total", "ram") == 1
    for name in ("promotions", "checksum_failures", "io_errors"):
        assert value(f"pcache_cache_tier_{name}_total", "ram") == 0
    assert value("pcache_cache_tier_in_service", "ram") == 1
    assert value("pcache_singleflight_runs_total") == 1
    assert value("pcache_singleflight_joins_total") == 0
    text = generate_latest(registry).decode()
    assert "# TYPE pcache_cache_tier_hits_total counter" in text
    assert "# TYPE pcache_cache_tier_used_bytes gauge" in text
    assert str(tmp_path) not in text  # names only: no directory in any label


async def test_collector__cache_disabled_and_iam_before_its_first_load() -> None:
    iam = IamView(IamStore(Redis(), SecretBox(bytes(32))), Redis())
    registry = CollectorRegistry()
    registry.register(NodeCollector(lambda: None, lambda: iam))
    assert registry.get_sample_value("pcache_iam_snapshot_version") == -1
    assert registry.get_sample_value("pcache_iam_snapshot_age_seconds") is None
    assert "pcache_cache_tier" not in generate_latest(registry).decode()


def test_bind__a_second_node_replaces_the_first() -> None:
    first, second = NodeCollector(lambda: None), NodeCollector(lambda: None)
    metrics.bind(first)
    metrics.bind(second)
    assert metrics._bound == [second]


def test_observe_request__one_sample_per_label_set_whatever_the_cache_result() -> None:
    """Hits and misses of one operation and PBucket are one requests_total sample (the cache
    result is a label of the cache families only)."""
    op, pb = "GetObject", "pb-one-sample"
    metrics.observe_request(op, pb, 200, 5, 0.001, "miss")
    metrics.observe_request(op, pb, 200, 5, 0.001, "hit")
    metrics.observe_request(op, pb, 200, 5, 0.001, None)
    text = generate_latest(metrics.REGISTRY).decode()
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("pcache_requests_total{") and f'pbucket="{pb}"' in line
    ]
    assert len(rows) == 1 and rows[0].endswith(" 3.0")
    assert _value("pcache_response_bytes_total", op=op, pbucket=pb) == 15
    assert _value("pcache_cache_requests_total", result="hit", pbucket=pb) == 1
