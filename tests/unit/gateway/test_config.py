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
