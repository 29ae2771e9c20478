"""One scrape for a host of several workers: each worker's exposition text, added up.

Counters, histograms and the tiers' size gauges are sums (each worker counts its own requests
and owns its own share of every tier). A tier is in service only if it is for every worker
(minimum), a `_created` timestamp is the earliest, and any other gauge (IAM snapshot version and
age, circuit breaker state, repair queue length) is the largest a worker reports: for those,
the worst or the latest is the one an operator needs to see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Metric, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

__all__ = ["merge_expositions"]

_SUMMED_GAUGES = frozenset(
    {
        "pcache_cache_tier_capacity_bytes",
        "pcache_cache_tier_used_bytes",
        "pcache_cache_tier_blocks",
    }
)
_MIN_GAUGES = frozenset({"pcache_cache_tier_in_service"})
_Key = tuple[str, tuple[tuple[str, str], ...]]


def _combiner(family: Metric, sample_name: str) -> Callable[[float, float], float]:
    if sample_name.endswith("_created") or family.name in _MIN_GAUGES:
        return min
    if family.type == "gauge" and family.name not in _SUMMED_GAUGES:
        return max
    return lambda a, b: a + b


class _Merged(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def merge_expositions(texts: Sequence[str]) -> bytes:
    """Text exposition format in, the sum (per the rules above) out, families in first-seen
    order and samples in the order the first worker reporting them gave."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[_Key, float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            merged = families.setdefault(
                family.name, Metric(family.name, family.documentation, family.type)
            )
            samples = values.setdefault(family.name, {})
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key in samples:
                    samples[key] = _combiner(merged, sample.name)(samples[key], sample.value)
                else:
                    samples[key] = sample.value
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(list(families.values())))
    return generate_latest(registry)
