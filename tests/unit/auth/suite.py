"""Reads the vendored AWS SigV4 test-suite files (vectors/sigv4, see NOTICE) as RequestViews."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auth.sigv4 import RequestView

SUITE_DIR = Path(__file__).parent / "vectors" / "sigv4"
SUITE_NOW = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_REGION = "us-east-1"
SUITE_SERVICE = "service"


@dataclass(frozen=True)
class SuiteRequest:
    view: RequestView
    body: bytes

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def parse_request(text: str) -> SuiteRequest:
    """`METHOD target HTTP/1.1`, `Name:value` lines, a blank line, then the body.

    A line starting with whitespace continues the previous header as one more value (the
    suite's get-header-value-multiline canonicalises obs-fold lines that way).
    """
    head, _, body = text.partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, _, rest = request_line.partition(" ")
    target = rest.rsplit(" ", 1)[0]  # the target may contain spaces (get-space-unnormalized)
    raw_path, _, raw_query = target.partition("?")
    headers: list[tuple[str, str]] = []
    for line in header_lines:
        if line[:1] in (" ", "\t") and headers:
            headers.append((headers[-1][0], line.strip()))
            continue
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    view = RequestView(method, raw_path, raw_query, tuple(headers))
    return SuiteRequest(view, body.encode("utf-8"))


def cases(kind: str) -> list[str]:
    """Names of the cases that have a `<kind>-signed-request.txt`."""
    return sorted(p.parent.name for p in SUITE_DIR.glob(f"*/{kind}-signed-request.txt"))


def read(case: str, name: str) -> str | None:
    path = SUITE_DIR / case / name
    return path.read_text(encoding="utf-8") if path.exists() else None
