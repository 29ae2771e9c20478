"""Replicate settings: `write_quorum` of `[[pbuckets]]`, `[node] region_affinity`, `[repair]`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, load_config

VENDORS = """
[vendors.a]
type = "local"
[vendors.b]
type = "local"
"""

REPLICATE = """
[[pbuckets]]
name = "r"
policy = "replicate"
{extra}
targets = [
  {{ vendor = "a", bucket = "x" }},
  {{ vendor = "b", bucket = "y", region = "eu" }},
  {{ vendor = "b", bucket = "z" }},
]
"""


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "c.toml"
    path.write_text(VENDORS + text)
    return load_config(path)


def test_write_quorum__default_is_none_meaning_every_target(tmp_path: Path) -> None:
    (pb,) = _load(tmp_path, REPLICATE.format(extra="")).pbuckets
    assert pb.policy == "replicate" and pb.write_quorum is None and len(pb.targets) == 3


@pytest.mark.parametrize("quorum", [1, 2, 3])
def test_write_quorum__one_to_the_number_of_targets(tmp_path: Path, quorum: int) -> None:
    (pb,) = _load(tmp_path, REPLICATE.format(extra=f"write_quorum = {quorum}")).pbuckets
    assert pb.write_quorum == quorum


@pytest.mark.parametrize("value", ["0", "4", "-1", "2.5", "true", '"2"'])
def test_write_quorum__out_of_range_names_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, REPLICATE.format(extra=f"write_quorum = {value}"))
    assert "pbuckets[0].write_quorum" in str(err.value)


def test_write_quorum__only_for_replicate(tmp_path: Path) -> None:
    text = '[[pbuckets]]\nname = "s"\nvendor = "a"\nwrite_quorum = 1\n'
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert "pbuckets[0].write_quorum" in str(err.value)


def test_region_affinity__node_key(tmp_path: Path) -> None:
    assert _load(tmp_path, "").region_affinity is None
    cfg = _load(tmp_path, '[node]\nregion_affinity = "eu"\n')
    assert cfg.region_affinity == "eu"
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "[node]\nregion_affinity = 3\n")
    assert "node.region_affinity" in str(err.value)


def test_repair__defaults_match_the_example_and_the_worker(tmp_path: Path) -> None:
    from router.repair import RepairSettings

    example = load_config(Path(__file__).resolve().parents[3] / "config.example.toml")
    worker = RepairSettings(consumer="x")
    for cfg in (_load(tmp_path, ""), example):
        assert cfg.repair_scan_interval == worker.scan_every == 5.0
        assert cfg.repair_backoff_base == worker.base_backoff == 0.5
        assert cfg.repair_backoff_max == worker.max_backoff == 5.0
        assert cfg.repair_settle == worker.settle == 2.0


def test_repair__keys_set_the_worker_timings(tmp_path: Path) -> None:
    text = "[repair]\nscan_interval = 1\nbackoff_base = 0.25\nbackoff_max = 1.5\nsettle = 1\n"
    cfg = _load(tmp_path, text)
    assert cfg.repair_scan_interval == 1.0 and cfg.repair_settle == 1.0
    assert (cfg.repair_backoff_base, cfg.repair_backoff_max) == (0.25, 1.5)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("scan_interval = 0", "repair.scan_interval"),
        ("backoff_base = -1", "repair.backoff_base"),
        ('backoff_max = "5"', "repair.backoff_max"),
        ("backoff_base = 2\nbackoff_max = 1", "repair.backoff_max"),
        ("settle = 0", "repair.settle"),
        ("block = 1", "repair.block"),
    ],
)
def test_repair__bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, f"[repair]\n{text}\n")
    assert key in str(err.value)
