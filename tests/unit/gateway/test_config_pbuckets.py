"""`[[pbuckets]]`: both forms, defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, PBucketConfig, load_config
from gateway.config_pbuckets import PBucketTargetConfig

VENDORS = """
[vendors.a]
type = "local"
[vendors.b]
type = "local"
"""


def _load(tmp_path: Path, text: str) -> tuple[PBucketConfig, ...]:
    path = tmp_path / "c.toml"
    path.write_text(VENDORS + text)
    return load_config(path).pbuckets


def test_single_shorthand__still_loads_with_defaults(tmp_path: Path) -> None:
    (pb,) = _load(tmp_path, '[[pbuckets]]\nname = "p"\nvendor = "a"\n')
    assert pb == PBucketConfig("p", (PBucketTargetConfig("a", "p"),), "single")
    assert (pb.vendor, pb.bucket, pb.prefix) == ("a", "p", "")


def test_balance_targets__array_form(tmp_path: Path) -> None:
    (pb,) = _load(
        tmp_path,
        """
[[pbuckets]]
name = "logs"
policy = "balance"
targets = [
  { vendor = "a", bucket = "x", prefix = "pc/", weight = 2, region = "eu" },
  { vendor = "b", bucket = "y" },
]
""",
    )
    assert pb.policy == "balance"
    assert pb.targets == (
        PBucketTargetConfig("a", "x", "pc/", 2.0, "eu"),
        PBucketTargetConfig("b", "y", "", 1.0, None),
    )


def test_targets__table_array_form(tmp_path: Path) -> None:
    text = """
[[pbuckets]]
name = "t"
policy = "balance"
[[pbuckets.targets]]
vendor = "a"
bucket = "x"
[[pbuckets.targets]]
vendor = "a"
bucket = "y"
weight = 0.5
"""
    (pb,) = _load(tmp_path, text)
    assert [(t.bucket, t.weight) for t in pb.targets] == [("x", 1.0), ("y", 0.5)]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "p"\npolicy = "spread"\nvendor = "a"', "pbuckets[0].policy"),
        ('name = "p"\npolicy = "balance"\nvendor = "a"', "pbuckets[0].targets"),
        (
            'name = "p"\nvendor = "a"\ntargets = [{vendor = "a", bucket = "x"}]',
            "pbuckets[0].targets",
        ),
        ('name = "p"\ntargets = []', "pbuckets[0].targets"),
        ('name = "p"\ntargets = ["a"]', "pbuckets[0].targets[0]"),
        ('name = "p"\ntargets = [{vendor = "zz", bucket = "x"}]', "pbuckets[0].targets[0].vendor"),
        ('name = "p"\ntargets = [{vendor = "a"}]', "pbuckets[0].targets[0].bucket"),
        (
            'name = "p"\ntargets = [{vendor = "a", bucket = "x", weight = 0}]',
            "pbuckets[0].targets[0].weight",
        ),
        (
            'name = "p"\ntargets = [{vendor = "a", bucket = "x", weight = true}]',
            "pbuckets[0].targets[0].weight",
        ),
        (
            'name = "p"\ntargets = [{vendor = "a", bucket = "x", region = 5}]',
            "pbuckets[0].targets[0].region",
        ),
        (
            'name = "p"\ntargets = [{vendor = "a", bucket = "x", colour = "red"}]',
            "pbuckets[0].targets[0].colour",
        ),
        (
            'name = "p"\npolicy = "balance"\n'
            'targets = [{vendor = "a", bucket = "x"}, {vendor = "a", bucket = "x", prefix = "s/"}]',
            "pbuckets[0].targets[1]",
        ),
        (
            'name = "p"\ntargets = [{vendor = "a", bucket = "x"}, {vendor = "b", bucket = "y"}]',
            "pbuckets[0].targets",
        ),
        ('vendor = "a"', "pbuckets[0].name"),
    ],
)
def test_pbucket_errors__name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "[[pbuckets]]\n" + text + "\n")
    assert err.value.key == key


def test_duplicate_names__name_the_second(tmp_path: Path) -> None:
    text = '[[pbuckets]]\nname = "p"\nvendor = "a"\n[[pbuckets]]\nname = "p"\nvendor = "b"\n'
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert err.value.key == "pbuckets[1].name"
