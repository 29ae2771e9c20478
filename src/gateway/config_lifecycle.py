"""The `[lifecycle]` table: the scheduler and its jobs (ttl.settings.LifecycleSettings).

    [lifecycle]
    enabled = true          # run the scheduler on this node
    interval = "24h"        # each PBucket's rules are applied once per interval
    lease_ttl = "60s"       # a job silent this long loses its PBucket to another node
    page_size = 1000        # keys per listed page (checkpoint after each)
    parallel = 8            # objects of a page handled at once
    dry_run_cap = 1000      # would-be actions a dry run lists

Durations are a number of seconds or a string of a number and a unit (s, m, h, d).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gateway.config_errors import ConfigError
from ttl.settings import LifecycleSettings

__all__ = ["parse_duration", "parse_lifecycle"]

_KEYS = {"enabled", "interval", "lease_ttl", "page_size", "parallel", "dry_run_cap"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(value: object, key: str) -> timedelta:
    """`"24h"`, `"90m"`, `"1.5d"`, or a number of seconds; must be more than zero."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        found = _DURATION.match(value)
        if found:
            seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds is None or seconds <= 0:
        raise ConfigError(key, f'expected a duration such as "24h", "30m" or 60, got {value!r}')
    return timedelta(seconds=seconds)


def _count(table: dict[str, Any], key: str, default: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ConfigError(f"lifecycle.{key}", f"must be a whole number from 1 to {high}")
    return value


def parse_lifecycle(table: dict[str, Any]) -> LifecycleSettings:
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"lifecycle.{key}", "unknown key")
    default = LifecycleSettings()
    enabled = table.get("enabled", default.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError("lifecycle.enabled", "must be true or false")
    interval = parse_duration(table.get("interval", "24h"), "lifecycle.interval")
    lease_ttl = parse_duration(table.get("lease_ttl", "60s"), "lifecycle.lease_ttl")
    if lease_ttl < timedelta(seconds=1):
        raise ConfigError("lifecycle.lease_ttl", "must be at least 1 second")
    return LifecycleSettings(
        enabled=enabled,
        interval=interval,
        lease_ttl=lease_ttl,
        page_size=_count(table, "page_size", default.page_size, 1000),
        parallel=_count(table, "parallel", default.parallel, 64),
        dry_run_cap=_count(table, "dry_run_cap", default.dry_run_cap, 10000),
    )
