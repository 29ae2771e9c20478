"""What a node's lifecycle jobs and scheduler need to know; `gateway.config` fills it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["LifecycleSettings"]


@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    #: run the scheduler on this node (on-demand runs through the admin API work either way)
    enabled: bool = True
    #: how often each PBucket's rules are applied (S3 applies them once a day)
    interval: timedelta = timedelta(days=1)
    #: lease TTL: how long a job may go without touching its lease before another node may
    #: take the PBucket over (every action and every page extends it)
    lease_ttl: timedelta = timedelta(seconds=60)
    #: keys listed per page; the checkpoint is written after each page
    page_size: int = 1000
    #: objects of one page handled at once
    parallel: int = 8
    #: a dry run reports at most this many would-be actions (all are counted)
    dry_run_cap: int = 1000
