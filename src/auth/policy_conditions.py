"""IAM condition operators: one `Condition` is one (operator, key, values) triple of a Condition
block, compiled when built and decided against the request's condition keys.

Semantics (AWS IAM User Guide, "Condition operators" and "Multivalued context keys"):

* A statement's Condition block is an AND of its operators, and each operator is an AND of its
  keys; the parser flattens both levels into a tuple of `Condition`, all of which must hold.
* Several policy values for one key are OR-ed. For a negated operator (StringNot*,
  NumericNotEquals, DateNotEquals, NotIpAddress, ArnNot*) they are NOR-ed: it holds only if the
  request value equals none of them.
* Missing key (absent, or present with no values): a positive operator is false, a negated one
  true, any `...IfExists` true; `Null: {"k": "true"}` holds when the key is absent, `"false"`
  when present; `ForAnyValue:` is false and `ForAllValues:` true. `ForAnyValue:...IfExists` stays
  false on a missing key (IfExists is applied per value inside the set loop, as AWS does).
* `ForAnyValue:` holds if some request value passes, `ForAllValues:` if every one does. Without
  a set prefix a multi-valued key behaves as ForAnyValue for positive operators and ForAllValues
  for negated ones, so a negated operator still means "none of the request values matches".
* Policy values may hold policy variables (`${aws:username}`; not in Null). A variable with no
  value in the request makes that one policy value fail: it never matches for a positive
  operator, and a negated operator (which needs every value to pass) is then false.
* A request value that does not parse for the operator's type (a non-number for Numeric*, a
  non-date, a non-address) matches no policy value: positive operators fail, negated ones pass.

Numbers compare as floats; dates as POSIX seconds (ISO 8601, naive taken as UTC, or epoch
seconds); IpAddress takes IPv4/IPv6 addresses or CIDRs (an IPv4-mapped IPv6 request address is
compared as IPv4). Arn* operators are accepted and treated as their String(Not)Like forms.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar

from auth.policy_match import (
    Glob,
    GlobPart,
    Template,
    TemplatePart,
    Wildcard,
    compile_glob,
    has_variables,
    literal_text,
    parse_template,
)

__all__ = [
    "Condition",
    "ConditionOperator",
    "SetQualifier",
    "conditions_hold",
    "parse_operator",
]

IF_EXISTS: Final = "IfExists"

Keys = Mapping[str, tuple[str, ...]]
"""Request condition keys, already lower-cased (RequestContext does that)."""

Lookup = Callable[[str], str | None]
"""A policy variable's value by lower-case key, None when the request has none."""

R = TypeVar("R")
P = TypeVar("P")


class SetQualifier(enum.Enum):
    FOR_ANY_VALUE = "ForAnyValue"
    FOR_ALL_VALUES = "ForAllValues"


@dataclass(frozen=True, slots=True)
class _Family(Generic[R, P]):
    """How one operator family reads policy values (once) and request values, and compares."""

    wildcards: bool  # `*`/`?` in policy values are wildcards (StringLike)
    variables: bool  # policy variables are allowed in the values
    policy_value: Callable[[Sequence[GlobPart]], P]  # raises ValueError when not of the type
    request_value: Callable[[str], R | None]  # None: the request value is not of the type
    test: Callable[[R, P], bool]
    equality: bool = False  # `test` is ==, so constant values can be looked up in a set


def _text(parts: Sequence[GlobPart]) -> str:
    return literal_text(parts)


def _finite(text: str) -> float:
    number = float(text.strip())
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text!r}")
    return number


def _number_or_none(text: str) -> float | None:
    try:
        return _finite(text)
    except ValueError:
        return None


def _is_epoch(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    whole, _, fraction = digits.partition(".")
    return whole.isdigit() and (not fraction or fraction.isdigit())


def _posix_seconds(text: str) -> float:
    """ISO 8601 (`2026-01-01`, `2026-01-01T12:00:00Z`, with an offset) or epoch seconds."""
    text = text.strip()
    if _is_epoch(text):
        return _finite(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _date_or_none(text: str) -> float | None:
    try:
        return _posix_seconds(text)
    except (ValueError, OverflowError):
        return None


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _network(parts: Sequence[GlobPart]) -> IpNetwork:
    return ipaddress.ip_network(_text(parts).strip(), strict=False)


def _address_or_none(text: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _in_network(address: IpAddress, network: IpNetwork) -> bool:
    return address.version == network.version and address in network


def _bool_text(parts: Sequence[GlobPart]) -> str:
    return _text(parts).lower()


def _same(value: str) -> str:
    return value


def _like(parts: Sequence[GlobPart]) -> Glob:
    return compile_glob(parts)


def _glob_test(request: str, policy: Glob) -> bool:
    return policy.matches(request)


def _eq(a: object, b: object) -> bool:
    return a == b


_STRING: Final[_Family[str, str]] = _Family(False, True, _text, _same, _eq, equality=True)
_STRING_IGNORE_CASE: Final[_Family[str, str]] = _Family(
    False, True, lambda parts: _text(parts).casefold(), str.casefold, _eq, equality=True
)
_STRING_LIKE: Final[_Family[str, Glob]] = _Family(True, True, _like, _same, _glob_test)
_BOOL: Final[_Family[str, str]] = _Family(False, True, _bool_text, str.lower, _eq, equality=True)
_IP: Final[_Family[IpAddress, IpNetwork]] = _Family(
    False, True, _network, _address_or_none, _in_network
)
_NULL: Final[_Family[str, str]] = _Family(False, False, _bool_text, _same, _eq)  # decided apart


def _comparisons(
    prefix: str, parse: Callable[[str], float], request: Callable[[str], float | None]
) -> dict[str, tuple[_Family[Any, Any], bool]]:
    def build(test: Callable[[float, float], bool]) -> _Family[float, float]:
        return _Family(False, True, lambda parts: parse(_text(parts)), request, test)

    return {
        f"{prefix}Equals": (build(lambda a, b: a == b), False),
        f"{prefix}NotEquals": (build(lambda a, b: a == b), True),
        f"{prefix}LessThan": (build(lambda a, b: a < b), False),
        f"{prefix}LessThanEquals": (build(lambda a, b: a <= b), False),
        f"{prefix}GreaterThan": (build(lambda a, b: a > b), False),
        f"{prefix}GreaterThanEquals": (build(lambda a, b: a >= b), False),
    }


# Base operator name -> (family, negated).
_BASE_OPERATORS: Final[dict[str, tuple[_Family[Any, Any], bool]]] = {
    "StringEquals": (_STRING, False),
    "StringNotEquals": (_STRING, True),
    "StringEqualsIgnoreCase": (_STRING_IGNORE_CASE, False),
    "StringNotEqualsIgnoreCase": (_STRING_IGNORE_CASE, True),
    "StringLike": (_STRING_LIKE, False),
    "StringNotLike": (_STRING_LIKE, True),
    "ArnEquals": (_STRING_LIKE, False),
    "ArnLike": (_STRING_LIKE, False),
    "ArnNotEquals": (_STRING_LIKE, True),
    "ArnNotLike": (_STRING_LIKE, True),
    **_comparisons("Numeric", _finite, _number_or_none),
    **_comparisons("Date", _posix_seconds, _date_or_none),
    "Bool": (_BOOL, False),
    "IpAddress": (_IP, False),
    "NotIpAddress": (_IP, True),
    "Null": (_NULL, False),
}


@dataclass(frozen=True, slots=True)
class ConditionOperator:
    """A parsed operator name such as `ForAllValues:StringLikeIfExists`."""

    name: str
    base: str
    negated: bool
    if_exists: bool
    qualifier: SetQualifier | None
    family: _Family[Any, Any] = field(repr=False, compare=False)

    @property
    def is_null(self) -> bool:
        return self.base == "Null"


def parse_operator(name: str) -> ConditionOperator:
    """Read an operator name; ValueError for anything AWS would not know (names are exact)."""
    qualifier: SetQualifier | None = None
    base = name
    prefix, colon, rest = name.partition(":")
    if colon:
        try:
            qualifier = SetQualifier(prefix)
        except ValueError:
            raise ValueError(f"unknown condition set qualifier {prefix!r}") from None
        base = rest
    if_exists = base.endswith(IF_EXISTS) and base != IF_EXISTS
    if if_exists:
        base = base[: -len(IF_EXISTS)]
    entry = _BASE_OPERATORS.get(base)
    if entry is None:
        raise ValueError(f"unknown condition operator {name!r}")
    if base == "Null" and (if_exists or qualifier is not None):
        raise ValueError(f"Null takes no IfExists suffix and no set qualifier: {name!r}")
    family, negated = entry
    return ConditionOperator(name, base, negated, if_exists, qualifier, family)


@dataclass(frozen=True, slots=True)
class _PolicyValue:
    """One policy value: parsed once, or a template when it holds a variable."""

    parsed: object
    template: Template[object] | None

    def resolve(self, lookup: Lookup) -> object | None:
        """The comparable value; None if a variable in it has no value in the request."""
        return self.parsed if self.template is None else self.template.resolve(lookup)


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator/key pair of a Condition block with its values (numbers and booleans already
    turned into their JSON text, as AWS compares them).

    `variables` is False for Version 2008-10-17 policies, where `${...}` is plain text.
    Building one parses the operator and every constant value: ValueError if either is bad.
    """

    operator: str
    key: str
    values: tuple[str, ...]
    variables: bool = True
    _op: ConditionOperator = field(init=False, repr=False, compare=False)
    _key: str = field(init=False, repr=False, compare=False)
    _values: tuple[_PolicyValue, ...] = field(init=False, repr=False, compare=False)
    # Precomputed so `holds` does the least work per request:
    _if_missing: bool = field(init=False, repr=False, compare=False)
    _if_present: bool = field(init=False, repr=False, compare=False)  # Null only
    _constants: tuple[object, ...] | None = field(init=False, repr=False, compare=False)
    _constant_set: frozenset[object] | None = field(init=False, repr=False, compare=False)
    _all_values: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        op = parse_operator(self.operator)
        if not self.values:
            raise ValueError(f"{self.operator} on {self.key!r} has no values")
        family = op.family
        compiled: list[_PolicyValue] = []
        for value in self.values:
            parts = parse_template(
                value, wildcards=family.wildcards, variables=self.variables and family.variables
            )
            if has_variables(parts):
                compiled.append(_PolicyValue(None, Template(parts, family.policy_value)))
                continue
            try:
                parsed = family.policy_value(_glob_parts(parts))
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"{self.operator}: bad value {value!r} ({exc})") from None
            compiled.append(_PolicyValue(parsed, None))
        constants = None
        if all(v.template is None for v in compiled):
            constants = tuple(v.parsed for v in compiled)
        if op.is_null:
            if constants is None or not set(constants) <= {"true", "false"}:
                raise ValueError(f"Null takes 'true' or 'false', not {self.values!r}")
            if_missing, if_present = "true" in constants, "false" in constants
        elif op.qualifier is not None or op.if_exists:
            if_missing, if_present = op.qualifier is not SetQualifier.FOR_ANY_VALUE, False
        else:
            if_missing, if_present = op.negated, False
        constant_set = frozenset(constants) if constants and family.equality else None
        all_values = op.qualifier is SetQualifier.FOR_ALL_VALUES or (
            op.qualifier is None and op.negated
        )
        for name, attribute in (
            ("_op", op),
            ("_key", self.key.lower()),
            ("_values", tuple(compiled)),
            ("_if_missing", if_missing),
            ("_if_present", if_present),
            ("_constants", constants),
            ("_constant_set", constant_set),
            ("_all_values", all_values),
        ):
            object.__setattr__(self, name, attribute)

    def holds(self, keys: Keys, lookup: Lookup | None = None) -> bool:
        """Decide this condition for request keys (lower-cased names, see module docstring).

        `lookup` gives policy variables their values; by default the key's single value.
        """
        request = keys.get(self._key)
        if not request:
            return self._if_missing
        op = self._op
        if op.is_null:
            return self._if_present
        family = op.family
        parse = family.request_value
        negated = op.negated
        if self._constant_set is not None:
            members = self._constant_set
            results = ((parse(raw) in members) != negated for raw in request)
        else:
            policy = self._constants
            if policy is None:
                if lookup is None:
                    lookup = functools.partial(_single, keys)
                resolved = [v.resolve(lookup) for v in self._values]
                if negated and None in resolved:
                    return False  # an unresolved variable fails the NOR outright
                policy = tuple(p for p in resolved if p is not None)
            test = family.test
            if negated:
                results = (
                    (r := parse(raw)) is None or not any(test(r, p) for p in policy)
                    for raw in request
                )
            else:
                results = (
                    (r := parse(raw)) is not None and any(test(r, p) for p in policy)
                    for raw in request
                )
        return all(results) if self._all_values else any(results)


def _glob_parts(parts: Sequence[TemplatePart]) -> list[GlobPart]:
    """A template known to hold no variable, typed as the glob it is."""
    return [p for p in parts if isinstance(p, str | Wildcard)]


def _single(keys: Keys, key: str) -> str | None:
    """A variable's value: the key's only value (AWS does not substitute multi-valued keys)."""
    values = keys.get(key, ())
    return values[0] if len(values) == 1 else None


def conditions_hold(
    conditions: Sequence[Condition], keys: Keys, lookup: Lookup | None = None
) -> bool:
    """All conditions of a statement hold (the AND of the Condition block)."""
    return all(c.holds(keys, lookup) for c in conditions)
