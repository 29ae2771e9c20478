"""The config loader: the documented example parses to the built-in defaults, and each bad
value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def test_example_config__is_the_defaults() -> None:
    example, defaults = load_config(EXAMPLE), load_config(None)
    assert example.account_id == defaults.account_id == Config().account_id
    assert example.iam_max_stale == defaults.iam_max_stale == 60.0
    assert example.trusted_proxies == defaults.trusted_proxies == ()
    assert example.listen == defaults.listen


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[iam]\naccount_id = "12"\n', "iam.account_id"),
        ("[iam]\nmax_stale = 0\n", "iam.max_stale"),
        ('[iam]\ntrusted_proxies = ["10.0.0.0/8", "nope"]\n', "iam.trusted_proxies[1]"),
        ("[iam]\nsurprise = 1\n", "iam.surprise"),
    ],
)
def test_iam_config__errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert key in str(err.value)


def test_cache_config__defaults_and_tiers(tmp_path: Path) -> None:
    default = load_config(None, data_dir=tmp_path)
    assert default.cache.enabled and default.cache.block_size == 8 * 1024 * 1024
    assert [t.directory for t in default.cache.tiers] == [tmp_path / "cache"]
    path = tmp_path / "c.toml"
    path.write_text(
        "[cache]\nmax_age = 0\n[[cache.tier]]\ndir = '/dev/shm/x'\ncapacity = 16777216\n"
        "[[cache.tier]]\nname = 'hdd'\ndir = '/srv/c'\ncapacity = 1073741824\n"
    )
    cfg = load_config(path).cache
    assert cfg.max_age == 0.0
    assert [(t.name, str(t.directory), t.capacity) for t in cfg.tiers] == [
        ("tier0", "/dev/shm/x", 16777216),
        ("hdd", "/srv/c", 1073741824),
    ]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[cache]\nblock_size = 1024\n", "cache.block_size"),
        ("[cache]\nmax_age = -1\n", "cache.max_age"),
        ("[cache]\nenabled = 'yes'\n", "cache.enabled"),
        ("[cache]\n[[cache.tier]]\ncapacity = 100\n", "cache.tier[0].dir"),
        ("[cache]\n[[cache.tier]]\ndir = '/x'\ncapacity = 100\n", "cache.tier[0].capacity"),
    ],
)
def test_cache_config__errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert key in str(err.value)
