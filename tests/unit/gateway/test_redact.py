"""Log redaction: each credential-bearing form is masked, the rest of the line kept."""

from __future__ import annotations

import logging

import pytest

from gateway.redact import MASK, RedactingFilter, redact

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (
            "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1"
            "&X-Amz-Signature=abcdef0123 HTTP/1.1",
            ["AKID%2F2026", "abcdef0123"],
        ),
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=deadbeef", ["deadbeef"]),
        ("{'Authorization': 'AWS4-HMAC-SHA256 Credential=AKID/x', 'Host': 'h'}", ["AKID/x"]),
        ("x-amz-security-token: FQoGZXIvYXdzEtoken", ["FQoGZXIvYXdzEtoken"]),
        (f"<SecretAccessKey>{SECRET}</SecretAccessKey>", [SECRET]),
        (f'{{"access_key": "PCAK", "secret_key": "{SECRET}"}}', [SECRET]),
        ("Action=AssumeRole&SessionToken=tok123&X", ["tok123"]),
    ],
)
def test_redact__masks_credentials(text: str, gone: list[str]) -> None:
    out = redact(text)
    for value in gone:
        assert value not in out
    assert MASK in out


def test_redact__leaves_ordinary_lines_alone() -> None:
    line = "request_id=AB op=GetObject pbucket=b status=200 bytes=5 cache=- latency_ms=1.0"
    assert redact(line) == line


def test_filter__formats_arguments_before_redacting() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "url=%s", ("?X-Amz-Signature=ff",), None
    )
    RedactingFilter().filter(record)
    assert "ff" not in record.getMessage()
