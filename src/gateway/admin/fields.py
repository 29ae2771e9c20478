"""JSON in and out of the admin API: a strict body parser, typed field readers, timestamps.

Bodies are hostile input: the parser refuses duplicate keys (which could hide a second
`"enabled"`), NaN/Infinity and nesting past a fixed depth (found by a linear scan before
`json.loads`, so a 100,000-deep `[[[...` is a 400, never a RecursionError). Field readers
refuse wrong types and `Body.done()` refuses unknown fields, so a typo such as `{"enable":
false}` is an error instead of a silent no-op.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from auth.policy_doc import nesting_exceeds
from auth.usernames import validate_name

__all__ = [
    "MAX_NESTING",
    "AdminError",
    "Body",
    "iso",
    "parse_json",
    "parse_object",
    "valid_name",
    "validation_error",
]

#: Deeper than any policy document may nest (64, auth.policy_doc) plus the body around it, so a
#: too-deep document is reported by the policy parser with its own code.
MAX_NESTING = 100
_DESCRIPTION_CHARS = 1000


class AdminError(Exception):
    """An admin API error: rendered as `{"code", "message", "request_id"[, "field"]}`."""

    def __init__(self, code: str, status: int, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.field = code, status, message, field


def validation_error(field: str, message: str) -> AdminError:
    return AdminError("ValidationError", 400, message, field=field)


def _malformed(message: str) -> NoReturn:
    raise AdminError("MalformedJSON", 400, message)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            _malformed(f"duplicate key {key[:64]!r} in the JSON body")
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    _malformed(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Any JSON value from `raw` (UTF-8), or AdminError MalformedJSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _malformed("the body is not valid UTF-8")
    if nesting_exceeds(text, MAX_NESTING):
        _malformed(f"the body nests deeper than {MAX_NESTING} levels")
    try:
        return json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:  # AdminError from the hooks passes through
        _malformed(f"the body is not valid JSON: {str(err)[:120]}")


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` (every field then counts as absent)."""
    if not raw.strip():
        return {}
    value = parse_json(raw)
    if not isinstance(value, dict):
        _malformed("the body must be a JSON object")
    return value


def valid_name(value: object, field: str, what: str) -> str:
    """An IAM name (user, group, role, policy) or a ValidationError naming `field`."""
    if not isinstance(value, str):
        raise validation_error(field, f"{what} must be a string")
    try:
        return validate_name(value, what=what)
    except ValueError as err:
        raise validation_error(field, str(err)) from None


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, to the second: the one timestamp form of the admin API."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Body:
    """A parsed JSON object read field by field; `done()` refuses the fields nobody read."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._read: set[str] = set()

    def _get(self, name: str, *, required: bool) -> Any:
        self._read.add(name)
        if name not in self._data or self._data[name] is None:
            if required:
                raise validation_error(name, f"{name} is required")
            return None
        return self._data[name]

    def name(self, field: str, what: str) -> str:
        return valid_name(self._get(field, required=True), field, what)

    def text(self, field: str, *, max_chars: int = _DESCRIPTION_CHARS) -> str:
        """An optional free-text string (a description); absent is ''."""
        value = self._get(field, required=False)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise validation_error(field, f"{field} must be a string")
        if len(value) > max_chars:
            raise validation_error(field, f"{field} must be at most {max_chars} characters")
        return value

    def boolean(self, field: str, default: bool | None = None) -> bool:
        """Required, unless a default is given for when it is absent."""
        value = self._get(field, required=default is None)
        if value is None and default is not None:
            return default
        if not isinstance(value, bool):
            raise validation_error(field, f"{field} must be true or false")
        return value

    def choice(self, field: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        """Required, unless a default is given for when it is absent."""
        value = self._get(field, required=default is None)
        if value is None and default is not None:
            return default
        if value not in allowed:
            raise validation_error(field, f"{field} must be one of {', '.join(allowed)}")
        return str(value)

    def integer(self, field: str, *, low: int, high: int, default: int) -> int:
        value = self._get(field, required=False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise validation_error(field, f"{field} must be an integer")
        if not low <= value <= high:
            raise validation_error(field, f"{field} must be between {low} and {high}")
        return value

    def number(self, field: str, *, low: float, high: float, default: float) -> float:
        """An optional finite number in (low, high] (a positive duration, a weight)."""
        value = self._get(field, required=False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise validation_error(field, f"{field} must be a number")
        if not math.isfinite(value) or not low < value <= high:
            raise validation_error(field, f"{field} must be above {low:g} and at most {high:g}")
        return float(value)

    def string(
        self, field: str, *, required: bool = False, default: str = "", max_chars: int = 1024
    ) -> str:
        """A string field; absent is `default` unless required. Control characters refused."""
        value = self._get(field, required=required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise validation_error(field, f"{field} must be a string")
        if len(value) > max_chars:
            raise validation_error(field, f"{field} must be at most {max_chars} characters")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise validation_error(field, f"{field} must not contain control characters")
        return value

    def value(self, field: str, *, required: bool = False) -> Any:
        """The raw JSON value (an array or object the caller checks itself); None if absent."""
        return self._get(field, required=required)

    def has(self, field: str) -> bool:
        return field in self._data and self._data[field] is not None

    def document(self, field: str) -> str:
        """A policy document given as a JSON object or as a string holding one; returned as
        text for the policy parser (which gives the error codes for what is inside)."""
        value = self._get(field, required=True)
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        raise validation_error(field, f"{field} must be a JSON object or a string")

    def timestamp(self, field: str) -> datetime | None:
        """An optional ISO 8601 date-time with a zone (`Z` or an offset), in UTC to the second."""
        value = self._get(field, required=False)
        if value is None:
            return None
        if not isinstance(value, str):
            raise validation_error(field, f"{field} must be an ISO 8601 date-time string")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise validation_error(field, f"{field} is not an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            raise validation_error(field, f"{field} needs a time zone, e.g. 2030-01-01T00:00:00Z")
        return moment.astimezone(UTC).replace(microsecond=0)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise validation_error(unknown[0], f"unknown field {unknown[0][:64]!r}")
