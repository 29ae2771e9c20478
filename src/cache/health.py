"""I/O health of one tier: after N consecutive I/O errors the tier is out of service for a
cool-down, then it is tried again on probation (one more error takes it out again at once).

A failing disk must not turn cache hits into client errors or slow every request: while a tier is
out of service it is skipped, and requests go to the next tier or to the vendor (FLT-12).
Not thread-safe on its own: the tier calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Clock", "IoHealth"]

Clock = Callable[[], float]
"""Monotonic seconds; injectable so tests step time instead of sleeping."""


class IoHealth:
    """Counts I/O errors and decides whether the tier is in service."""

    __slots__ = ("_clock", "_consecutive", "_cooldown", "_down_until", "_max_errors", "errors")

    def __init__(self, *, max_errors: int, cooldown: float, clock: Clock) -> None:
        if max_errors < 1:
            raise ValueError(f"max_errors must be >= 1, got {max_errors}")
        self._max_errors = max_errors
        self._cooldown = cooldown
        self._clock = clock
        self._consecutive = 0
        self._down_until: float | None = None
        self.errors = 0  # every I/O error ever counted, for stats

    def available(self) -> bool:
        """In service now? After the cool-down the tier returns on probation."""
        if self._down_until is None:
            return True
        if self._clock() < self._down_until:
            return False
        self._down_until = None
        self._consecutive = self._max_errors - 1
        return True

    def success(self) -> None:
        self._consecutive = 0

    def failure(self, *, counts_against_device: bool = True) -> None:
        """Count an error. Errors that say nothing about the device (a full file system) are
        counted for stats but never take the tier out of service."""
        self.errors += 1
        if not counts_against_device:
            return
        self._consecutive += 1
        if self._consecutive >= self._max_errors and self._down_until is None:
            self._down_until = self._clock() + self._cooldown
