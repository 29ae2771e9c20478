"""`[[pbuckets]]` with policy "replicate": `write_quorum`, and `[node] region_affinity`."""

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
