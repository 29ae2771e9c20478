"""Load and validate the TOML config into typed settings; every error names the key at fault.

Lower packages never read files or the environment: this module fills their settings
dataclasses. `config.example.toml` documents every key with its default.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config_errors import ConfigError
from gateway.config_pbuckets import PBucketConfig, parse_pbuckets
from gateway.config_vendors import VendorConfig, parse_vendor, parse_vendor_allowlist
from router.endpoint_guard import Allowlist

__all__ = ["Config", "ConfigError", "PBucketConfig", "VendorConfig", "load_config"]


@dataclass(frozen=True, slots=True)
class TierConfig:
    name: str
    directory: Path
    capacity: int


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: bool = True
    block_size: int = 8 * 1024 * 1024
    max_age: float = 60.0
    negative_ttl: float = 5.0
    fanout: int = 4
    stale_if_error: float = 0.0
    #: fastest first; empty = one tier under <data_dir>/cache
    tiers: tuple[TierConfig, ...] = ()


DEFAULT_TIER_CAPACITY = 1024**3


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = "127.0.0.1:9000"
    https_listen: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    region: str = "us-east-1"
    domain: str | None = None
    data_dir: Path = Path("pcache-data")
    master_key_file: Path | None = None
    log_level: str = "info"
    redis_url: str | None = None
    vendors: dict[str, VendorConfig] = field(default_factory=dict)
    default_vendor: str | None = None
    bucket_template: str = "{pbucket}"
    pbuckets: tuple[PBucketConfig, ...] = ()
    shutdown_timeout: float = 30.0
    account_id: str = "000000000000"
    iam_max_stale: float = 60.0
    trusted_proxies: tuple[str, ...] = ()
    #: private networks / HOST:PORT pairs vendor endpoints may be at (SSRF guard)
    vendor_allowlist: Allowlist = field(default_factory=Allowlist)
    cache: CacheConfig = field(default_factory=CacheConfig)


_TOP = {"node", "redis", "vendors", "buckets", "pbuckets", "iam", "cache"}
_NODE = {
    "listen",
    "https_listen",
    "tls_cert",
    "tls_key",
    "region",
    "domain",
    "data_dir",
    "master_key_file",
    "log_level",
    "shutdown_timeout",
    "vendor_allowlist",
}


def _table(doc: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(path, "must be a table")
    return value


def _str(doc: dict[str, Any], key: str, path: str, default: str | None = None) -> str | None:
    value = doc.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}.{key}", "must be a string")
    return value or default


def _num(doc: dict[str, Any], key: str, path: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{path}.{key}", "must be a positive number")
    return float(value)


def _seconds(table: dict[str, Any], key: str, default: float) -> float:
    """A duration in the [cache] table; 0 is allowed (e.g. revalidate on every read)."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"cache.{key}", "must be a number of seconds >= 0")
    return float(value)


def _unknown(doc: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in doc:
        if key not in allowed:
            raise ConfigError(f"{path}.{key}" if path else key, "unknown key")


def _listen(value: str | None, path: str) -> str | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(path, f"expected HOST:PORT, got {value!r}")
    return value


def load_config(
    path: Path | None, *, listen: str | None = None, data_dir: Path | None = None
) -> Config:
    """Parse the file (or the embedded defaults when `path` is None) and apply CLI overrides."""
    doc: dict[str, Any] = {}
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    _unknown(doc, _TOP, "")
    node = _table(doc, "node", "node")
    _unknown(node, _NODE, "node")
    ddir = data_dir or Path(_str(node, "data_dir", "node", "pcache-data") or "pcache-data")
    vendors_doc = _table(doc, "vendors", "vendors")
    allowlist = parse_vendor_allowlist(node)
    vendors = {
        n: parse_vendor(n, _table(vendors_doc, n, f"vendors.{n}"), ddir, allowlist)
        for n in vendors_doc
    }
    if not vendors:
        vendors = {"local": VendorConfig("local", "local", root=ddir / "vendor")}
    buckets = _table(doc, "buckets", "buckets")
    _unknown(buckets, {"default_vendor", "bucket_template"}, "buckets")
    default_vendor = _str(buckets, "default_vendor", "buckets", next(iter(vendors)))
    if default_vendor not in vendors:
        raise ConfigError("buckets.default_vendor", f"no vendor named {default_vendor!r}")
    template = _str(buckets, "bucket_template", "buckets", "{pbucket}") or "{pbucket}"
    if "{pbucket}" not in template:
        raise ConfigError("buckets.bucket_template", "must contain {pbucket}")
    redis = _table(doc, "redis", "redis")
    _unknown(redis, {"url"}, "redis")
    tls_cert, tls_key = _str(node, "tls_cert", "node"), _str(node, "tls_key", "node")
    https = _listen(_str(node, "https_listen", "node"), "node.https_listen")
    if https and not (tls_cert and tls_key):
        raise ConfigError("node.tls_cert", "https_listen needs tls_cert and tls_key")
    master = _str(node, "master_key_file", "node")
    return Config(
        listen=_listen(listen or _str(node, "listen", "node", "127.0.0.1:9000"), "node.listen")
        or "127.0.0.1:9000",
        https_listen=https,
        tls_cert=Path(tls_cert) if tls_cert else None,
        tls_key=Path(tls_key) if tls_key else None,
        region=_str(node, "region", "node", "us-east-1") or "us-east-1",
        domain=_str(node, "domain", "node"),
        data_dir=ddir,
        master_key_file=Path(master) if master else None,
        log_level=(_str(node, "log_level", "node", "info") or "info").lower(),
        redis_url=_str(redis, "url", "redis"),
        vendors=vendors,
        default_vendor=default_vendor,
        bucket_template=template,
        pbuckets=parse_pbuckets(doc.get("pbuckets", []), vendors),
        shutdown_timeout=_num(node, "shutdown_timeout", "node", 30.0),
        vendor_allowlist=allowlist,
        **_iam(_table(doc, "iam", "iam")),
        cache=_cache(_table(doc, "cache", "cache"), ddir),
    )


def _cache(table: dict[str, Any], data_dir: Path) -> CacheConfig:
    _unknown(
        table,
        {"enabled", "block_size", "max_age", "negative_ttl", "fanout", "stale_if_error", "tier"},
        "cache",
    )
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("cache.enabled", "must be true or false")
    block_size = int(_num(table, "block_size", "cache", 8 * 1024 * 1024))
    if not 64 * 1024 <= block_size <= 256 * 1024 * 1024:
        raise ConfigError("cache.block_size", "must be between 64 KiB and 256 MiB")
    max_age = _seconds(table, "max_age", 60.0)
    negative_ttl = _seconds(table, "negative_ttl", 5.0)
    stale_if_error = _seconds(table, "stale_if_error", 0.0)
    fanout = int(_num(table, "fanout", "cache", 4))
    if not 1 <= fanout <= 64:
        raise ConfigError("cache.fanout", "must be between 1 and 64")
    items = table.get("tier", [])
    if not isinstance(items, list):
        raise ConfigError("cache.tier", "must be an array of tables ([[cache.tier]])")
    tiers = []
    for i, item in enumerate(items):
        path = f"cache.tier[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(path, "must be a table")
        _unknown(item, {"name", "dir", "capacity"}, path)
        directory = _str(item, "dir", path)
        if not directory:
            raise ConfigError(f"{path}.dir", "is required")
        capacity = int(_num(item, "capacity", path, DEFAULT_TIER_CAPACITY))
        if capacity < block_size:
            raise ConfigError(f"{path}.capacity", "must hold at least one block")
        tiers.append(TierConfig(_str(item, "name", path) or f"tier{i}", Path(directory), capacity))
    if not tiers:
        tiers.append(TierConfig("disk", data_dir / "cache", DEFAULT_TIER_CAPACITY))
    return CacheConfig(
        enabled, block_size, max_age, negative_ttl, fanout, stale_if_error, tuple(tiers)
    )


def _iam(table: dict[str, Any]) -> dict[str, Any]:
    _unknown(table, {"account_id", "max_stale", "trusted_proxies"}, "iam")
    account = _str(table, "account_id", "iam", "000000000000") or "000000000000"
    if not (len(account) == 12 and account.isdigit()):
        raise ConfigError("iam.account_id", "must be 12 digits")
    stale = _num(table, "max_stale", "iam", 60.0)
    if stale <= 0:
        raise ConfigError("iam.max_stale", "must be a positive number of seconds")
    proxies = table.get("trusted_proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise ConfigError("iam.trusted_proxies", "must be a list of CIDR strings")
    for i, cidr in enumerate(proxies):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"iam.trusted_proxies[{i}]", f"not a CIDR: {cidr!r}") from None
    return {"account_id": account, "iam_max_stale": stale, "trusted_proxies": tuple(proxies)}
