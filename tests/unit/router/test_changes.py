"""Messages on `pc:rt:changed`: what is sent is what is read; anything else is ignored."""

from __future__ import annotations

import pytest

from router.changes import change_message, parse_change


def test_change_message__round_trips_names_with_colons() -> None:
    assert parse_change(change_message("pbucket", "logs")) == ("pbucket", "logs")
    assert parse_change(change_message("vendor", "a:b").encode()) == ("vendor", "a:b")


@pytest.mark.parametrize("data", [b"", b"pbucket:", b"user:x", b"nocolon", b"\xff\xfe:x"])
def test_parse_change__ignores_anything_else(data: bytes) -> None:
    assert parse_change(data) is None
