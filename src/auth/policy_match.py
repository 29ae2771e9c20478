"""Wildcard matching for IAM patterns, policy-variable templates and S3 ARNs.

IAM patterns (Action, Resource, Principal ARNs, StringLike values) know two wildcards: `*` (any
run of characters, `/` included) and `?` (exactly one character). Policies come from users, so
matching must stay cheap on hostile input: no regex (a translated `*a*a*a...` pattern is the
classic catastrophic-backtracking case) and no recursion. The matcher splits a pattern on `*`
into fixed-length segments (literal text with `?` holes) and walks the text with two cursors,
one in the pattern's segments and one in the text, placing every segment at its leftmost
occurrence after the previous one. Leftmost placement is always right: a segment has a fixed
length, so the earliest start is also the earliest end and leaves the most room for the rest.
The literal pieces are located with `str.find`/`str.startswith`, so the worst case is
O(len(text) * pieces) done in C, never exponential.

Case: Resource and Principal matching is case-sensitive; Action matching is not (callers build
the set with `ignore_case=True`, which casefolds the pattern once and the text per call).

Policy variables (`${aws:username}`, the escapes `${*}`, `${?}`, `${$}` and AWS's
`${key, 'default'}` form) are parsed once into a template; `render` fills one in for a request.
A substituted value is always literal text: a `*` inside a user name could never widen a
pattern (IAM names cannot contain one anyway, see `auth.usernames`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")

__all__ = [
    "ONE",
    "STAR",
    "Glob",
    "GlobPart",
    "PatternSet",
    "Template",
    "TemplatePart",
    "TemplateSet",
    "Variable",
    "Wildcard",
    "bucket_arn",
    "compile_glob",
    "glob_match",
    "has_variables",
    "literal_text",
    "object_arn",
    "parse_template",
    "render",
]

S3_ARN_PREFIX = "arn:aws:s3:::"


class Wildcard(enum.Enum):
    """A wildcard position in a parsed pattern (kept apart from literal `*`/`?` characters)."""

    STAR = "*"
    ONE = "?"


STAR = Wildcard.STAR
ONE = Wildcard.ONE

GlobPart = str | Wildcard
"""A parsed pattern is a sequence of literal text and wildcards."""


@dataclass(frozen=True, slots=True)
class Variable:
    """`${key}` or `${key, 'default'}` in a Resource or Condition value; `key` is lower-case."""

    key: str
    default: str | None = None


TemplatePart = str | Wildcard | Variable


def bucket_arn(bucket: str) -> str:
    """`arn:aws:s3:::bucket`: what Resource names for bucket-level actions (ListBucket...)."""
    return f"{S3_ARN_PREFIX}{bucket}"


def object_arn(bucket: str, key: str) -> str:
    """`arn:aws:s3:::bucket/key`: what Resource names for object actions (GetObject...)."""
    return f"{S3_ARN_PREFIX}{bucket}/{key}"


# --- pattern parsing -------------------------------------------------------------------------


def _split_wildcards(text: str) -> list[GlobPart]:
    """`a*b?` -> ["a", STAR, "b", ONE]: the plain glob syntax, no variables."""
    parts: list[GlobPart] = []
    start = 0
    for i, char in enumerate(text):
        if char == "*" or char == "?":
            if i > start:
                parts.append(text[start:i])
            parts.append(STAR if char == "*" else ONE)
            start = i + 1
    if start < len(text):
        parts.append(text[start:])
    return parts


def _variable(inner: str) -> TemplatePart | None:
    """The meaning of `${inner}`: an escape, a variable, or None for text to keep literally."""
    if inner in ("*", "?", "$"):
        return inner  # ${*} ${?} ${$}: the literal character, never a wildcard
    name, comma, rest = inner.partition(",")
    name = name.strip()
    if not name or any(c in name for c in "${}*?"):
        return None
    if not comma:
        return Variable(name.lower())
    default = rest.strip()
    if len(default) < 2 or default[0] != "'" or default[-1] != "'":
        return None
    return Variable(name.lower(), default[1:-1])


def parse_template(text: str, *, wildcards: bool, variables: bool) -> tuple[TemplatePart, ...]:
    """Parse a policy string once: literal text, wildcards (if `wildcards`), `${...}` (if
    `variables`; policies of Version 2008-10-17 keep `${...}` as plain text, as AWS does).

    A `${` without a closing `}`, or with something that is not a key inside, stays literal;
    of `${a${b}` only the innermost `${b}` is a variable.
    """
    split = _split_wildcards if wildcards else _literal_only
    if not variables or "${" not in text:
        return tuple(split(text))
    parts: list[TemplatePart] = []
    pos = 0
    while True:
        open_at = text.find("${", pos)
        close_at = text.find("}", open_at + 2) if open_at >= 0 else -1
        if close_at < 0:
            parts.extend(split(text[pos:]))
            break
        open_at = text.rfind("${", open_at, close_at)  # the innermost "${" before that "}"
        meaning = _variable(text[open_at + 2 : close_at])
        if meaning is None:  # not a variable: keep the text as it is
            parts.extend(split(text[pos : close_at + 1]))
        else:
            parts.extend(split(text[pos:open_at]))
            parts.append(meaning)
        pos = close_at + 1  # every round moves past a "}": linear in len(text)
    return tuple(_merge_literals(parts))


def _literal_only(text: str) -> list[GlobPart]:
    return [text] if text else []


def _merge_literals(parts: Iterable[TemplatePart]) -> list[TemplatePart]:
    """Join neighbouring literal strings, so segments are found with one `find` each."""
    merged: list[TemplatePart] = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + part
                continue
        merged.append(part)
    return merged


def has_variables(parts: Sequence[TemplatePart]) -> bool:
    return any(isinstance(p, Variable) for p in parts)


def render(
    parts: Sequence[TemplatePart], lookup: Callable[[str], str | None]
) -> tuple[GlobPart, ...] | None:
    """Fill in the variables from the request; None when one has no value (and no default),
    which callers treat as "this pattern matches nothing"."""
    out: list[GlobPart] = []
    for part in parts:
        if isinstance(part, Variable):
            value = lookup(part.key)
            if value is None:
                value = part.default
            if value is None:
                return None
            out.append(value)
        else:
            out.append(part)
    return tuple(p for p in _merge_literals(out) if not isinstance(p, Variable))


def literal_text(parts: Sequence[GlobPart]) -> str:
    """The text of a parsed pattern with any wildcards put back as their characters."""
    return "".join(p if isinstance(p, str) else p.value for p in parts)


# --- matching --------------------------------------------------------------------------------


class _Segment:
    """The text between two `*`: fixed length, literal pieces at fixed offsets, `?` elsewhere."""

    __slots__ = ("anchor", "length", "pieces")

    def __init__(self, parts: Sequence[GlobPart]) -> None:
        pieces: list[tuple[int, str]] = []
        offset = 0
        for part in parts:
            if isinstance(part, str):
                pieces.append((offset, part))
                offset += len(part)
            else:  # ONE; a segment never holds STAR
                offset += 1
        self.length = offset
        self.pieces = tuple(pieces)
        # The longest literal piece is the rarest thing to search for.
        self.anchor = max(pieces, key=lambda p: len(p[1])) if pieces else None

    def match_at(self, text: str, pos: int) -> bool:
        if pos + self.length > len(text):
            return False
        return all(text.startswith(lit, pos + off) for off, lit in self.pieces)

    def find(self, text: str, start: int, end: int) -> int:
        """Leftmost position p in [start, end - length] where the segment matches, or -1."""
        last = end - self.length
        if start > last:
            return -1
        if self.anchor is None:  # only `?`: any position fits
            return start
        off, lit = self.anchor
        while start <= last:
            hit = text.find(lit, start + off, last + off + len(lit))
            if hit < 0:
                return -1
            pos = hit - off
            if self.match_at(text, pos):
                return pos
            start = pos + 1
        return -1


class Glob:
    """A compiled pattern: head segment, middle segments, tail segment (split on `*`)."""

    __slots__ = ("_head", "_middle", "_star", "_tail")

    def __init__(self, parts: Sequence[GlobPart]) -> None:
        segments: list[list[GlobPart]] = [[]]
        for part in parts:
            if part is STAR:
                segments.append([])
            else:
                segments[-1].append(part)
        compiled = [_Segment(s) for s in segments]
        self._star = len(compiled) > 1
        self._head = compiled[0]
        self._tail = compiled[-1]
        self._middle = tuple(s for s in compiled[1:-1] if s.length)

    def matches(self, text: str) -> bool:
        head = self._head
        if not self._star:
            return len(text) == head.length and head.match_at(text, 0)
        tail = self._tail
        size = len(text)
        end = size - tail.length
        if end < head.length or not head.match_at(text, 0) or not tail.match_at(text, end):
            return False
        pos = head.length
        for segment in self._middle:
            found = segment.find(text, pos, end)
            if found < 0:
                return False
            pos = found + segment.length
        return True


def _fold(parts: Iterable[GlobPart]) -> list[GlobPart]:
    return [p.casefold() if isinstance(p, str) else p for p in parts]


def compile_glob(pattern: str | Sequence[GlobPart], *, ignore_case: bool = False) -> Glob:
    """Compile a glob (a string in `*`/`?` syntax, or already parsed parts)."""
    parts = _split_wildcards(pattern) if isinstance(pattern, str) else list(pattern)
    return Glob(_fold(parts) if ignore_case else parts)


def glob_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """One-off match; `PatternSet` is the compiled form for repeated use."""
    if ignore_case:
        text = text.casefold()
    return compile_glob(pattern, ignore_case=ignore_case).matches(text)


class PatternSet:
    """Several patterns, OR-ed, sorted once into the cheapest test that decides each.

    Most IAM patterns are `*`, an exact name, or a prefix followed by `*` (`s3:Get*`,
    `arn:aws:s3:::bucket/*`): those become a flag, a frozenset lookup and one
    `str.startswith(tuple)`; only the rest go through `Glob`.
    """

    __slots__ = ("_any", "_exact", "_globs", "_prefixes", "ignore_case")

    def __init__(self, patterns: Iterable[Sequence[GlobPart]], *, ignore_case: bool = False):
        self.ignore_case = ignore_case
        any_text = False
        exact: set[str] = set()
        prefixes: list[str] = []
        globs: list[Glob] = []
        for raw in patterns:
            parts = _fold(raw) if ignore_case else list(raw)
            body = list(parts)
            while body and body[-1] is STAR:
                body.pop()
            trailing_star = len(body) < len(parts)
            if not body and trailing_star:
                any_text = True
            elif all(isinstance(p, str) for p in body):
                text = "".join(p for p in body if isinstance(p, str))
                if trailing_star:
                    prefixes.append(text)
                else:
                    exact.add(text)
            else:
                globs.append(Glob(parts))
        self._any = any_text
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        self._globs = tuple(globs)

    @classmethod
    def from_strings(cls, patterns: Iterable[str], *, ignore_case: bool = False) -> PatternSet:
        return cls((_split_wildcards(p) for p in patterns), ignore_case=ignore_case)

    def matches(self, text: str) -> bool:
        return self.matches_casefolded(text.casefold() if self.ignore_case else text)

    def matches_casefolded(self, text: str) -> bool:
        """`matches` for a caller that already casefolded `text` (or a case-sensitive set)."""
        if self._any or text in self._exact:
            return True
        if self._prefixes and text.startswith(self._prefixes):
            return True
        return any(g.matches(text) for g in self._globs)

    def is_empty(self) -> bool:
        return not (self._any or self._exact or self._prefixes or self._globs)


TEMPLATE_CACHE_ENTRIES: Final = 256
"""Compiled forms kept per template (one per distinct set of variable values, e.g. per user)."""

_MISSING: Final = object()


class Template(Generic[T]):
    """A pattern or value holding policy variables, compiled per distinct variable values.

    `build` turns the rendered parts into what is compared (a `Glob`, a number...); it may
    raise ValueError, which like a variable without a value resolves to None. Results are
    cached (bounded, cleared when full) so a user's `${aws:username}` pattern is compiled once,
    not on every request.
    """

    __slots__ = ("_build", "_cache", "_variables", "parts")

    def __init__(
        self, parts: Sequence[TemplatePart], build: Callable[[tuple[GlobPart, ...]], T]
    ) -> None:
        self.parts = tuple(parts)
        self._variables = tuple(p for p in self.parts if isinstance(p, Variable))
        self._build = build
        self._cache: dict[tuple[str, ...], T | None] = {}

    def resolve(self, lookup: Callable[[str], str | None]) -> T | None:
        values: list[str] = []
        for variable in self._variables:
            value = lookup(variable.key)
            if value is None:
                value = variable.default
                if value is None:
                    return None
            values.append(value)
        key = tuple(values)
        cached = self._cache.get(key, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        fill = iter(values)
        filled = (next(fill) if isinstance(p, Variable) else p for p in self.parts)
        parts = tuple(p for p in _merge_literals(filled) if not isinstance(p, Variable))
        try:
            result: T | None = self._build(parts)
        except (ValueError, OverflowError):
            result = None
        if len(self._cache) >= TEMPLATE_CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = result
        return result


class TemplateSet:
    """Case-sensitive patterns that may hold policy variables (Resource, NotResource).

    The constant patterns are compiled once into a `PatternSet`; the others through `Template`,
    and one whose variable has no value matches nothing.
    """

    __slots__ = ("_constant", "_templates")

    def __init__(self, templates: Iterable[Sequence[TemplatePart]]) -> None:
        constant: list[list[GlobPart]] = []
        variable: list[Template[Glob]] = []
        for template in templates:
            if has_variables(template):
                variable.append(Template(template, Glob))
            else:
                constant.append([p for p in template if isinstance(p, str | Wildcard)])
        self._constant = PatternSet(constant)
        self._templates = tuple(variable)

    def matches(self, text: str, lookup: Callable[[str], str | None]) -> bool:
        if self._constant.matches_casefolded(text):
            return True
        for template in self._templates:
            glob = template.resolve(lookup)
            if glob is not None and glob.matches(text):
                return True
        return False
