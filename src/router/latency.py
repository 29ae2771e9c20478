"""Vendor latency as fixed-bucket histograms per operation, cheap enough for every call.

Router code imports no metrics library: this keeps plain counts that the gateway's collector
turns into Prometheus histograms at scrape time. For a GET the time is to the response head
(the body streams afterwards at the client's pace), which is the vendor's own latency.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

__all__ = ["BUCKETS", "LatencyHistogram", "LatencyStats"]

#: upper bounds in seconds: 1 ms (loopback) .. 30 s (a hung vendor's read timeout)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class LatencyHistogram:
    #: counts per bucket of BUCKETS, plus one for slower than the last bound
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count of observations <= le) pairs ending with +Inf, as Prometheus wants."""
        out, running = [], 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass(slots=True)
class LatencyStats:
    by_operation: dict[str, LatencyHistogram] = field(default_factory=dict)

    def observe(self, operation: str, seconds: float) -> None:
        histogram = self.by_operation.get(operation)
        if histogram is None:
            histogram = self.by_operation[operation] = LatencyHistogram()
        histogram.observe(seconds)
