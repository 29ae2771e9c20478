"""Counts HTTP/1.1 requests in a client->server byte stream, for the fault proxy.

Request heads are parsed; bodies are skipped by Content-Length or by walking chunked framing, so a
keep-alive connection's second request is found even when the first body did not end in CRLF.
"""

from __future__ import annotations

import re

__all__ = ["RequestCounter"]

_METHOD = re.compile(rb"(?:GET|PUT|HEAD|POST|DELETE) ")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)


class RequestCounter:
    def __init__(self) -> None:
        self.requests = 0
        self.gets = 0  # of which GETs (a cache's block fetches)
        self._buf = b""
        self._skip = 0  # body bytes still to pass over
        self._state = "head"  # head | size (chunk-size line) | trailer

    def feed(self, data: bytes) -> None:
        if self._skip and not self._buf:  # fast path: inside a body, nothing buffered
            used = min(self._skip, len(data))
            self._skip -= used
            data = data[used:]
        self._buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Consume one unit (skipped body, head, chunk-size line, trailer line) if buffered."""
        if self._skip:
            used = min(self._skip, len(self._buf))
            self._skip -= used
            self._buf = self._buf[used:]
            return self._skip == 0 and bool(self._buf)
        if self._state == "head":
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head, self._buf = self._buf[: end + 2], self._buf[end + 4 :]
            self._start_request(head)
            return True
        end = self._buf.find(b"\r\n")
        if end < 0:
            return False
        line, self._buf = self._buf[:end], self._buf[end + 2 :]
        if self._state == "size":
            size = int(line.split(b";")[0] or b"0", 16)
            if size:
                self._skip = size + 2  # the data and its CRLF
            else:
                self._state = "trailer"
        elif not line:  # the empty line that ends the trailers
            self._state = "head"
        return True

    def _start_request(self, head: bytes) -> None:
        if _METHOD.match(head):
            self.requests += 1
            self.gets += head.startswith(b"GET ")
        if _CHUNKED.search(head):
            self._state = "size"
        elif match := _CONTENT_LENGTH.search(head):
            self._skip = int(match.group(1))
