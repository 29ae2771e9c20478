"""`[vendors.NAME]` and `[node] vendor_allowlist`: vendor endpoints, profiles, health and retry
settings, validated; every error names its key.

    [node]
    vendor_allowlist = ["127.0.0.0/8", "minio.internal:9000"]   # private endpoints allowed

    [vendors.oss]
    type = "s3"
    profile = "oss"                       # defaults below come from router.profiles
    endpoint = "https://oss-cn-hangzhou.aliyuncs.com"
    addressing_style = "virtual"          # explicit keys beat the profile
    storage_classes = { cold = "IA" }
    retries = 2
    breaker_failures = 5
    breaker_cooldown = 5

An S3 endpoint must pass `router.endpoint_guard` (http/https, resolving only to public
addresses unless allowlisted) when the config is loaded; the type "local" vendor has no endpoint.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config_errors import ConfigError
from router.endpoint_guard import (
    Allowlist,
    EndpointRefused,
    Resolver,
    check_endpoint,
    parse_allowlist,
    resolve_all,
)
from router.profiles import (
    PROFILES,
    StorageClasses,
    VendorProfile,
    get_profile,
    with_storage_classes,
)

__all__ = ["VendorConfig", "parse_vendor", "parse_vendor_allowlist"]

_KEYS = {
    "type",
    "root",
    "endpoint",
    "region",
    "access_key",
    "secret_key",
    "access_key_env",
    "secret_key_env",
    "addressing_style",
    "connect_timeout",
    "read_timeout",
    "verify_tls",
    "profile",
    "request_checksum_calculation",
    "response_checksum_validation",
    "aws_chunked",
    "storage_classes",
    "retries",
    "breaker_failures",
    "breaker_cooldown",
}
_CHECKSUM_WHEN = ("when_required", "when_supported")


@dataclass(frozen=True, slots=True)
class VendorConfig:
    name: str
    type: str  # "local" | "s3"
    root: Path | None = None
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    addressing_style: str = "path"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    verify_tls: bool = True
    profile: str = "generic"
    request_checksum_calculation: str = "when_required"
    response_checksum_validation: str = "when_required"
    aws_chunked: bool = False
    storage_classes: StorageClasses = field(default_factory=StorageClasses)
    retries: int = 2  # extra attempts for idempotent reads
    breaker_failures: int = 5  # consecutive failures that open the circuit
    breaker_cooldown: float = 5.0  # seconds open before the first probe


def parse_vendor_allowlist(node: dict[str, Any]) -> Allowlist:
    """`node.vendor_allowlist`: CIDRs and HOST:PORT pairs vendors may live at (default none)."""
    items = node.get("vendor_allowlist", [])
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError("node.vendor_allowlist", "must be a list of CIDR or HOST:PORT strings")
    for i, item in enumerate(items):
        try:
            parse_allowlist([item])
        except ValueError:
            raise ConfigError(
                f"node.vendor_allowlist[{i}]", f"expected a CIDR or HOST:PORT, got {item!r}"
            ) from None
    return parse_allowlist(items)


def parse_vendor(
    name: str,
    doc: dict[str, Any],
    data_dir: Path,
    allow: Allowlist,
    *,
    resolve: Resolver = resolve_all,
) -> VendorConfig:
    path = f"vendors.{name}"
    _unknown(doc, path)
    kind = _str(doc, "type", path) or "s3"
    if kind == "local":
        root = _str(doc, "root", path)
        return VendorConfig(name, "local", root=Path(root) if root else data_dir / "vendor")
    if kind != "s3":
        raise ConfigError(f"{path}.type", f"must be 'local' or 's3', got {kind!r}")
    endpoint = _str(doc, "endpoint", path)
    if not endpoint:
        raise ConfigError(f"{path}.endpoint", "must be an http:// or https:// URL")
    try:
        check_endpoint(endpoint, allow, resolve=resolve)
    except EndpointRefused as exc:
        raise ConfigError(f"{path}.endpoint", str(exc)) from None
    profile_name = _str(doc, "profile", path) or "generic"
    if profile_name not in PROFILES:
        raise ConfigError(f"{path}.profile", f"must be one of {', '.join(sorted(PROFILES))}")
    profile = _storage_classes(doc, path, profile_name)
    style = _choice(doc, "addressing_style", path, ("path", "virtual"), profile.addressing_style)
    return VendorConfig(
        name,
        "s3",
        endpoint=endpoint,
        region=_str(doc, "region", path) or "us-east-1",
        access_key=_secret(doc, "access_key", path),
        secret_key=_secret(doc, "secret_key", path),
        addressing_style=style,
        connect_timeout=_positive(doc, "connect_timeout", path, 5.0),
        read_timeout=_positive(doc, "read_timeout", path, 60.0),
        verify_tls=_bool(doc, "verify_tls", path, True),
        profile=profile_name,
        request_checksum_calculation=_choice(
            doc,
            "request_checksum_calculation",
            path,
            _CHECKSUM_WHEN,
            profile.request_checksum_calculation,
        ),
        response_checksum_validation=_choice(
            doc,
            "response_checksum_validation",
            path,
            _CHECKSUM_WHEN,
            profile.response_checksum_validation,
        ),
        aws_chunked=_bool(doc, "aws_chunked", path, profile.aws_chunked),
        storage_classes=profile.storage_classes,
        retries=_count(doc, "retries", path, 2, low=0, high=10),
        breaker_failures=_count(doc, "breaker_failures", path, 5, low=1, high=1000),
        breaker_cooldown=_positive(doc, "breaker_cooldown", path, 5.0),
    )


def _storage_classes(doc: dict[str, Any], path: str, profile_name: str) -> VendorProfile:
    """The profile, with any hot / cold / archive class names the config gives instead."""
    table = doc.get("storage_classes", {})
    key = f"{path}.storage_classes"
    if not isinstance(table, dict):
        raise ConfigError(key, "must be a table with hot / cold / archive")
    for k, v in table.items():
        if k not in ("hot", "cold", "archive"):
            raise ConfigError(f"{key}.{k}", "unknown key (hot, cold or archive)")
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{key}.{k}", "must be a storage class name")
    return with_storage_classes(get_profile(profile_name), **table)


def _unknown(doc: dict[str, Any], path: str) -> None:
    for key in doc:
        if key not in _KEYS:
            raise ConfigError(f"{path}.{key}", "unknown key")


def _str(doc: dict[str, Any], key: str, path: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}.{key}", "must be a string")
    return value or None


def _choice(
    doc: dict[str, Any], key: str, path: str, allowed: tuple[str, ...], default: str
) -> str:
    value = _str(doc, key, path) or default
    if value not in allowed:
        raise ConfigError(f"{path}.{key}", f"must be one of {', '.join(map(repr, allowed))}")
    return value


def _bool(doc: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}.{key}", "must be true or false")
    return value


def _positive(doc: dict[str, Any], key: str, path: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{path}.{key}", "must be a positive number")
    if not math.isfinite(value):
        raise ConfigError(f"{path}.{key}", "must be finite")
    return float(value)


def _count(doc: dict[str, Any], key: str, path: str, default: int, *, low: int, high: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{path}.{key}", f"must be a whole number from {low} to {high}")
    return value


def _secret(doc: dict[str, Any], key: str, path: str) -> str:
    """A credential given inline, or (better) by the name of an environment variable."""
    env_name = _str(doc, key + "_env", path)
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise ConfigError(f"{path}.{key}_env", f"environment variable {env_name} is not set")
        return value
    value = _str(doc, key, path)
    if not value:
        raise ConfigError(
            f"{path}.{key}",
            f"is required (or set it through an environment variable named by {key}_env)",
        )
    return value
