"""Parse and validate an IAM JSON policy document (the S3 subset) into frozen dataclasses.

`parse_policy(text, kind)` is the only way policy text from a user enters the engine. Every
statement is compiled when it is built (patterns sorted into exact/prefix/glob tests, condition
values parsed), so evaluation never parses anything.

Kinds and what they refuse:

  IDENTITY  user, group, role and session policies: Principal/NotPrincipal refused;
            errors are `MalformedPolicyDocument`.
  BUCKET    bucket policies: Principal or NotPrincipal required, actions must be `s3:`,
            Resource required; errors are `MalformedPolicy`, or `PolicyTooLarge` for size.
  TRUST     role trust policies: Principal required (NotPrincipal refused), actions must be
            `sts:` (AWS: "AssumeRole policy may only specify STS AssumeRole actions"),
            Resource optional (absent = any); errors are `MalformedPolicyDocument`.

Limits (user input is hostile, so each is checked before the costly step it protects):

  20 KiB    of UTF-8 for every kind, whitespace included. AWS caps bucket policies at 20 KB but
            managed identity policies at 6,144 characters; one generous cap keeps the rule
            simple, and only BUCKET reports it as `PolicyTooLarge` (IAM has no such code).
  64        levels of JSON nesting, found by a linear scan *before* `json.loads`, so a
            100,000-deep `[[[[...` is a clean error, never a RecursionError (a valid policy
            nests 6 deep).
  100       statements per document: AWS has no explicit count, but 100 is far above real
            policies and bounds the per-request cost of one document.
  256/2048  characters per Action / per Resource or Principal pattern (2048 is AWS's ARN cap).

Other rules: Version is "2012-10-17" or "2008-10-17" (absent means "2008-10-17", as in AWS;
only 2012-10-17 expands policy variables); Statement is an object or a non-empty list; Effect is
exactly "Allow" or "Deny"; exactly one of Action/NotAction and of Resource/NotResource; Sids are
unique; unknown elements, duplicate JSON keys (which could hide a second "Effect") and
NaN/Infinity are refused; actions look like `service:name` (wildcards only in the name) or `*`;
condition operators must be known and values be strings, booleans or numbers (or lists of them).
Every check is linear in the input: no regex runs over a pattern a user wrote.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, NoReturn

from auth.policy_conditions import Condition, conditions_hold
from auth.policy_errors import (
    MALFORMED_POLICY,
    MALFORMED_POLICY_DOCUMENT,
    POLICY_TOO_LARGE,
    PolicyError,
)
from auth.policy_match import PatternSet, TemplateSet, parse_template

__all__ = [
    "MAX_NESTING",
    "MAX_POLICY_BYTES",
    "MAX_STATEMENTS",
    "VERSION_2008",
    "VERSION_2012",
    "Effect",
    "PolicyDocument",
    "PolicyError",
    "PolicyKind",
    "Principals",
    "Statement",
    "nesting_exceeds",
    "parse_policy",
]

VERSION_2012: Final = "2012-10-17"
VERSION_2008: Final = "2008-10-17"
MAX_POLICY_BYTES: Final = 20 * 1024
MAX_NESTING: Final = 64
MAX_STATEMENTS: Final = 100
MAX_ACTION_CHARS: Final = 256
MAX_PATTERN_CHARS: Final = 2048
MAX_NAME_CHARS: Final = 256  # Sid, Id, condition keys

_TOP_ELEMENTS: Final = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS: Final = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
_PRINCIPAL_TYPES: Final = ("AWS", "Service", "Federated", "CanonicalUser")
_SERVICE_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_ACTION_CHARS: Final = _SERVICE_CHARS | frozenset("*?_")
_ACCOUNT_ARN: Final = "arn:aws:iam::{}:root"


ACTION_CACHE_ENTRIES: Final = 512


class PolicyKind(enum.Enum):
    """Which API the document came through: decides the Principal rules and the error code."""

    IDENTITY = "identity"
    BUCKET = "bucket"
    TRUST = "trust"


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principals:
    """A Principal or NotPrincipal element. `everyone` is `"*"` or `{"AWS": "*"}` (anonymous
    callers included). `aws` holds ARNs (wildcards allowed) or 12-digit account ids, which
    stand for the account's root ARN. Service/Federated/CanonicalUser are kept for trust
    policies and for round-tripping, but no S3 request principal ever matches them.
    """

    everyone: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()
    _aws: PatternSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        arns = (_ACCOUNT_ARN.format(a) if _is_account_id(a) else a for a in self.aws)
        object.__setattr__(self, "_aws", PatternSet.from_strings(arns))

    def matches(self, principal_arn: str | None) -> bool:
        """Does this element name the caller? An anonymous caller (None) only `everyone`."""
        if self.everyone:
            return True
        return principal_arn is not None and self._aws.matches_casefolded(principal_arn)


def _is_account_id(value: str) -> bool:
    return len(value) == 12 and value.isascii() and value.isdigit()


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """One statement. Empty `actions` means the statement uses `not_actions` (and likewise for
    resources); a statement with neither Resource nor NotResource (trust policies only) applies
    to every resource. `expand_variables` is False for Version 2008-10-17 documents.
    """

    effect: Effect
    sid: str | None = None
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: Principals | None = None
    not_principals: Principals | None = None
    conditions: tuple[Condition, ...] = ()
    expand_variables: bool = True
    _actions: PatternSet = field(init=False, repr=False, compare=False)
    _resources: TemplateSet | None = field(init=False, repr=False, compare=False)
    _negated_resources: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if bool(self.actions) == bool(self.not_actions):
            raise ValueError("a statement needs exactly one of actions and not_actions")
        if self.resources and self.not_resources:
            raise ValueError("a statement takes resources or not_resources, not both")
        if self.principals is not None and self.not_principals is not None:
            raise ValueError("a statement takes principals or not_principals, not both")
        actions = PatternSet.from_strings(self.actions or self.not_actions, ignore_case=True)
        object.__setattr__(self, "_actions", actions)
        patterns = self.resources or self.not_resources
        resources = (
            TemplateSet(
                parse_template(p, wildcards=True, variables=self.expand_variables) for p in patterns
            )
            if patterns
            else None
        )
        object.__setattr__(self, "_resources", resources)
        object.__setattr__(self, "_negated_resources", bool(self.not_resources))

    def matches_action(self, casefolded_action: str) -> bool:
        return self._actions.matches_casefolded(casefolded_action) != bool(self.not_actions)

    def matches_resource(self, resource: str, lookup: Callable[[str], str | None]) -> bool:
        if self._resources is None:
            return True
        return self._resources.matches(resource, lookup) != self._negated_resources

    def matches_principal(self, principal_arn: str | None, *, resource_based: bool) -> bool:
        """In a resource-based policy a statement names its principals; one without a
        Principal element applies to nobody there (fail closed), and to the policy's owner in
        an identity policy. An anonymous caller is never granted through NotPrincipal: AWS
        would let an Allow+NotPrincipal reach anonymous callers, we only let `"*"` do that.
        """
        if self.principals is not None:
            return self.principals.matches(principal_arn)
        if self.not_principals is not None:
            if principal_arn is None and self.effect is Effect.ALLOW:
                return False
            return not self.not_principals.matches(principal_arn)
        return not resource_based

    def conditions_hold(
        self, keys: Mapping[str, tuple[str, ...]], lookup: Callable[[str], str | None]
    ) -> bool:
        return not self.conditions or conditions_hold(self.conditions, keys, lookup)


ActionStatements = tuple[tuple[Statement, ...], tuple[Statement, ...]]
"""(deny statements, allow statements) of one document that cover one action."""


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A parsed policy, indexed by action on first use for the evaluator."""

    version: str
    statements: tuple[Statement, ...]
    id: str | None = None
    _by_action: dict[str, ActionStatements] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def for_action(self, casefolded_action: str) -> ActionStatements:
        """The (denies, allows) whose Action/NotAction covers the action, in document order.

        Cached per action (the gateway asks about a few dozen S3 actions), so the evaluator
        skips statements about other actions with one dict lookup per document.
        """
        found = self._by_action.get(casefolded_action)
        if found is None:
            matching = [s for s in self.statements if s.matches_action(casefolded_action)]
            found = (
                tuple(s for s in matching if s.effect is Effect.DENY),
                tuple(s for s in matching if s.effect is Effect.ALLOW),
            )
            if len(self._by_action) >= ACTION_CACHE_ENTRIES:
                self._by_action.clear()
            self._by_action[casefolded_action] = found
        return found


# --- JSON reading ----------------------------------------------------------------------------


class _Number:
    """A JSON number, kept as its text: never a float that overflows or a 10,000-digit int, and
    never mistaken for a string where one is required (Version, Effect, Sid...)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKey(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# The characters that matter for nesting: brackets, and what opens, escapes or closes a string.
_SIGNIFICANT: Final = re.compile(r'[\[\]{}"\\]')


def nesting_exceeds(text: str, limit: int) -> bool:
    """Does any bracket outside a string nest deeper than `limit`? Run before `json.loads`,
    whose recursion a deep document would exhaust. One pass over the significant characters
    (a state machine, never a regex that could rescan a long unterminated string)."""
    depth = 0
    in_string = False
    escaped_at = -1  # position of a character escaped by a backslash inside a string
    for found in _SIGNIFICANT.finditer(text):
        at = found.start()
        if at == escaped_at:
            continue
        char = text[at]
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "[" or char == "{":
            depth += 1
            if depth > limit:
                return True
        elif char == "]" or char == "}":
            depth -= 1
    return False


# --- validation ------------------------------------------------------------------------------


class _Validator:
    """Turns the decoded JSON into dataclasses, failing with the kind's error code."""

    def __init__(self, kind: PolicyKind, bucket: str | None) -> None:
        self.kind = kind
        self.bucket = bucket
        self.code = MALFORMED_POLICY if kind is PolicyKind.BUCKET else MALFORMED_POLICY_DOCUMENT

    def fail(self, message: str) -> NoReturn:
        raise PolicyError(self.code, message)

    def document(self, data: object) -> PolicyDocument:
        if not isinstance(data, dict):
            self.fail("The policy must be a JSON object")
        self.known_elements(data, _TOP_ELEMENTS, "policy")
        version = data.get("Version", VERSION_2008)
        if version not in (VERSION_2012, VERSION_2008):
            self.fail(f"Version must be {VERSION_2012!r} or {VERSION_2008!r}")
        assert isinstance(version, str)
        policy_id = self.optional_name(data, "Id")
        if "Statement" not in data:
            self.fail("Missing required field Statement")
        raw = data["Statement"]
        raw_statements = [raw] if isinstance(raw, dict) else raw
        if not isinstance(raw_statements, list) or not raw_statements:
            self.fail("Statement must be an object or a non-empty list of objects")
        if len(raw_statements) > MAX_STATEMENTS:
            self.fail(f"A policy may hold at most {MAX_STATEMENTS} statements")
        statements = tuple(self.statement(s, version == VERSION_2012) for s in raw_statements)
        sids = [s.sid for s in statements if s.sid]
        if len(sids) != len(set(sids)):
            self.fail("Statement IDs (SID) must be unique")
        return PolicyDocument(version, statements, policy_id)

    def known_elements(self, data: Mapping[str, object], known: frozenset[str], where: str) -> None:
        unknown = sorted(set(data) - known)
        if unknown:
            self.fail(f"Unknown element {unknown[0]!r} in {where}")

    def optional_name(self, data: Mapping[str, object], element: str) -> str | None:
        value = data.get(element)
        if value is None and element not in data:
            return None
        if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
            self.fail(f"{element} must be a string of at most {MAX_NAME_CHARS} characters")
        return value

    def statement(self, data: object, expand_variables: bool) -> Statement:
        if not isinstance(data, dict):
            self.fail("Each statement must be a JSON object")
        self.known_elements(data, _STATEMENT_ELEMENTS, "statement")
        sid = self.optional_name(data, "Sid")
        effect_text = data.get("Effect")
        if effect_text not in ("Allow", "Deny"):
            self.fail("Effect must be exactly 'Allow' or 'Deny'")
        assert isinstance(effect_text, str)
        actions, not_actions = self.one_of(data, "Action", "NotAction", required=True)
        for action in actions + not_actions:
            self.check_action(action)
        resource_required = self.kind is not PolicyKind.TRUST
        resources, not_resources = self.one_of(
            data, "Resource", "NotResource", required=resource_required
        )
        for resource in resources + not_resources:
            self.check_resource(resource)
        principals, not_principals = self.principal_elements(data)
        conditions = self.conditions(data.get("Condition", {}), expand_variables)
        return Statement(
            effect=Effect(effect_text),
            sid=sid,
            actions=actions,
            not_actions=not_actions,
            resources=resources,
            not_resources=not_resources,
            principals=principals,
            not_principals=not_principals,
            conditions=conditions,
            expand_variables=expand_variables,
        )

    def one_of(
        self, data: Mapping[str, object], name: str, negated: str, *, required: bool
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if name in data and negated in data:
            self.fail(f"A statement takes {name} or {negated}, not both")
        if name not in data and negated not in data:
            if required:
                self.fail(f"A statement needs {name} or {negated}")
            return (), ()
        if name in data:
            return self.strings(data[name], name), ()
        return (), self.strings(data[negated], negated)

    def strings(self, value: object, element: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.fail(f"{element} must be a string or a non-empty list of strings")
        if not all(isinstance(item, str) and item for item in items):
            self.fail(f"{element} must be a string or a non-empty list of strings")
        return tuple(str(item) for item in items)

    def check_action(self, action: str) -> None:
        if len(action) > MAX_ACTION_CHARS:
            self.fail(f"Action is longer than {MAX_ACTION_CHARS} characters")
        if action == "*" and self.kind is not PolicyKind.TRUST:
            return
        service, colon, name = action.partition(":")
        if not colon or not service or not name:
            self.fail(f"Action {action[:64]!r} must look like 'service:action' or '*'")
        if not set(service) <= _SERVICE_CHARS or not set(name) <= _ACTION_CHARS:
            self.fail(f"Action {action[:64]!r} has characters an action name cannot hold")
        wanted = {PolicyKind.BUCKET: "s3", PolicyKind.TRUST: "sts"}.get(self.kind)
        if wanted is not None and service.lower() != wanted:
            self.fail(f"Action {action[:64]!r} is not an {wanted}: action")

    def check_resource(self, resource: str) -> None:
        if len(resource) > MAX_PATTERN_CHARS:
            self.fail(f"Resource is longer than {MAX_PATTERN_CHARS} characters")
        if resource == "*":
            return
        if not resource.startswith("arn:") or resource.count(":") < 5:
            self.fail(f"Resource {resource[:64]!r} must be '*' or an ARN")
        if self.bucket is not None:
            own = f"arn:aws:s3:::{self.bucket}"
            rest = resource[len(own) :] if resource.startswith(own) else None
            if rest is None or (rest and not rest.startswith("/")):
                self.fail(f"Policy has invalid resource {resource[:64]!r}")

    def principal_elements(
        self, data: Mapping[str, object]
    ) -> tuple[Principals | None, Principals | None]:
        has_principal, has_not = "Principal" in data, "NotPrincipal" in data
        if self.kind is PolicyKind.IDENTITY:
            if has_principal or has_not:
                self.fail("Policy document should not specify a principal")
            return None, None
        if self.kind is PolicyKind.TRUST and has_not:
            self.fail("A trust policy cannot use NotPrincipal")
        if has_principal == has_not:
            self.fail("A statement needs exactly one of Principal and NotPrincipal")
        if has_principal:
            return self.principals(data["Principal"]), None
        return None, self.principals(data["NotPrincipal"])

    def principals(self, value: object) -> Principals:
        if value == "*":
            return Principals(everyone=True)
        if not isinstance(value, dict) or not value:
            self.fail("Principal must be '*' or an object such as {\"AWS\": [...]}")
        unknown = sorted(set(value) - set(_PRINCIPAL_TYPES))
        if unknown:
            self.fail(f"Unknown principal type {unknown[0]!r}")
        found = {name: self.strings(value[name], "Principal") for name in value}
        for name, entries in found.items():
            for entry in entries:
                if len(entry) > MAX_PATTERN_CHARS:
                    self.fail(f"Principal is longer than {MAX_PATTERN_CHARS} characters")
                if name == "AWS" and not (
                    entry == "*" or _is_account_id(entry) or entry.startswith("arn:")
                ):
                    self.fail(f"Invalid principal {entry[:64]!r}")
        aws = found.get("AWS", ())
        return Principals(
            everyone="*" in aws,
            aws=tuple(a for a in aws if a != "*"),
            service=found.get("Service", ()),
            federated=found.get("Federated", ()),
            canonical_user=found.get("CanonicalUser", ()),
        )

    def conditions(self, block: object, expand_variables: bool) -> tuple[Condition, ...]:
        if not isinstance(block, dict):
            self.fail("Condition must be an object")
        return tuple(self.condition_entries(block, expand_variables))

    def condition_entries(
        self, block: Mapping[str, object], expand_variables: bool
    ) -> Iterator[Condition]:
        for operator, keys in block.items():
            if not isinstance(keys, dict):
                self.fail(f"Condition operator {operator[:64]!r} must map keys to values")
            for key, raw in keys.items():
                if not key or len(key) > MAX_NAME_CHARS:
                    self.fail(f"Condition key must be 1 to {MAX_NAME_CHARS} characters")
                values = self.condition_values(raw, key)
                try:
                    yield Condition(operator, key, values, expand_variables)
                except ValueError as exc:
                    self.fail(f"Invalid Condition: {exc}")

    def condition_values(self, raw: object, key: str) -> tuple[str, ...]:
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            self.fail(f"Condition key {key[:64]!r} has an empty list of values")
        values: list[str] = []
        for item in items:
            if isinstance(item, bool):
                values.append("true" if item else "false")
            elif isinstance(item, _Number):
                values.append(item.text)
            elif isinstance(item, str) and len(item) <= MAX_PATTERN_CHARS:
                values.append(item)
            else:
                self.fail(f"Condition values of {key[:64]!r} must be strings, numbers or bools")
        return tuple(values)


def parse_policy(
    text: str | bytes, kind: PolicyKind, *, bucket: str | None = None
) -> PolicyDocument:
    """Parse and validate a policy document, or raise `PolicyError` with the code to emit.

    `bucket` (BUCKET kind) also requires every Resource to name that bucket or its objects, as
    S3 does ("Policy has invalid resource"); `arn:aws:s3:::b*` is refused there.
    """
    code = MALFORMED_POLICY if kind is PolicyKind.BUCKET else MALFORMED_POLICY_DOCUMENT
    too_large = POLICY_TOO_LARGE if kind is PolicyKind.BUCKET else code
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(too_large, f"Policies must be at most {MAX_POLICY_BYTES} bytes")
    try:
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        decoded = raw.decode("utf-8")
    except UnicodeError:
        raise PolicyError(code, "The policy is not valid UTF-8") from None
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(too_large, f"Policies must be at most {MAX_POLICY_BYTES} bytes")
    if nesting_exceeds(decoded, MAX_NESTING):
        raise PolicyError(code, f"The policy nests deeper than {MAX_NESTING} levels")
    try:
        data = json.loads(
            decoded,
            object_pairs_hook=_unique_object,
            parse_int=_Number,
            parse_float=_Number,
            parse_constant=_no_constant,
        )
    except _DuplicateKey as exc:
        raise PolicyError(code, f"Syntax errors in policy: {exc}") from None
    except (ValueError, RecursionError):
        raise PolicyError(code, "Syntax errors in policy") from None
    return _Validator(kind, bucket).document(data)
