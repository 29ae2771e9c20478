"""`[node] workers`, the worker identity a supervisor hands down, and one scrape for many
workers (gateway.metrics_merge)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import ConfigError, load_config
from gateway.metrics_merge import merge_expositions
from gateway.supervisor import parse_worker


def _load(tmp_path: Path, text: str) -> int:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path).workers


def test_workers__default_one_auto_per_cpu_and_bad_values_name_the_key(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == 1
    assert _load(tmp_path, "[node]\nworkers = 3\n") == 3
    assert _load(tmp_path, '[node]\nworkers = "auto"\n') == (os.cpu_count() or 1)
    for bad in ("0", "-1", "true", '"two"', "2.5", "65"):
        with pytest.raises(ConfigError) as err:
            _load(tmp_path, f"[node]\nworkers = {bad}\n")
        assert "node.workers" in str(err.value)


def test_parse_worker__i_of_n_or_none() -> None:
    assert parse_worker(None) is None
    assert parse_worker("") is None
    assert parse_worker("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "x/2", "1", "1/0"):
        with pytest.raises(ValueError):
            parse_worker(bad)


def _text(requests: float, blocks: float, in_service: float, version: float, le: float) -> str:
    return f"""# HELP pcache_requests_total r
# TYPE pcache_requests_total counter
pcache_requests_total{{op="GetObject",pbucket="b"}} {requests}
# HELP pcache_cache_tier_blocks b
# TYPE pcache_cache_tier_blocks gauge
pcache_cache_tier_blocks{{tier="ram"}} {blocks}
# HELP pcache_cache_tier_in_service s
# TYPE pcache_cache_tier_in_service gauge
pcache_cache_tier_in_service{{tier="ram"}} {in_service}
# HELP pcache_iam_snapshot_version v
# TYPE pcache_iam_snapshot_version gauge
pcache_iam_snapshot_version {version}
# HELP pcache_request_seconds h
# TYPE pcache_request_seconds histogram
pcache_request_seconds_bucket{{le="0.1",op="GetObject"}} {le}
pcache_request_seconds_bucket{{le="+Inf",op="GetObject"}} {le + 1}
pcache_request_seconds_count{{op="GetObject"}} {le + 1}
pcache_request_seconds_sum{{op="GetObject"}} 0.5
"""


def test_merge_expositions__sums_counts_and_sizes_and_keeps_the_worst_state() -> None:
    merged = merge_expositions([_text(3, 4, 1, 7, 2), _text(5, 6, 0, 9, 3)]).decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(merged)
        for s in family.samples
    }
    assert got[("pcache_requests_total", (("op", "GetObject"), ("pbucket", "b")))] == 8
    assert got[("pcache_cache_tier_blocks", (("tier", "ram"),))] == 10
    assert got[("pcache_cache_tier_in_service", (("tier", "ram"),))] == 0  # one worker benched
    assert got[("pcache_iam_snapshot_version", ())] == 9  # the newest, never a sum
    assert got[("pcache_request_seconds_bucket", (("le", "0.1"), ("op", "GetObject")))] == 5
    assert got[("pcache_request_seconds_count", (("op", "GetObject"),))] == 7
    assert got[("pcache_request_seconds_sum", (("op", "GetObject"),))] == 1.0


def test_merge_expositions__a_series_only_one_worker_has_is_kept() -> None:
    extra = '# HELP pcache_x_total x\n# TYPE pcache_x_total counter\npcache_x_total{v="a"} 2.0\n'
    merged = merge_expositions([_text(1, 1, 1, 1, 1), _text(1, 1, 1, 1, 1) + extra]).decode()
    assert 'pcache_x_total{v="a"} 2.0' in merged
