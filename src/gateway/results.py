"""What handlers return: plain values that `gateway.render` turns into HTTP, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from gateway.file_send import FileSlice

__all__ = ["Empty", "Result", "Stream", "Xml"]


@dataclass(slots=True)
class Xml:
    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Empty:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Stream:
    """An object body: `length` bytes from `body`; `close` releases the vendor connection.
    Cached bodies may yield open block slices (`FileSlice`) that the renderer sends with
    sendfile; it closes each one it receives, and `close` closes any it never received."""

    body: AsyncIterator[bytes] | AsyncIterator[bytes | FileSlice]
    length: int
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    close: Callable[[], Awaitable[None]] | None = None
    #: "hit", "miss" or "partial" when the block cache served it, for the access log
    cache: str | None = None


Result = Xml | Empty | Stream
