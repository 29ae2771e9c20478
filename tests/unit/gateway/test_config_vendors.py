"""`[vendors.*]` and `node.vendor_allowlist`: profiles, overrides, the SSRF check at load time,
and errors that name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, VendorConfig, load_config

S3 = "type = 's3'\naccess_key = 'a'\nsecret_key = 's'\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path)


def test_no_arguments__local_vendor_needs_no_allowlist() -> None:
    cfg = load_config(None)
    assert cfg.vendors["local"] == VendorConfig("local", "local", root=cfg.data_dir / "vendor")
    assert cfg.vendor_allowlist.networks == ()


def test_loopback_vendor__refused_without_allowlist_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, f"[vendors.sw]\n{S3}endpoint = 'http://127.0.0.1:8333'\n")
    assert err.value.key == "vendors.sw.endpoint"
    assert "loopback" in err.value.problem and "vendor_allowlist" in err.value.problem


def test_loopback_vendor__accepted_with_allowlist(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        "[node]\nvendor_allowlist = ['127.0.0.0/8']\n"
        f"[vendors.sw]\n{S3}endpoint = 'http://127.0.0.1:8333'\n",
    )
    sw = cfg.vendors["sw"]
    assert (sw.profile, sw.addressing_style, sw.retries, sw.breaker_failures) == (
        "generic",
        "path",
        2,
        5,
    )


def test_profile__sets_defaults_and_explicit_keys_win(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        "[node]\nvendor_allowlist = ['127.0.0.0/8']\n"
        f"[vendors.o]\n{S3}endpoint = 'http://127.0.0.1:1'\nprofile = 'oss'\n"
        "storage_classes = { archive = 'ColdArchive' }\n"
        f"[vendors.m]\n{S3}endpoint = 'http://127.0.0.1:2'\nprofile = 'aws'\n"
        "addressing_style = 'path'\nretries = 0\nbreaker_failures = 3\nbreaker_cooldown = 1.5\n",
    )
    oss, aws = cfg.vendors["o"], cfg.vendors["m"]
    assert oss.addressing_style == "virtual" and not oss.aws_chunked
    classes = oss.storage_classes
    assert (classes.hot, classes.cold, classes.archive) == ("Standard", "IA", "ColdArchive")
    assert aws.addressing_style == "path" and aws.aws_chunked
    assert (aws.retries, aws.breaker_failures, aws.breaker_cooldown) == (0, 3, 1.5)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[node]\nvendor_allowlist = '127.0.0.0/8'\n", "node.vendor_allowlist"),
        ("[node]\nvendor_allowlist = ['10.0.0.0/8', 'x']\n", "node.vendor_allowlist[1]"),
        (f"[vendors.v]\n{S3}endpoint = 'ftp://x'\n", "vendors.v.endpoint"),
        (f"[vendors.v]\n{S3}endpoint = 'http://169.254.169.254'\n", "vendors.v.endpoint"),
        (f"[vendors.v]\n{S3}endpoint = 'http://[::1]:9000'\n", "vendors.v.endpoint"),
        (f"[vendors.v]\n{S3}endpoint = 'http://u:p@example.com'\n", "vendors.v.endpoint"),
        (f"[vendors.v]\n{S3}\n", "vendors.v.endpoint"),
        (f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nprofile = 'x'\n", "vendors.v.profile"),
        (f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nretries = -1\n", "vendors.v.retries"),
        (
            f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nbreaker_failures = 0\n",
            "vendors.v.breaker_failures",
        ),
        (
            f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nbreaker_cooldown = 0\n",
            "vendors.v.breaker_cooldown",
        ),
        (
            f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nstorage_classes = {{ warm = 'X' }}\n",
            "vendors.v.storage_classes.warm",
        ),
        (
            f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\n"
            "request_checksum_calculation = 'always'\n",
            "vendors.v.request_checksum_calculation",
        ),
        (
            f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nverify_tls = 1\n",
            "vendors.v.verify_tls",
        ),
        (f"[vendors.v]\n{S3}endpoint = 'http://127.0.0.1'\nsurprise = 1\n", "vendors.v.surprise"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    allow = "[node]\nvendor_allowlist = ['127.0.0.0/8']\n" if "node" not in text else ""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, allow + text)
    assert err.value.key == key, err.value
