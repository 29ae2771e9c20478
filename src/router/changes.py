"""The router's change channel: every node learns at once that a PBucket or a vendor changed.

A write through any node publishes `pbucket:<name>` or `vendor:<name>` on `pc:rt:changed`; every
node's `Router` drops its cached record (or reloads the vendor) when the message arrives. The
per-process cache TTL stays as the backstop for a message lost while a node was reconnecting.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CHANGES_CHANNEL", "Change", "change_message", "parse_change"]

CHANGES_CHANNEL = "pc:rt:changed"
Kind = Literal["pbucket", "vendor"]
Change = tuple[Kind, str]


def change_message(kind: Kind, name: str) -> str:
    return f"{kind}:{name}"


def parse_change(data: bytes | str) -> Change | None:
    """(kind, name) of a message, or None for anything else (ignored, never fatal)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        return None
    kind, sep, name = text.partition(":")
    if not sep or not name:
        return None
    if kind == "pbucket":
        return "pbucket", name
    if kind == "vendor":
        return "vendor", name
    return None
