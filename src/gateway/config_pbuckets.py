"""`[[pbuckets]]`: PBuckets declared in the config file, validated; every error names the key.

Two forms. The single-target shorthand:

    [[pbuckets]]
    name = "photos"
    vendor = "aws"            # required, a [vendors] name
    bucket = "photos-prod"    # default: the PBucket name
    prefix = "tenant/"        # default: ""

and the target list, for any policy (`single` takes exactly one target; `replicate` takes
`write_quorum`, 1..len(targets), default all):

    [[pbuckets]]
    name = "logs"
    policy = "balance"
    targets = [
      { vendor = "aws", bucket = "logs-a", weight = 2, region = "us-east-1" },
      { vendor = "oss", bucket = "logs-b", prefix = "pc/" },
    ]
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from gateway.config_errors import ConfigError
from router.target_rules import first_overlap
from router.views import POLICIES

__all__ = ["PBucketConfig", "PBucketTargetConfig", "parse_pbuckets"]

_PBUCKET_KEYS = {"name", "policy", "vendor", "bucket", "prefix", "targets", "write_quorum"}
_SHORTHAND_KEYS = ("vendor", "bucket", "prefix")
_TARGET_KEYS = {"vendor", "bucket", "prefix", "weight", "region"}


@dataclass(frozen=True, slots=True)
class PBucketTargetConfig:
    vendor: str
    bucket: str
    prefix: str = ""
    weight: float = 1.0
    region: str | None = None


@dataclass(frozen=True, slots=True)
class PBucketConfig:
    name: str
    targets: tuple[PBucketTargetConfig, ...]
    policy: str = "single"
    #: `replicate`: acknowledgements a write needs (None: every target)
    write_quorum: int | None = None

    # The first target, for code written when a PBucket had exactly one.
    @property
    def vendor(self) -> str:
        return self.targets[0].vendor

    @property
    def bucket(self) -> str:
        return self.targets[0].bucket

    @property
    def prefix(self) -> str:
        return self.targets[0].prefix


def _string(doc: dict[str, Any], key: str, path: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}.{key}", "must be a string")
    return value


def _unknown(doc: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in doc:
        if key not in allowed:
            raise ConfigError(f"{path}.{key}", "unknown key")


def _vendor(doc: dict[str, Any], path: str, vendors: Collection[str]) -> str:
    vendor = _string(doc, "vendor", path)
    if not vendor or vendor not in vendors:
        raise ConfigError(f"{path}.vendor", f"must name a vendor in [vendors], got {vendor!r}")
    return vendor


def _weight(doc: dict[str, Any], path: str) -> float:
    value = doc.get("weight", 1)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{path}.weight", f"must be a positive number, got {value!r}")
    return float(value)


def _target(doc: Any, path: str, vendors: Collection[str]) -> PBucketTargetConfig:
    if not isinstance(doc, dict):
        raise ConfigError(path, "must be a table")
    _unknown(doc, _TARGET_KEYS, path)
    vendor = _vendor(doc, path, vendors)
    bucket = _string(doc, "bucket", path)
    if not bucket:
        raise ConfigError(f"{path}.bucket", "is required")
    return PBucketTargetConfig(
        vendor=vendor,
        bucket=bucket,
        prefix=_string(doc, "prefix", path) or "",
        weight=_weight(doc, path),
        region=_string(doc, "region", path) or None,
    )


def _targets(items: Any, path: str, vendors: Collection[str]) -> tuple[PBucketTargetConfig, ...]:
    if not isinstance(items, list) or not items:
        raise ConfigError(path, "must be a non-empty array of tables")
    out = tuple(_target(item, f"{path}[{j}]", vendors) for j, item in enumerate(items))
    clash = first_overlap(out)
    if clash is not None:
        k, j = clash
        raise ConfigError(
            f"{path}[{j}]", f"same vendor bucket as {path}[{k}] with an overlapping prefix"
        )
    return out


def _pbucket(item: Any, path: str, vendors: Collection[str]) -> PBucketConfig:
    if not isinstance(item, dict):
        raise ConfigError(path, "must be a table")
    _unknown(item, _PBUCKET_KEYS, path)
    name = _string(item, "name", path)
    if not name:
        raise ConfigError(f"{path}.name", "is required")
    policy = _string(item, "policy", path) or "single"
    if policy not in POLICIES:
        raise ConfigError(f"{path}.policy", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
    if "targets" in item:
        if any(k in item for k in _SHORTHAND_KEYS):
            raise ConfigError(
                f"{path}.targets", "give either vendor/bucket/prefix or targets, not both"
            )
        targets = _targets(item["targets"], f"{path}.targets", vendors)
    elif policy != "single":
        raise ConfigError(f"{path}.targets", f"is required for policy {policy!r}")
    else:
        targets = (
            PBucketTargetConfig(
                vendor=_vendor(item, path, vendors),
                bucket=_string(item, "bucket", path) or name,
                prefix=_string(item, "prefix", path) or "",
            ),
        )
    if policy == "single" and len(targets) != 1:
        raise ConfigError(f"{path}.targets", "policy 'single' takes exactly one target")
    if policy == "migrate" and len(targets) != 2:
        raise ConfigError(f"{path}.targets", "policy 'migrate' takes two targets: [new, old]")
    quorum = _write_quorum(item, path, policy, len(targets))
    return PBucketConfig(name=name, targets=targets, policy=policy, write_quorum=quorum)


def _write_quorum(item: dict[str, Any], path: str, policy: str, targets: int) -> int | None:
    if "write_quorum" not in item:
        return None
    value = item["write_quorum"]
    if policy != "replicate":
        raise ConfigError(f"{path}.write_quorum", "only applies to policy 'replicate'")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= targets:
        raise ConfigError(
            f"{path}.write_quorum", f"must be an integer from 1 to {targets}, got {value!r}"
        )
    return value


def parse_pbuckets(items: Any, vendors: Collection[str]) -> tuple[PBucketConfig, ...]:
    """The `pbuckets` array; `vendors` are the names defined under [vendors]."""
    if not isinstance(items, list):
        raise ConfigError("pbuckets", "must be an array of tables ([[pbuckets]])")
    out: list[PBucketConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        pb = _pbucket(item, f"pbuckets[{i}]", vendors)
        if pb.name in seen:
            raise ConfigError(f"pbuckets[{i}].name", f"{pb.name!r} is declared twice")
        seen.add(pb.name)
        out.append(pb)
    return tuple(out)
