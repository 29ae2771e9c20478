"""Prometheus metrics, served at `GET /metrics` (text exposition format, unauthenticated).

Two kinds of series live in one module-level registry (`REGISTRY`, not prometheus_client's
global one, so tests read exactly what a scrape shows):

- per request, counted by `observe_request` (once per S3 request, from the access-log line of
  gateway.s3app) into lock-free tallies (`gateway.request_metrics`):
  `pcache_requests_total{op, status_class, pbucket}`,
  `pcache_request_seconds{op}` (histogram), `pcache_response_bytes_total{op, pbucket}`, and for
  cache-served GETs `pcache_cache_requests_total{result, pbucket}` and
  `pcache_cache_bytes_total{result, pbucket}` (result = hit | miss | partial);
- read at scrape time by `NodeCollector` from the node's services: per cache tier
  `pcache_cache_tier_*{tier}` (capacity, used, blocks, hits, misses, evictions, promotions,
  demotions, checksum failures, I/O errors, in service), `pcache_singleflight_runs_total` /
  `pcache_singleflight_joins_total`, the listing-page cache's
  `pcache_list_cache_requests_total{result}` (hit, miss, bypass), `pcache_list_cache_pages` and
  `pcache_list_cache_names`, the IAM snapshot's version and age, and per S3 vendor
  `pcache_vendor_circuit_state{vendor, state}` (1 for the breaker's current state) and
  `pcache_vendor_{attempts,retries,retries_refused,breaker_refused}_total{vendor}` and
  `pcache_vendor_request_seconds{vendor, operation}` (time to the answer's head, per attempt).

Labels carry names only: an Operation name, a status class, a PBucket name, a tier name. No
key, no credential, no path, no environment value ever becomes a label or a value.

PBucket label cardinality: a name becomes a label value only once a request on it succeeded
(status < 400), which proves the PBucket exists; until then (and for requests without a bucket)
the label is `-`, so a client spraying random bucket names cannot grow the series set. At most
`MAX_PBUCKET_LABELS` names are tracked; later ones are counted under `_other`.

One process is one node: `add_metrics_route` binds the collector to the node whose app it is
given (a second call, e.g. a second node in one test process, replaces the binding). With several
worker processes (`[node] workers`), the worker a scrape reaches adds up its siblings' numbers
(`gateway.metrics_merge`), so a scrape shows the host.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway.context import SERVICES
from gateway.metrics_merge import merge_expositions
from gateway.request_metrics import RequestCollector, RequestTallies
from gateway.worker_link import LINK
from router.vendor_guard import GuardedUpstream

if TYPE_CHECKING:
    from auth.iam_view import IamView
    from gateway.cache_read import CacheService
    from router.upstream import Upstream

__all__ = [
    "CONTENT_TYPE",
    "MAX_PBUCKET_LABELS",
    "REGISTRY",
    "TIER_NAMES",
    "NodeCollector",
    "add_metrics_route",
    "bind",
    "observe_request",
    "serve_metrics",
    "tier_names",
]

REGISTRY = CollectorRegistry()
#: what `generate_latest` writes (newer prometheus_client call it CONTENT_TYPE_PLAIN_0_0_4)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_PBUCKET_LABELS = 1000
#: the per-request series (`gateway.request_metrics`): plain tallies, collected at scrape time
_TALLIES = RequestTallies()
REGISTRY.register(RequestCollector(_TALLIES))

_pbuckets: set[str] = set()
_pbuckets_lock = threading.Lock()


def _pbucket_label(pbucket: str | None, status: int) -> str:
    if not pbucket or pbucket == "-":
        return "-"
    if pbucket in _pbuckets:
        return pbucket
    if status >= 400:
        return "-"  # not (yet) known to exist: never a new series from a failed request
    with _pbuckets_lock:
        if pbucket not in _pbuckets and len(_pbuckets) >= MAX_PBUCKET_LABELS:
            return "_other"
        _pbuckets.add(pbucket)
    return pbucket


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def observe_request(
    op: str,
    pbucket: str | None,
    status: int,
    bytes: int,
    seconds: float,
    cache_label: str | None,
) -> None:
    """Count one finished S3 request (`op` is the Operation name, `-` when none was found)."""
    _TALLIES.observe(
        op, _status_class(status), _pbucket_label(pbucket, status), cache_label, bytes, seconds
    )


# --- scrape-time state ----------------------------------------------------------------------

#: (field of TierStats, metric suffix, help text); counters get `_total` from the exposition
_TIER_GAUGES = (
    ("capacity", "capacity_bytes", "Bytes the tier may hold (block files with headers)."),
    ("used", "used_bytes", "Bytes the tier's block files take."),
    ("blocks", "blocks", "Blocks in the tier."),
)
_TIER_COUNTERS = (
    ("hits", "hits", "Reads the tier served."),
    ("misses", "misses", "Reads the tier could not serve."),
    ("evictions", "evictions", "Blocks evicted from the tier."),
    ("promotions", "promotions", "Blocks promoted into the tier."),
    ("demotions", "demotions", "Blocks demoted into the tier."),
    ("checksum_failures", "checksum_failures", "Blocks that failed their CRC32C check."),
    ("io_errors", "io_errors", "I/O errors on the tier's device."),
    ("expired", "expired", "Blocks dropped at a read because a cache TTL had passed."),
)


class NodeCollector(Collector):
    """Reads the node's cache and IAM view when scraped (no background work, no I/O)."""

    def __init__(
        self,
        cache: Callable[[], CacheService | None],
        iam: Callable[[], IamView | None] = lambda: None,
        tier_names: Sequence[str] = (),
        vendors: Callable[[], Mapping[str, Upstream]] = lambda: {},
        repairs: Callable[[], Mapping[str, Mapping[str, int]]] = lambda: {},
    ) -> None:
        self._cache = cache
        self._iam = iam
        self._names = tuple(tier_names)
        self._vendors = vendors
        self._repairs = repairs

    def describe(self) -> Iterable[Metric]:
        return ()  # dynamic: nothing to check at registration

    def _tier_name(self, index: int) -> str:
        return self._names[index] if index < len(self._names) else f"tier{index}"

    def collect(self) -> Iterable[Metric]:
        cache = self._cache()
        if cache is not None:
            yield from self._cache_metrics(cache)
        iam = self._iam()
        if iam is not None:
            yield from _iam_metrics(iam)
        yield from _vendor_metrics(self._vendors())
        yield from _repair_metrics(self._repairs())

    def _cache_metrics(self, cache: CacheService) -> Iterable[Metric]:
        stats = cache.store.stats()
        names = [self._tier_name(i) for i in range(len(stats))]
        for field, suffix, text in _TIER_GAUGES:
            gauge = GaugeMetricFamily(f"pcache_cache_tier_{suffix}", text, labels=["tier"])
            for name, tier in zip(names, stats, strict=True):
                gauge.add_metric([name], float(getattr(tier, field)))
            yield gauge
        for field, suffix, text in _TIER_COUNTERS:
            counter = CounterMetricFamily(f"pcache_cache_tier_{suffix}", text, labels=["tier"])
            for name, tier in zip(names, stats, strict=True):
                counter.add_metric([name], float(getattr(tier, field)))
            yield counter
        service = GaugeMetricFamily(
            "pcache_cache_tier_in_service",
            "1 while the tier takes reads and writes, 0 while its device is benched.",
            labels=["tier"],
        )
        for name, tier in zip(names, stats, strict=True):
            service.add_metric([name], 1.0 if tier.in_service else 0.0)
        yield service
        yield CounterMetricFamily(
            "pcache_singleflight_runs",
            "Block fetches started (one per block miss that nobody else was fetching).",
            value=float(cache.flights.runs),
        )
        yield CounterMetricFamily(
            "pcache_singleflight_joins",
            "Block misses that joined a fetch already in flight instead of starting one.",
            value=float(cache.flights.joins),
        )
        writes = CounterMetricFamily(
            "pcache_cache_write_through",
            "PutObjects whose bytes were cached on the way to the vendor (admitted), or not "
            "because the node's write-through memory was in use (no_memory).",
            labels=["result"],
        )
        writes.add_metric(["admitted"], float(cache.written_through))
        writes.add_metric(["no_memory"], float(cache.writes_around_for_memory))
        yield writes
        yield CounterMetricFamily(
            "pcache_cache_read_ahead_blocks",
            "Blocks fetched ahead of a reader walking an object in order.",
            value=float(cache.read_ahead),
        )
        lists = CounterMetricFamily(
            "pcache_list_cache_requests",
            "ListObjects pages served from this node's listing cache (hit), fetched from the "
            "vendor and cached (miss), or fetched uncached under a `revalidate` rule (bypass).",
            labels=["result"],
        )
        lists.add_metric(["hit"], float(cache.lists.hits))
        lists.add_metric(["miss"], float(cache.lists.misses))
        lists.add_metric(["bypass"], float(cache.lists_bypassed))
        yield lists
        yield GaugeMetricFamily(
            "pcache_list_cache_pages",
            "ListObjects pages held in this node's listing cache.",
            value=float(len(cache.lists)),
        )
        yield GaugeMetricFamily(
            "pcache_list_cache_names",
            "Keys and common prefixes held by the pages of this node's listing cache.",
            value=float(cache.lists.weight),
        )
        yield CounterMetricFamily(
            "pcache_cache_stale_serves",
            "Reads answered from stale metadata because the vendor was unreachable.",
            value=float(cache.stale_serves),
        )


_VENDOR_STATES = ("closed", "open", "half_open")
_VENDOR_COUNTERS = (
    ("attempts", "Requests sent to the vendor (first attempts and retries)."),
    ("retries", "Retries of idempotent reads sent to the vendor."),
    ("retries_refused", "Retries the vendor's retry budget refused."),
    ("breaker_refused", "Calls answered 503 by the open circuit breaker without the vendor."),
)


def _vendor_metrics(vendors: Mapping[str, Upstream]) -> Iterable[Metric]:
    guarded = {n: v for n, v in vendors.items() if isinstance(v, GuardedUpstream)}
    if not guarded:
        return
    state = GaugeMetricFamily(
        "pcache_vendor_circuit_state",
        "1 for the state the vendor's circuit breaker is in (closed, open, half_open).",
        labels=["vendor", "state"],
    )
    for name, vendor in guarded.items():
        current = vendor.health()
        for value in _VENDOR_STATES:
            state.add_metric([name, value], 1.0 if value == current else 0.0)
    yield state
    for field, text in _VENDOR_COUNTERS:
        counter = CounterMetricFamily(f"pcache_vendor_{field}", text, labels=["vendor"])
        for name, vendor in guarded.items():
            counter.add_metric([name], float(vendor.stats()[field]))
        yield counter
    latency = HistogramMetricFamily(
        "pcache_vendor_request_seconds",
        "Seconds from sending a vendor request to its answer's head, per attempt.",
        labels=["vendor", "operation"],
    )
    for name, vendor in guarded.items():
        for operation, histogram in sorted(vendor.latency.by_operation.items()):
            latency.add_metric(
                [name, operation],
                [(le, float(n)) for le, n in histogram.cumulative()],
                sum_value=histogram.total,
            )
    yield latency


def _iam_metrics(iam: IamView) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "pcache_iam_snapshot_version",
        "Version of the IAM snapshot this node authorises with (-1 before the first load).",
        value=float(iam.current_version()),
    )
    age = iam.age()
    if age is not None:
        yield GaugeMetricFamily(
            "pcache_iam_snapshot_age_seconds",
            "Seconds since the IAM snapshot was last confirmed current with Redis.",
            value=age,
        )


# --- the route ------------------------------------------------------------------------------

TIER_NAMES = web.AppKey("pcache_tier_names", tuple)
_bound: list[NodeCollector] = []
_bound_lock = threading.Lock()


def tier_names(app: web.Application) -> tuple[str, ...]:
    """The configured tier names (fastest first) of the node serving `app`, when known."""
    return tuple(str(n) for n in app.get(TIER_NAMES, ()))


def bind(collector: NodeCollector) -> None:
    """Make `collector` the one REGISTRY scrapes (replacing a previous binding)."""
    with _bound_lock:
        for old in _bound:
            REGISTRY.unregister(old)
        _bound.clear()
        REGISTRY.register(collector)
        _bound.append(collector)


async def serve_metrics(request: web.Request) -> web.StreamResponse:
    domain = request.app[SERVICES].settings.domain
    host = (request.host or "").rsplit(":", 1)[0].lower()
    if domain and host.endswith("." + domain):
        # `bucket.<domain>/metrics` is the object key "metrics", not this endpoint.
        from gateway.s3app import handle  # s3app imports this module for observe_request

        return await handle(request)
    body = generate_latest(REGISTRY)
    link = request.app.get(LINK)
    if link is not None and link.siblings:  # one scrape answers for every worker of the host
        body = merge_expositions([body.decode(), *await link.sibling_metrics()])
    return web.Response(
        body=body,
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )


def _repair_metrics(stats: Mapping[str, Mapping[str, int]]) -> Iterable[Metric]:
    """`replicate` repair queues, as the node's repair worker last saw them."""
    queued = GaugeMetricFamily(
        "pcache_replicate_repair_queue",
        "Entries in the PBucket's repair stream at the repair worker's last scan (every 5 s).",
        labels=["pbucket"],
    )
    repairs = CounterMetricFamily(
        "pcache_replicate_repairs",
        "Repair attempts by this node: done, failed (retried later), superseded, dropped.",
        labels=["pbucket", "outcome"],
    )
    for pbucket, row in sorted(stats.items()):
        queued.add_metric([pbucket], float(row.get("queued", 0)))
        for outcome in ("done", "failed", "superseded", "dropped"):
            repairs.add_metric([pbucket, outcome], float(row.get(outcome, 0)))
    yield queued
    yield repairs


def add_metrics_route(app: web.Application, tiers: Sequence[str] = ()) -> None:
    """`GET /metrics` on the node's listener, scraping the services in `app` (set before)."""
    services = app[SERVICES]
    app[TIER_NAMES] = tuple(tiers)
    bind(
        NodeCollector(
            lambda: services.cache,
            lambda: services.iam,
            tiers,
            vendors=lambda: services.router.vendors,
            repairs=lambda: services.router.replicas.repair_stats,
        )
    )
    app.router.add_get("/metrics", serve_metrics)
