"""The admin API's typed field readers: optional values with defaults, and errors naming the
field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gateway.admin.fields import AdminError, Body


def _field_of(call: Any) -> str | None:
    with pytest.raises(AdminError) as err:
        call()
    assert err.value.code == "ValidationError"
    return err.value.field


def test_optional_readers__absent_or_null_is_the_default() -> None:
    body = Body({"n": None})
    assert body.number("n", low=0, high=10, default=5) == 5.0
    assert body.string("s", default="d") == "d"
    assert body.choice("c", ("a", "b"), "b") == "b"
    assert body.boolean("f", True) is True
    assert body.value("v") is None and not body.has("n")
    body.done()


def test_readers__accept_good_values() -> None:
    body = Body({"n": 2, "s": "text", "c": "a", "f": False, "v": [1]})
    assert body.number("n", low=0, high=10, default=5) == 2.0
    assert body.string("s", required=True) == "text"
    assert body.choice("c", ("a", "b"), "b") == "a"
    assert body.boolean("f", True) is False
    assert body.value("v") == [1] and body.has("v")
    body.done()


@pytest.mark.parametrize("value", [0, -1, 11, math.inf, "3", True, None])
def test_number__refuses_out_of_range_and_wrong_types(value: Any) -> None:
    body = Body({"n": value})
    if value is None:
        assert body.number("n", low=0, high=10, default=1) == 1.0
        return
    assert _field_of(lambda: body.number("n", low=0, high=10, default=1)) == "n"


@pytest.mark.parametrize("value", [5, "x" * 11, "a\nb", "a\x7fb"])
def test_string__refuses_wrong_types_long_values_and_control_characters(value: Any) -> None:
    assert _field_of(lambda: Body({"s": value}).string("s", max_chars=10)) == "s"


def test_required_readers__name_the_missing_field() -> None:
    assert _field_of(lambda: Body({}).string("s", required=True)) == "s"
    assert _field_of(lambda: Body({}).choice("c", ("a",))) == "c"
    assert _field_of(lambda: Body({}).boolean("f")) == "f"
    assert _field_of(lambda: Body({}).value("v", required=True)) == "v"
    assert _field_of(lambda: Body({"c": "z"}).choice("c", ("a",), "a")) == "c"
