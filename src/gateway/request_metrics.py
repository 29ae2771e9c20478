"""The per-request series of `/metrics`, counted without a lock on the request path.

Every S3 request adds to a handful of series (requests, latency histogram, response bytes,
cache results). prometheus_client's Counter and Histogram take a mutex per update, five times a
request; here each label combination has one plain tally that the event loop's thread adds to,
and `RequestCollector` turns the tallies into the same families when a scrape asks. The names,
labels and buckets are those the gateway has always exposed:

- `pcache_requests_total{op, status_class, pbucket}`
- `pcache_request_seconds{op}` (histogram, `LATENCY_BUCKETS`)
- `pcache_response_bytes_total{op, pbucket}`
- `pcache_cache_requests_total{result, pbucket}` and `pcache_cache_bytes_total{result, pbucket}`
  for GETs served through the block cache (result = hit | miss | partial)

Only the event loop's thread calls `observe`; a scrape runs on it too, so a tally is never read
half-updated.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CACHE_RESULTS", "LATENCY_BUCKETS", "RequestCollector", "RequestTallies"]

#: 0.5 ms .. 30 s: a sendfile hit of a small object up to a cold multi-block miss
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
CACHE_RESULTS = frozenset({"hit", "miss", "partial"})


class _Latency:
    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0


class _Tally:
    """What one (op, status class, PBucket, cache result) combination has added up to."""

    __slots__ = ("latency", "requests", "sent")

    def __init__(self, latency: _Latency) -> None:
        self.requests = 0
        self.sent = 0
        self.latency = latency


class RequestTallies:
    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, str, str | None], _Tally] = {}
        self._latency: dict[str, _Latency] = {}

    def observe(
        self, op: str, status_class: str, bucket: str, cache: str | None, sent: int, seconds: float
    ) -> None:
        key = (op, status_class, bucket, cache)
        tally = self._tallies.get(key)
        if tally is None:
            latency = self._latency.get(op)
            if latency is None:
                latency = self._latency[op] = _Latency()
            tally = self._tallies[key] = _Tally(latency)
        tally.requests += 1
        if sent > 0:
            tally.sent += sent
        seconds = max(seconds, 0.0)
        tally.latency.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        tally.latency.total += seconds

    def families(self) -> list[Metric]:
        requests = CounterMetricFamily(
            "pcache_requests",
            "S3 requests served, by operation, status class and PBucket.",
            labels=["op", "status_class", "pbucket"],
        )
        sent = CounterMetricFamily(
            "pcache_response_bytes",
            "Response body bytes sent, by operation and PBucket.",
            labels=["op", "pbucket"],
        )
        cache_requests = CounterMetricFamily(
            "pcache_cache_requests",
            "GETs served through the block cache: hit (every block cached), miss (none), partial.",
            labels=["result", "pbucket"],
        )
        cache_bytes = CounterMetricFamily(
            "pcache_cache_bytes",
            "Body bytes of GETs served through the block cache, by result and PBucket.",
            labels=["result", "pbucket"],
        )
        by_status: dict[tuple[str, str, str], int] = {}
        by_op_bucket: dict[tuple[str, str], int] = {}
        by_result: dict[tuple[str, str], tuple[int, int]] = {}
        for (op, status_class, bucket, cache), tally in list(self._tallies.items()):
            status_key = (op, status_class, bucket)
            by_status[status_key] = by_status.get(status_key, 0) + tally.requests
            by_op_bucket[op, bucket] = by_op_bucket.get((op, bucket), 0) + tally.sent
            if cache in CACHE_RESULTS:
                count, size = by_result.get((cache, bucket), (0, 0))
                by_result[cache, bucket] = (count + tally.requests, size + tally.sent)
        for labels, count in by_status.items():
            requests.add_metric(list(labels), count)
        for (op, bucket), total in by_op_bucket.items():
            sent.add_metric([op, bucket], total)
        for (result, bucket), (count, size) in by_result.items():
            cache_requests.add_metric([result, bucket], count)
            cache_bytes.add_metric([result, bucket], size)
        seconds = HistogramMetricFamily(
            "pcache_request_seconds",
            "Time from the request's arrival to the end of its response, by operation.",
            labels=["op"],
        )
        for op, latency in list(self._latency.items()):
            cumulative, running = [], 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), latency.buckets, strict=True):
                running += count
                cumulative.append((_le(bound), running))
            seconds.add_metric([op], cumulative, latency.total)
        return [requests, seconds, sent, cache_requests, cache_bytes]


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class RequestCollector(Collector):
    def __init__(self, tallies: RequestTallies) -> None:
        self._tallies = tallies

    def collect(self) -> Iterable[Metric]:
        return self._tallies.families()
