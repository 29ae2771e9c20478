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


def test_cache_config__tier_policy_rules_and_write_through(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[cache]\nmax_age = 30\nadmission_tier = 'ssd'\npromote_after = 3\n"
        "verify_reads = 'always'\nwrite_mode = 'around'\nwrite_through_max = 0\n"
        "[[cache.tier]]\nname = 'ram'\ndir = '/dev/shm/x'\ncapacity = 16777216\n"
        "min_free_ratio = 0.1\n"
        "[[cache.tier]]\nname = 'ssd'\ndir = '/srv/c'\ncapacity = 1073741824\n"
        "min_free_bytes = 1048576\nverify_on_open = false\n"
        "[[cache.rule]]\npbucket = 'models'\nfreshness = 'immutable'\nblock_size = 16777216\n"
        "[[cache.rule]]\npbucket = 'models'\nprefix = 'live/'\nfreshness = 'revalidate'\n"
        "write_mode = 'through'\n"
    )
    cfg = load_config(path).cache
    assert (cfg.admission_tier, cfg.promote_after, cfg.verify_reads) == (1, 3, "always")
    assert str(cfg.freshness) == "max-age=30" and cfg.write_mode.value == "around"
    assert cfg.write_through_max == 0
    ram, ssd = cfg.tiers
    assert (ram.min_free_ratio, ram.min_free_bytes, ram.verify_on_open) == (0.1, 0, True)
    assert (ssd.min_free_ratio, ssd.min_free_bytes, ssd.verify_on_open) == (None, 1048576, False)
    assert [(r.pbucket, r.prefix, str(r.freshness)) for r in cfg.rules] == [
        ("models", "", "immutable"),
        ("models", "live/", "revalidate"),
    ]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[cache]\nadmission_tier = 'nvme'\n", "cache.admission_tier"),
        ("[cache]\npromote_after = 0\n", "cache.promote_after"),
        ("[cache]\nverify_reads = 'never'\n", "cache.verify_reads"),
        ("[cache]\nfreshness = 'max-age=soon'\n", "cache.freshness"),
        ("[cache]\nwrite_mode = 'back'\n", "cache.write_mode"),
        ("[cache]\nwrite_through_max = -1\n", "cache.write_through_max"),
        ("[[cache.tier]]\ndir = '/x'\nmin_free_ratio = 1.5\n", "cache.tier[0].min_free_ratio"),
        ("[[cache.tier]]\ndir = '/x'\nmin_free_bytes = -2\n", "cache.tier[0].min_free_bytes"),
        ("[[cache.tier]]\ndir = '/x'\n[[cache.tier]]\ndir = '/y'\nname = 'tier0'\n", "cache.tier"),
        ("[[cache.rule]]\nfreshness = 'immutable'\n", "cache.rule[0].pbucket"),
        ("[[cache.rule]]\npbucket = 'p'\n", "cache.rule[0]"),
        ("[[cache.rule]]\npbucket = 'p'\nprefix = 'a/'\nblock_size = 131072\n", "block_size"),
        ("[[cache.rule]]\npbucket = 'p'\nfreshness = 'sometimes'\n", "cache.rule[0].freshness"),
        (
            "[[cache.rule]]\npbucket = 'p'\nwrite_mode = 'around'\n"
            "[[cache.rule]]\npbucket = 'p'\nwrite_mode = 'through'\n",
            "cache.rule",
        ),
    ],
)
def test_cache_config__policy_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert key in str(err.value)


def test_lifecycle__example_is_the_defaults() -> None:
    from ttl.settings import LifecycleSettings

    assert load_config(EXAMPLE).lifecycle == load_config(None).lifecycle == LifecycleSettings()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('interval = "soon"', "lifecycle.interval"),
        ("interval = 0", "lifecycle.interval"),
        ('lease_ttl = "0.5s"', "lifecycle.lease_ttl"),
        ("enabled = 1", "lifecycle.enabled"),
        ("page_size = 5000", "lifecycle.page_size"),
        ("parallel = 0", "lifecycle.parallel"),
        ("when = 1", "lifecycle.when"),
    ],
)
def test_lifecycle__bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "pcache.toml"
    path.write_text(f"[lifecycle]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key


def test_lifecycle__durations(tmp_path: Path) -> None:
    path = tmp_path / "pcache.toml"
    path.write_text('[lifecycle]\ninterval = "90m"\nlease_ttl = 5\nenabled = false\n')
    cfg = load_config(path).lifecycle
    assert cfg.interval.total_seconds() == 5400 and cfg.lease_ttl.total_seconds() == 5
    assert cfg.enabled is False
