"""S3's lifecycle document: AWS's examples, every refusal with AWS's code, and round trips."""

from __future__ import annotations

import base64
import random
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.ttl.strategies import configurations
from ttl.errors import LifecycleError
from ttl.lifecycle_xml import S3_NS, parse_lifecycle, render_lifecycle
from ttl.rules import Expiration, LifecycleConfiguration, RuleFilter, Status, Tag, Transition


def doc(*rules: str, ns: bool = True) -> bytes:
    attr = f' xmlns="{S3_NS}"' if ns else ""
    return f"<LifecycleConfiguration{attr}>{''.join(rules)}</LifecycleConfiguration>".encode()


def rule(
    actions: str = "<Expiration><Days>1</Days></Expiration>",
    *,
    rid: str | None = "r",
    status: str = "Enabled",
    where: str = "<Filter></Filter>",
) -> str:
    head = f"<ID>{rid}</ID>" if rid is not None else ""
    return f"<Rule>{head}{where}<Status>{status}</Status>{actions}</Rule>"


def error_of(body: bytes) -> tuple[str, str | None]:
    with pytest.raises(LifecycleError) as info:
        parse_lifecycle(body)
    return info.value.code, info.value.message


# -- AWS's examples ---------------------------------------------------------------------------


def test_aws_example__prefix_filters_with_transition_and_expiration() -> None:
    # PutBucketLifecycleConfiguration, example 1: documents/ to GLACIER at 30 days, logs/ gone
    # after 365 days.
    body = doc(
        rule(
            "<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>",
            rid="TestOnly",
            where="<Filter><Prefix>documents/</Prefix></Filter>",
        ),
        rule(
            "<Expiration><Days>365</Days></Expiration>",
            rid="id2",
            where="<Filter><Prefix>logs/</Prefix></Filter>",
        ),
    )
    config = parse_lifecycle(body)
    first, second = config.rules
    assert first.filter == RuleFilter(prefix="documents/")
    assert first.transitions == (Transition("GLACIER", days=30),)
    assert second.expiration == Expiration(days=365)
    assert parse_lifecycle(render_lifecycle(config)) == config


def test_aws_example__get_gives_a_rule_level_prefix_back_as_written() -> None:
    # GetBucketLifecycleConfiguration's sample: a V1 rule keeps its <Prefix>, gains no <Filter>.
    body = doc(
        "<Rule><ID>Archive and then delete rule</ID><Prefix>projectdocs/</Prefix>"
        "<Status>Enabled</Status>"
        "<Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>"
        "<Transition><Days>365</Days><StorageClass>GLACIER</StorageClass></Transition>"
        "<Expiration><Days>3650</Days></Expiration></Rule>"
    )
    out = render_lifecycle(parse_lifecycle(body)).decode()
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<LifecycleConfiguration xmlns=')
    assert (
        "<Rule><ID>Archive and then delete rule</ID><Prefix>projectdocs/</Prefix>"
        "<Status>Enabled</Status><Transition><Days>30</Days><StorageClass>STANDARD_IA"
        "</StorageClass></Transition><Transition><Days>365</Days><StorageClass>GLACIER"
        "</StorageClass></Transition><Expiration><Days>3650</Days></Expiration></Rule>"
    ) in out
    assert "<Filter>" not in out


def test_aws_example__and_of_prefix_and_tags_and_sizes() -> None:
    body = doc(
        rule(
            where="<Filter><And><Prefix>tax/</Prefix>"
            "<Tag><Key>k1</Key><Value>v1</Value></Tag><Tag><Key>k2</Key><Value>v2</Value></Tag>"
            "<ObjectSizeGreaterThan>500</ObjectSizeGreaterThan>"
            "<ObjectSizeLessThan>64000</ObjectSizeLessThan></And></Filter>"
        )
    )
    flt = parse_lifecycle(body).rules[0].filter
    assert flt == RuleFilter("tax/", (Tag("k1", "v1"), Tag("k2", "v2")), 500, 64000, True)
    assert b"<Filter><And><Prefix>tax/</Prefix><Tag>" in render_lifecycle(parse_lifecycle(body))


def test_dates__iso_forms_are_midnight_utc_and_render_as_s3_writes_them() -> None:
    for text in ("2030-01-01T00:00:00.000Z", "2030-01-01T00:00:00Z", "2030-01-01"):
        body = doc(rule(f"<Expiration><Date>{text}</Date></Expiration>"))
        config = parse_lifecycle(body)
        assert config.rules[0].expiration == Expiration(date=datetime(2030, 1, 1, tzinfo=UTC))
        assert b"<Date>2030-01-01T00:00:00.000Z</Date>" in render_lifecycle(config)


def test_id__a_rule_without_one_gets_one_shaped_like_s3s() -> None:
    other = "<Filter><Prefix>x</Prefix></Filter>"
    config = parse_lifecycle(doc(rule(rid=None), rule(rid=None, where=other)))
    ids = [r.id for r in config.rules]
    assert len(set(ids)) == 2
    for rid in ids:
        assert len(rid) == 48
        assert uuid.UUID(base64.b64decode(rid).decode()).version == 4


def test_namespace__optional_and_the_docs_spelling_of_the_root_is_taken() -> None:
    plain = parse_lifecycle(doc(rule(), ns=False))
    assert plain.rules[0].status is Status.ENABLED
    docs = b"<LifeCycleConfiguration>" + rule().encode() + b"</LifeCycleConfiguration>"
    assert parse_lifecycle(docs) == plain


def test_empty_filter_and_empty_prefix_stay_apart() -> None:
    empty = parse_lifecycle(doc(rule(where="<Filter/>")))
    blank = parse_lifecycle(doc(rule(where="<Filter><Prefix></Prefix></Filter>")))
    assert empty.rules[0].filter == RuleFilter()
    assert blank.rules[0].filter == RuleFilter(prefix="")
    assert b"<Filter></Filter>" in render_lifecycle(empty)
    assert b"<Filter><Prefix></Prefix></Filter>" in render_lifecycle(blank)


# -- refusals, with AWS's codes (docs/s3-behaviour.md) ----------------------------------------

EXP1 = "<Expiration><Days>1</Days></Expiration>"
MALFORMED: list[tuple[str, bytes]] = [
    ("not XML", b"<LifecycleConfiguration><Rule>"),
    ("empty body", b""),
    ("wrong root", b"<Tagging/>"),
    ("DTD", b'<!DOCTYPE x [<!ENTITY a "b">]><LifecycleConfiguration/>'),
    ("status case", doc(rule(status="enabled"))),
    ("status other", doc(rule(status="invalid"))),
    ("no status", doc(f"<Rule><ID>a</ID><Filter/>{EXP1}</Rule>")),
    ("neither filter nor prefix", doc(rule(where=""))),
    ("filter and prefix", doc(rule(where="<Filter/><Prefix>a</Prefix>"))),
    (
        "two predicates outside And",
        doc(
            rule(where="<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>")
        ),
    ),
    ("And beside Prefix", doc(rule(where="<Filter><Prefix>a</Prefix><And></And></Filter>"))),
    ("And of one", doc(rule(where="<Filter><And><Prefix>a</Prefix></And></Filter>"))),
    ("unknown element", doc(rule(EXP1 + "<Bogus/>"))),
    ("two Expirations", doc(rule(EXP1 + EXP1))),
    ("days not a number", doc(rule("<Expiration><Days>ten</Days></Expiration>"))),
    ("days and date", doc(rule("<Expiration><Days>1</Days><Date>2030-01-01</Date></Expiration>"))),
    (
        "days and marker",
        doc(
            rule(
                "<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
            )
        ),
    ),
    ("empty expiration", doc(rule("<Expiration></Expiration>"))),
    ("HTTP date", doc(rule("<Expiration><Date>Fri, 01 Jan 2016 00:00:00 GMT</Date></Expiration>"))),
    ("transition without class", doc(rule("<Transition><Days>1</Days></Transition>"))),
    (
        "transition to a class S3 does not transition to",
        doc(rule("<Transition><Days>1</Days><StorageClass>STANDARD</StorageClass></Transition>")),
    ),
    (
        "PCache temperature names are not S3 classes",
        doc(rule("<Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition>")),
    ),
    (
        "transition without time",
        doc(rule("<Transition><StorageClass>GLACIER</StorageClass></Transition>")),
    ),
    (
        "noncurrent expiration without days",
        doc(
            rule(
                "<NoncurrentVersionExpiration><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
            )
        ),
    ),
    ("days past int32", doc(rule("<Expiration><Days>4294967296</Days></Expiration>"))),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_refused__schema_faults_are_malformed_xml(case: str, body: bytes) -> None:
    assert error_of(body) == ("MalformedXML", None)


SEMANTIC: list[tuple[str, bytes, str, str]] = [
    (
        "expiration days 0",
        doc(rule("<Expiration><Days>0</Days></Expiration>")),
        "InvalidArgument",
        "'Days' for Expiration action must be a positive integer",
    ),
    (
        "date not at midnight",
        doc(rule("<Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>")),
        "InvalidArgument",
        "'Date' must be at midnight GMT",
    ),
    (
        "duplicate IDs",
        doc(rule(rid="same"), rule(rid="same")),
        "InvalidArgument",
        "Rule ID must be unique. Found same ID for more than one rule",
    ),
    (
        "ID of 256",
        doc(rule(rid="x" * 256)),
        "InvalidArgument",
        "ID length should not exceed allowed limit of 255",
    ),
    (
        "no action",
        doc(rule("")),
        "InvalidRequest",
        "At least one action needs to be specified in a rule",
    ),
    (
        "no rules",
        doc(),
        "InvalidRequest",
        "At least one lifecycle rule must be specified.",
    ),
    (
        "STANDARD_IA under 30 days",
        doc(
            rule("<Transition><Days>29</Days><StorageClass>STANDARD_IA</StorageClass></Transition>")
        ),
        "InvalidArgument",
        "'Days' in Transition action must be greater than or equal to 30 for storageClass "
        "'STANDARD_IA'",
    ),
    (
        "ONEZONE_IA at 0 days",
        doc(rule("<Transition><Days>0</Days><StorageClass>ONEZONE_IA</StorageClass></Transition>")),
        "InvalidArgument",
        "'Days' in Transition action must be greater than or equal to 30 for storageClass "
        "'ONEZONE_IA'",
    ),
    (
        "expiration not after transition",
        doc(
            rule(
                "<Transition><Days>60</Days><StorageClass>GLACIER</StorageClass></Transition>"
                "<Expiration><Days>60</Days></Expiration>"
            )
        ),
        "InvalidArgument",
        "'Days' in the Expiration action for filter '(prefix=)' must be greater than 'Days' in "
        "the Transition action",
    ),
    (
        "one class twice",
        doc(
            rule(
                "<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"
                "<Transition><Days>2</Days><StorageClass>GLACIER</StorageClass></Transition>"
            )
        ),
        "InvalidArgument",
        "'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter "
        "'(prefix=)'",
    ),
    (
        "mixed date and days",
        doc(
            rule(
                "<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"
                "<Expiration><Date>2030-01-01</Date></Expiration>"
            )
        ),
        "InvalidRequest",
        "Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule "
        "for filter '(prefix=)'",
    ),
    (
        "delete marker with tag filter",
        doc(
            rule(
                "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
                where="<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>",
            )
        ),
        "InvalidRequest",
        "ExpiredObjectDeleteMarker cannot be specified with Tags.",
    ),
    (
        "abort with tag filter",
        doc(
            rule(
                "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                "</AbortIncompleteMultipartUpload>",
                where="<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>",
            )
        ),
        "InvalidRequest",
        "AbortIncompleteMultipartUpload cannot be specified with Tags.",
    ),
    (
        "abort after 0 days",
        doc(
            rule(
                "<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation>"
                "</AbortIncompleteMultipartUpload>"
            )
        ),
        "InvalidArgument",
        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive "
        "integer",
    ),
    (
        "noncurrent days 0",
        doc(
            rule(
                "<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"
            )
        ),
        "InvalidArgument",
        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    ),
    (
        "size bounds reversed",
        doc(
            rule(
                where="<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>"
                "<ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>"
            )
        ),
        "InvalidRequest",
        "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.",
    ),
    (
        "size less than 0",
        doc(rule(where="<Filter><ObjectSizeLessThan>0</ObjectSizeLessThan></Filter>")),
        "InvalidRequest",
        "'ObjectSizeLessThan' should be between 1 and 1099511627776000.",
    ),
    (
        "duplicate tag keys",
        doc(
            rule(
                where="<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag>"
                "<Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>"
            )
        ),
        "InvalidRequest",
        "Duplicate Tag Keys are not allowed.",
    ),
    (
        "V1 and V2 rules together",
        doc(rule(rid="a", where="<Prefix>a</Prefix>"), rule(rid="b")),
        "InvalidRequest",
        "Filter element can only be used in Lifecycle V2.",
    ),
    (
        "V1 prefixes overlap",
        doc(rule(rid="a", where="<Prefix></Prefix>"), rule(rid="b", where="<Prefix>a</Prefix>")),
        "InvalidRequest",
        "Found overlapping prefixes '' and 'a' for same action type 'Expiration'",
    ),
    (
        "NewerNoncurrentVersions in V1",
        doc(
            rule(
                "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>",
                where="<Prefix>a</Prefix>",
            )
        ),
        "InvalidRequest",
        "NewerNoncurrentVersions element can only be used in Lifecycle V2.",
    ),
    (
        "1001 rules",
        doc(*(rule(rid=str(i)) for i in range(1001))),
        "InvalidRequest",
        "The number of lifecycle rules must not exceed the allowed limit of 1000 rules.",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "code", "message"), SEMANTIC, ids=[c[0] for c in SEMANTIC]
)
def test_refused__semantics_with_aws_code_and_message(
    case: str, body: bytes, code: str, message: str
) -> None:
    assert error_of(body) == (code, message)


def test_accepted__limits_just_inside() -> None:
    ok = [
        doc(*(rule(rid=str(i)) for i in range(1000))),
        doc(rule(rid="x" * 255)),
        doc(
            rule("<Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>")
        ),
        doc(rule("<Transition><Days>0</Days><StorageClass>GLACIER_IR</StorageClass></Transition>")),
        doc(
            rule(
                where="<Filter><And><Prefix></Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>"
            )
        ),
    ]
    for body in ok:
        parse_lifecycle(body)


def test_oversized_body_is_malformed() -> None:
    assert error_of(b" " * (2 * 1024 * 1024 + 1)) == ("MalformedXML", None)


# -- round trips ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(configurations())
def test_round_trip__model_xml_model_is_identity(config: LifecycleConfiguration) -> None:
    rendered = render_lifecycle(config)
    assert parse_lifecycle(rendered) == config
    assert render_lifecycle(parse_lifecycle(rendered)) == rendered


def _shuffled(body: bytes, seed: int) -> bytes:
    """The same document with every element's children in another order and whitespace
    between them: S3 takes a rule's elements in any order."""
    root = ET.fromstring(body)  # noqa: S314 (our own rendering)
    rng = random.Random(seed)
    stack = [root]
    while stack:
        elem = stack.pop()
        kids = list(elem)
        if kids:
            # Repeated elements (Rule, Transition, Tag) keep their relative order: it is data.
            groups: dict[str, list[ET.Element]] = {}
            for k in kids:
                groups.setdefault(k.tag, []).append(k)
            names = list(groups)
            rng.shuffle(names)
            for k in kids:
                elem.remove(k)
            for name in names:
                for k in groups[name]:
                    k.tail = "\n  "
                    elem.append(k)
            elem.text = "\n "
            stack.extend(kids)
    return ET.tostring(root)


@settings(max_examples=100, deadline=None)
@given(configurations(), st.integers(0, 2**32))
def test_round_trip__any_element_order_parses_to_the_same_rules(
    config: LifecycleConfiguration, seed: int
) -> None:
    assert parse_lifecycle(_shuffled(render_lifecycle(config), seed)) == config
