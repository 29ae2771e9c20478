"""The access log: one line per request, the busiest log of the gateway, written cheaply.

Going through `logging` costs a LogRecord, a caller lookup, a formatter pass and a flushed
write per request (about a tenth of a warm 4 KiB hit's CPU). When the gateway configured the
logging itself (`configure`) and nothing else listens on `pcache.access`, the line is formatted
here in logging's exact layout and the lines of one event-loop pass leave in one write. Anyone
who adds a handler to `pcache.access` or to the root logger (an embedding program, a test)
gets every line through `logging` again, unchanged.

Access lines hold no secret (ids, operation, PBucket, status, sizes, timings), which is why they
may skip the redaction every other logger's lines get (see `gateway.redact`).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import time
from typing import TextIO

__all__ = ["configure", "configure_off", "flush", "record", "write"]

logger = logging.getLogger("pcache.access")

#: above this many buffered lines they are written at once rather than at the end of the pass
_MAX_PENDING = 256


_ASCTIME, _MESSAGE = "%(asctime)s", "%(message)s"


class _Fast:
    """Writes lines in the handler's own layout: `%(asctime)s<middle>%(message)s`, the middle
    rendered once by logging itself (level, logger name, worker index...)."""

    def __init__(self, stream: TextIO, handler: logging.Handler, middle: str) -> None:
        self.stream = stream
        self.handler = handler
        self.middle = middle
        self.pending: list[str] = []
        self.second = -1
        self.stamp = ""

    def usable(self) -> bool:
        # The layout is only ours to write while the handlers are the ones `configure` saw.
        root = logging.getLogger()
        return (
            not logger.handlers
            and logger.propagate
            and len(root.handlers) == 1
            and root.handlers[0] is self.handler
            and self.handler.level <= logging.INFO
        )

    def add(self, message: str) -> None:
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        line = f"{self.stamp},{int((now - second) * 1000):03d}{self.middle}{message}\n"
        self.pending.append(line)
        if len(self.pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a CLI path): write now
                self.flush()
        elif len(self.pending) >= _MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or full stderr must not fail requests
            pass


_fast: _Fast | None = None


def configure() -> None:
    """Take the fast path for the root handler `logging.basicConfig` just installed, if its
    layout is `%(asctime)s ... %(message)s` (anything else keeps every line in `logging`)."""
    global _fast
    configure_off()
    root = logging.getLogger()
    if len(root.handlers) != 1 or not isinstance(root.handlers[0], logging.StreamHandler):
        return
    handler = root.handlers[0]
    fmt = getattr(handler.formatter, "_fmt", None) or ""
    if not (fmt.startswith(_ASCTIME) and fmt.endswith(_MESSAGE) and fmt.count("%(") > 2):
        return
    sample = logging.LogRecord(logger.name, logging.INFO, "", 0, "", None, None)
    middle = logging.Formatter(fmt[len(_ASCTIME) : -len(_MESSAGE)]).format(sample)
    _fast = _Fast(handler.stream, handler, middle)
    # Any other record goes out after the access lines buffered before it: order is kept.
    handler.addFilter(_flush_first)
    atexit.unregister(flush)
    atexit.register(flush)


def configure_off() -> None:
    """Back to plain `logging` for every line."""
    global _fast
    if _fast is not None:
        _fast.flush()
        _fast.handler.removeFilter(_flush_first)
    _fast = None


def _flush_first(record: logging.LogRecord) -> bool:
    flush()
    return True


def write(message: str) -> None:
    """Log one access line at INFO on `pcache.access`."""
    if logger.isEnabledFor(logging.INFO):
        _emit(message)


def _emit(message: str) -> None:
    fast = _fast
    if fast is not None and fast.usable():
        fast.add(message)
    else:
        logger.info("%s", message)


def record(
    request_id: str,
    op: str,
    pbucket: str,
    status: int,
    sent: int,
    cache: str,
    started: float,
    remote: str | None,
) -> None:
    """The line every listener (S3, STS, admin) writes once per request; `started` is the
    request's `time.perf_counter()`."""
    if logger.isEnabledFor(logging.INFO):
        latency = (time.perf_counter() - started) * 1000
        _emit(
            f"request_id={request_id} op={op} pbucket={pbucket} status={status} bytes={sent} "
            f"cache={cache} latency_ms={latency:.1f} remote={remote or '-'}"
        )


def flush() -> None:
    """Write any buffered lines now (shutdown)."""
    if _fast is not None:
        _fast.flush()
