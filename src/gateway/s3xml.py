"""S3 XML: render response documents from values, and parse request documents safely.

Rendering builds strings directly (checked against golden strings in tests): it is on the hot
path of every listing. Parsing goes through defusedxml (no DTDs, no entities) under a size cap,
into plain values; a tree is walked iteratively, never recursively.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from gateway.errors import S3Error

__all__ = [
    "MAX_XML_BODY",
    "S3_NS",
    "Doc",
    "esc",
    "iso8601",
    "parse_xml",
]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_XML_BODY = 2 * 1024 * 1024  # a 1000-key DeleteObjects with 1024-byte keys fits comfortably
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;"}


def esc(text: str) -> str:
    """Escape for XML text; control characters become character references as S3 emits them."""
    if not any(c in text for c in "&<>\"'\r") and text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 and ch not in "\t\n":
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(ch)
    return "".join(out)


def iso8601(ts: datetime) -> str:
    """S3's timestamp format in XML: 2009-10-12T17:50:30.000Z."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class Doc:
    """A tiny append-only XML writer: `with d.el("Contents"): d.leaf("Key", k)`."""

    __slots__ = ("_parts", "_stack")

    def __init__(self, root: str, *, ns: str | None = S3_NS) -> None:
        self._parts: list[str] = [XML_DECL, f'<{root} xmlns="{ns}">' if ns else f"<{root}>"]
        self._stack: list[str] = [root]

    def leaf(self, name: str, value: str | int | bool | None) -> Doc:
        if value is None:
            return self
        text = ("true" if value else "false") if isinstance(value, bool) else esc(str(value))
        self._parts.append(f"<{name}>{text}</{name}>")
        return self

    def open(self, name: str) -> Doc:
        self._parts.append(f"<{name}>")
        self._stack.append(name)
        return self

    def close(self) -> Doc:
        self._parts.append(f"</{self._stack.pop()}>")
        return self

    def leaves(self, name: str, values: Iterable[str]) -> Doc:
        for v in values:
            self.leaf(name, v)
        return self

    def render(self) -> bytes:
        while self._stack:
            self.close()
        return "".join(self._parts).encode("utf-8")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes, root: str) -> Element:
    """Parse a request document; any DTD, entity, bad syntax or wrong root is MalformedXML."""
    if len(body) > MAX_XML_BODY:
        raise S3Error("MalformedXML")
    if not body.strip():
        raise S3Error("MalformedXML")
    try:
        elem: Element = SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise S3Error("MalformedXML") from None
    if _local(elem.tag) != root:
        raise S3Error("MalformedXML")
    return elem


def children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if _local(c.tag) == name]


def child_text(elem: Element, name: str, default: str | None = None) -> str | None:
    for c in elem:
        if _local(c.tag) == name:
            return c.text or ""
    return default


def parse_complete_multipart(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """CompleteMultipartUpload -> [(part number, etag, {ALG: checksum})] in document order."""
    doc = parse_xml(body, "CompleteMultipartUpload")
    parts: list[tuple[int, str, dict[str, str]]] = []
    for part in children(doc, "Part"):
        number = child_text(part, "PartNumber")
        etag = child_text(part, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise S3Error("MalformedXML")
        sums = {}
        for alg in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
            val = child_text(part, "Checksum" + alg)
            if val:
                sums[alg] = val.strip()
        parts.append((int(number), etag.strip(), sums))
    if not parts:
        raise S3Error("MalformedXML")
    return parts


def parse_delete(body: bytes, max_keys: int = 1000) -> tuple[list[str], bool]:
    """Delete (DeleteObjects) -> (keys, quiet). More than `max_keys` objects is MalformedXML."""
    doc = parse_xml(body, "Delete")
    quiet = (child_text(doc, "Quiet") or "false").strip().lower() == "true"
    keys: list[str] = []
    for obj in children(doc, "Object"):
        key = child_text(obj, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        keys.append(key)
        if len(keys) > max_keys:
            raise S3Error("MalformedXML")
    if not keys:
        raise S3Error("MalformedXML")
    return keys, quiet


def parse_tagging(body: bytes) -> list[tuple[str, str]]:
    """Tagging -> [(key, value)], validated as S3 does (<= 10 tags, key <= 128, value <= 256)."""
    doc = parse_xml(body, "Tagging")
    tagsets = children(doc, "TagSet")
    if len(tagsets) != 1:
        raise S3Error("MalformedXML")
    tags: list[tuple[str, str]] = []
    for tag in children(tagsets[0], "Tag"):
        k, v = child_text(tag, "Key"), child_text(tag, "Value")
        if k is None or v is None:
            raise S3Error("MalformedXML")
        tags.append((k, v))
    validate_tags(tags)
    return tags


def validate_tags(tags: Sequence[tuple[str, str]]) -> None:
    if len(tags) > 10:
        raise S3Error("InvalidTag", "Object tags cannot be greater than 10")
    seen: set[str] = set()
    for k, v in tags:
        if not k or len(k) > 128 or len(v) > 256:
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is too long.")
        if k in seen:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        seen.add(k)


def parse_create_bucket(body: bytes) -> str | None:
    """CreateBucketConfiguration -> LocationConstraint (None when the body is empty)."""
    if not body.strip():
        return None
    doc = parse_xml(body, "CreateBucketConfiguration")
    loc = child_text(doc, "LocationConstraint")
    return loc.strip() if loc else None
