"""What every phase of one lifecycle run shares: the view, rules, record, lease and hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from router.errors import UpstreamError
from router.pbucket import BucketView
from ttl.job import JobRecord
from ttl.lease import Lease
from ttl.rules import LifecycleConfiguration
from ttl.settings import LifecycleSettings

__all__ = ["RunContext", "RunHooks", "RunObserver", "each"]

T = TypeVar("T")


class RunObserver(Protocol):
    """Told about every counted event (the gateway's Prometheus counters)."""

    def counted(self, pbucket: str, what: str, objects: int, nbytes: int) -> None: ...

    def ended(self, job: JobRecord, seconds: float) -> None: ...


async def _nothing_removed(pbucket: str, key: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RunHooks:
    #: called after an object was deleted or rewritten (the gateway drops its cache entry)
    on_removed: Callable[[str, str], Awaitable[None]] = _nothing_removed
    observer: RunObserver | None = None


@dataclass(slots=True)
class RunContext:
    view: BucketView
    config: LifecycleConfiguration
    job: JobRecord
    lease: Lease
    now: datetime
    settings: LifecycleSettings
    hooks: RunHooks = field(default_factory=RunHooks)

    @property
    def pbucket(self) -> str:
        return self.job.pbucket

    def counted(self, what: str, nbytes: int = 0, objects: int = 1) -> None:
        if self.hooks.observer is not None and not self.job.dry_run:
            self.hooks.observer.counted(self.pbucket, what, objects, nbytes)

    def acted(self, action: str, rule_id: str, nbytes: int) -> None:
        """One expiration / transition / abort done (or, in a dry run, that would be done)."""
        job = self.job
        setattr(job, action, getattr(job, action) + 1)
        job.byte_count += nbytes
        job.count(rule_id, action)
        self.counted(action, nbytes)

    def plan(self, action: str, key: str, rule_id: str, **extra: str) -> None:
        """A dry run's would-be action: listed up to the cap, always counted."""
        job = self.job
        job.planned_total += 1
        if len(job.planned) < self.settings.dry_run_cap:
            job.planned.append({"action": action, "key": key, "rule": rule_id, **extra})

    def failed(self, key: str, err: Exception) -> None:
        """One object failed: counted and remembered, the run goes on."""
        reason = err.code if isinstance(err, UpstreamError) else type(err).__name__
        self.job.errors += 1
        self.job.last_error = f"{key}: {reason}"[:300]
        self.counted("errors")


async def each(items: Iterable[T], work: Callable[[T], Awaitable[None]], parallel: int) -> None:
    """`work` on every item, at most `parallel` at once; the first exception stops the rest
    and is raised as itself (not wrapped in a group)."""
    it = iter(items)

    async def worker() -> None:
        for item in it:  # workers share one iterator: each item is taken once
            await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, parallel)):
                group.create_task(worker())
    except BaseExceptionGroup as grouped:
        raise grouped.exceptions[0] from None
