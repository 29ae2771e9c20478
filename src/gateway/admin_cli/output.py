"""How `pcache admin` prints replies: aligned tables and `key: value` blocks, or raw JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

__all__ = ["Column", "cell", "print_json", "print_record", "print_table"]

Column = tuple[str, str]  # (heading, field of each item)


def cell(value: object) -> str:
    """One value as table text: lists joined by commas, None as '-', booleans lower-case."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def print_json(value: Any, out: TextIO) -> None:
    if value is not None:
        out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_table(items: Sequence[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> None:
    rows = [[heading for heading, _ in columns]]
    rows += [[cell(item.get(field)) for _, field in columns] for item in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        line = "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
        out.write(line.rstrip() + "\n")


def print_record(record: Mapping[str, Any], out: TextIO, *, documents: Sequence[str] = ()) -> None:
    """`field: value` lines, aligned; the fields in `documents` follow as indented JSON."""
    plain = [(k, v) for k, v in record.items() if k not in documents]
    width = max((len(k) for k, _ in plain), default=0)
    for key, value in plain:
        out.write(f"{(key + ':').ljust(width + 1)} {cell(value)}\n")
    for key in documents:
        if key in record:
            out.write(f"{key}:\n")
            text = json.dumps(record[key], indent=2, ensure_ascii=False)
            out.write("".join(f"  {line}\n" for line in text.splitlines()))
