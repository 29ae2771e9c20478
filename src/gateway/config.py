"""Load and validate the TOML config into typed settings; every error names the key at fault.

Lower packages never read files or the environment: this module fills their settings
dataclasses. `config.example.toml` documents every key with its default.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.cache_policy import Freshness, FreshnessMode, Rule, WriteMode, parse_freshness
from gateway.config_errors import ConfigError
from gateway.config_lifecycle import parse_lifecycle
from gateway.config_pbuckets import PBucketConfig, parse_pbuckets
from gateway.config_vendors import VendorConfig, parse_vendor, parse_vendor_allowlist
from router.endpoint_guard import Allowlist
from ttl.settings import LifecycleSettings

__all__ = ["Config", "ConfigError", "PBucketConfig", "VendorConfig", "load_config"]


@dataclass(frozen=True, slots=True)
class TierConfig:
    name: str
    directory: Path
    capacity: int
    #: free space kept on the tier's file system (None: the tier's own default)
    min_free_ratio: float | None = None
    min_free_bytes: int = 0
    verify_on_open: bool = True


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
    admission_tier: int = 0
    promote_after: int = 2
    verify_reads: str = "once_in_memory"
    #: the default freshness (`freshness`, else max-age=`max_age`) and write mode
    freshness: Freshness = field(default_factory=lambda: Freshness(FreshnessMode.MAX_AGE, 60.0))
    write_mode: WriteMode = WriteMode.THROUGH
    write_through_max: int = 64 * 1024 * 1024
    rules: tuple[Rule, ...] = ()


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
    #: `replicate` PBuckets read first from targets with this region label
    region_affinity: str | None = None
    #: worker processes serving the listeners (SO_REUSEPORT), sharing the tiers by shard
    workers: int = 1
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    #: the repair worker: seconds between scans, per-entry retry backoff (first and cap), and
    #: how long a repaired target must stay in line before its entry is acknowledged
    repair_scan_interval: float = 5.0
    repair_backoff_base: float = 0.5
    repair_backoff_max: float = 5.0
    repair_settle: float = 2.0


MAX_WORKERS = 64
_TOP = {"node", "redis", "vendors", "buckets", "pbuckets", "iam", "cache", "lifecycle", "repair"}
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
    "region_affinity",
    "workers",
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


def _workers(node: dict[str, Any]) -> int:
    value = node.get("workers", 1)
    if value == "auto":
        return os.cpu_count() or 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ConfigError("node.workers", f'must be "auto" or a whole number 1..{MAX_WORKERS}')
    return value


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
        region_affinity=_str(node, "region_affinity", "node"),
        workers=_workers(node),
        **_iam(_table(doc, "iam", "iam")),
        **_repair(_table(doc, "repair", "repair")),
        cache=_cache(_table(doc, "cache", "cache"), ddir),
        lifecycle=parse_lifecycle(_table(doc, "lifecycle", "lifecycle")),
    )


_CACHE_KEYS = {
    "enabled",
    "block_size",
    "max_age",
    "negative_ttl",
    "fanout",
    "stale_if_error",
    "tier",
    "rule",
    "admission_tier",
    "promote_after",
    "verify_reads",
    "freshness",
    "write_mode",
    "write_through_max",
}
_MIN_BLOCK, _MAX_BLOCK = 64 * 1024, 256 * 1024 * 1024


def _non_negative(doc: dict[str, Any], key: str, path: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{path}.{key}", "must be a number >= 0")
    return float(value)


def _bool(table: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}.{key}", "must be true or false")
    return value


def _block_size(table: dict[str, Any], path: str, default: float) -> int:
    size = int(_num(table, "block_size", path, default))
    if not _MIN_BLOCK <= size <= _MAX_BLOCK:
        raise ConfigError(f"{path}.block_size", "must be between 64 KiB and 256 MiB")
    return size


def _freshness(table: dict[str, Any], path: str) -> Freshness | None:
    text = _str(table, "freshness", path)
    if text is None:
        return None
    try:
        return parse_freshness(text)
    except ValueError as err:
        raise ConfigError(f"{path}.freshness", str(err)) from None


def _write_mode(table: dict[str, Any], path: str) -> WriteMode | None:
    text = _str(table, "write_mode", path)
    if text is None:
        return None
    try:
        return WriteMode(text)
    except ValueError:
        raise ConfigError(f"{path}.write_mode", "must be through or around") from None


def _tier(item: Any, path: str, block_size: int) -> TierConfig:
    if not isinstance(item, dict):
        raise ConfigError(path, "must be a table")
    _unknown(
        item,
        {"name", "dir", "capacity", "min_free_ratio", "min_free_bytes", "verify_on_open"},
        path,
    )
    directory = _str(item, "dir", path)
    if not directory:
        raise ConfigError(f"{path}.dir", "is required")
    capacity = int(_num(item, "capacity", path, DEFAULT_TIER_CAPACITY))
    if capacity < block_size:
        raise ConfigError(f"{path}.capacity", "must hold at least one block")
    ratio = None
    if "min_free_ratio" in item:
        ratio = _non_negative(item, "min_free_ratio", path, 0.0)
        if ratio >= 1.0:
            raise ConfigError(f"{path}.min_free_ratio", "must be below 1")
    free_bytes = int(_non_negative(item, "min_free_bytes", path, 0))
    name = _str(item, "name", path) or "tier" + path.rsplit("[", 1)[-1].rstrip("]")
    return TierConfig(
        name,
        Path(directory),
        capacity,
        ratio,
        free_bytes,
        _bool(item, "verify_on_open", path, True),
    )


def _rule(item: Any, path: str) -> Rule:
    if not isinstance(item, dict):
        raise ConfigError(path, "must be a table")
    _unknown(item, {"pbucket", "prefix", "freshness", "write_mode", "block_size"}, path)
    pbucket = _str(item, "pbucket", path)
    if not pbucket:
        raise ConfigError(f"{path}.pbucket", "is required")
    prefix = _str(item, "prefix", path) or ""
    block_size = _block_size(item, path, 0) if "block_size" in item else None
    if block_size is not None and prefix:
        # Blocks are cut per object from its PBucket's size; one PBucket, one block size.
        raise ConfigError(f"{path}.block_size", "is set per PBucket: use a rule without prefix")
    rule = Rule(pbucket, prefix, _freshness(item, path), _write_mode(item, path), block_size)
    if rule.freshness is None and rule.write_mode is None and rule.block_size is None:
        raise ConfigError(path, "sets nothing: give freshness, write_mode or block_size")
    return rule


def _cache(table: dict[str, Any], data_dir: Path) -> CacheConfig:
    _unknown(table, _CACHE_KEYS, "cache")
    enabled = _bool(table, "enabled", "cache", True)
    block_size = _block_size(table, "cache", 8 * 1024 * 1024)
    max_age = _seconds(table, "max_age", 60.0)
    negative_ttl = _seconds(table, "negative_ttl", 5.0)
    stale_if_error = _seconds(table, "stale_if_error", 0.0)
    fanout = int(_num(table, "fanout", "cache", 4))
    if not 1 <= fanout <= 64:
        raise ConfigError("cache.fanout", "must be between 1 and 64")
    items = table.get("tier", [])
    if not isinstance(items, list):
        raise ConfigError("cache.tier", "must be an array of tables ([[cache.tier]])")
    tiers = [_tier(item, f"cache.tier[{i}]", block_size) for i, item in enumerate(items)]
    if not tiers:
        tiers.append(TierConfig("disk", data_dir / "cache", DEFAULT_TIER_CAPACITY))
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise ConfigError("cache.tier", "tier names must be unique")
    admission = _str(table, "admission_tier", "cache") or names[0]
    if admission not in names:
        raise ConfigError("cache.admission_tier", f"no tier named {admission!r}")
    promote_after = int(_num(table, "promote_after", "cache", 2))
    if promote_after < 1:
        raise ConfigError("cache.promote_after", "must be at least 1")
    verify_reads = _str(table, "verify_reads", "cache", "once_in_memory") or "once_in_memory"
    if verify_reads not in ("once_in_memory", "once", "always"):
        raise ConfigError("cache.verify_reads", "must be once_in_memory, once or always")
    write_through_max = int(_non_negative(table, "write_through_max", "cache", 64 * 1024 * 1024))
    rules = table.get("rule", [])
    if not isinstance(rules, list):
        raise ConfigError("cache.rule", "must be an array of tables ([[cache.rule]])")
    parsed = [_rule(item, f"cache.rule[{i}]") for i, item in enumerate(rules)]
    seen = {(r.pbucket, r.prefix) for r in parsed}
    if len(seen) != len(parsed):
        raise ConfigError("cache.rule", "two rules for one PBucket and prefix")
    return CacheConfig(
        enabled=enabled,
        block_size=block_size,
        max_age=max_age,
        negative_ttl=negative_ttl,
        fanout=fanout,
        stale_if_error=stale_if_error,
        tiers=tuple(tiers),
        admission_tier=names.index(admission),
        promote_after=promote_after,
        verify_reads=verify_reads,
        freshness=_freshness(table, "cache") or Freshness(FreshnessMode.MAX_AGE, max_age),
        write_mode=_write_mode(table, "cache") or WriteMode.THROUGH,
        write_through_max=write_through_max,
        rules=tuple(parsed),
    )


def _repair(table: dict[str, Any]) -> dict[str, Any]:
    _unknown(table, {"scan_interval", "backoff_base", "backoff_max", "settle"}, "repair")
    base = _num(table, "backoff_base", "repair", 0.5)
    cap = _num(table, "backoff_max", "repair", 5.0)
    if cap < base:
        raise ConfigError("repair.backoff_max", "must be at least repair.backoff_base")
    return {
        "repair_scan_interval": _num(table, "scan_interval", "repair", 5.0),
        "repair_backoff_base": base,
        "repair_backoff_max": cap,
        "repair_settle": _num(table, "settle", "repair", 2.0),
    }


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
