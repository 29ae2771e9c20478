"""Keep credentials out of every log line: a logging filter that masks signatures, credentials,
session tokens and Authorization values wherever they appear in a formatted message (a
library's debug output, an exception text, a URL quoted in an error).
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactingFilter", "install", "redact"]

MASK = "[REDACTED]"
#: loggers whose lines are built only from values that hold no secret (request id, operation,
#: PBucket, status, sizes, timings): one per request, so they skip the regex passes
_CLEAN_LOGGERS = frozenset({"pcache.access"})

_PATTERNS = [
    # Query-string forms: presigned URLs and STS form bodies.
    re.compile(
        r"(?i)((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature"
        r"|SessionToken|SecretAccessKey|AWSAccessKeyId)=)[^&\s\"'<>]+"
    ),
    # Header forms, as printed by HTTP libraries.
    re.compile(
        r"(?i)((?:Authorization|X-Amz-Security-Token|x-amz-security-token)['\"]?\s*[:=]\s*['\"]?)"
        r"[^\r\n'\"]+"
    ),
    # XML bodies that carry credentials (STS responses).
    re.compile(r"(?i)(<(?:SecretAccessKey|SessionToken)>)[^<]+"),
    # JSON bodies (the admin API's one-time secret).
    re.compile(r"(?i)(\"(?:secret_key|secret_access_key|session_token)\"\s*:\s*\")[^\"]+"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the record's message after formatting its arguments, so nothing slips through
    an `%s`; exception texts are redacted by the formatter wrapper in `install`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in _CLEAN_LOGGERS:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.name in _CLEAN_LOGGERS and not record.exc_info else redact(text)


def install(fmt: str) -> None:
    """Apply redaction to every handler of the root logger (call after basicConfig)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
        handler.setFormatter(_RedactingFormatter(fmt))
