"""auth.sts: durations, parameter checks, session policies, credential issue and the AssumeRole
trust decision, as pure functions."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.iam_identity import Identity
from auth.iam_model import Role
from auth.policy_doc import PolicyDocument, PolicyKind, parse_policy
from auth.policy_eval import Decision
from auth.sts import (
    MAX_PACKED_POLICY_CHARS,
    STS_ERRORS,
    RoleRef,
    StsError,
    assume_role_decision,
    assume_role_duration,
    issue,
    may_call_assume_role,
    may_call_get_session_token,
    new_session_token,
    parse_role_arn,
    principal_arns,
    role_for,
    session_policy,
    session_token_duration,
    token_digest,
    validate_external_id,
    validate_session_name,
)

ACCOUNT = "000000000000"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/reader"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
A, E, N = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-"


def code_of(call: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(StsError) as info:
        call(*args, **kw)
    assert info.value.status == STS_ERRORS[info.value.code]
    return info.value.code


# --- durations ---------------------------------------------------------------------------------


def test_assume_role_duration__defaults() -> None:
    assert assume_role_duration(None, role_max=3600, chained=False) == 3600
    assert assume_role_duration(None, role_max=43200, chained=False) == 3600
    assert assume_role_duration(None, role_max=1800, chained=False) == 1800
    assert assume_role_duration(None, role_max=43200, chained=True) == 3600


@given(st.integers(min_value=900, max_value=43200), st.integers(min_value=900, max_value=43200))
def test_assume_role_duration__within_the_role_maximum(value: int, role_max: int) -> None:
    if value <= role_max:
        assert assume_role_duration(str(value), role_max=role_max, chained=False) == value
    else:
        assert code_of(assume_role_duration, str(value), role_max=role_max, chained=False) == (
            "ValidationError"
        )


@given(st.one_of(st.integers(max_value=899), st.integers(min_value=43201)))
def test_assume_role_duration__outside_the_api_range(value: int) -> None:
    assert code_of(assume_role_duration, str(value), role_max=43200, chained=False) == (
        "ValidationError"
    )


def test_assume_role_duration__chaining_caps_at_one_hour() -> None:
    assert assume_role_duration("3600", role_max=43200, chained=True) == 3600
    assert code_of(assume_role_duration, "3601", role_max=43200, chained=True) == (
        "ValidationError"
    )


@pytest.mark.parametrize("raw", ["", "ten", "1e3", "900.0", " 900", "0x384", "9" * 40])
def test_durations__must_be_integers(raw: str) -> None:
    assert code_of(assume_role_duration, raw, role_max=43200, chained=False) == "ValidationError"
    assert code_of(session_token_duration, raw, root=False) == "ValidationError"


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_session_token_duration__user_and_root_ranges(value: int) -> None:
    for root, top in ((False, 129600), (True, 3600)):
        if 900 <= value <= top:
            assert session_token_duration(str(value), root=root) == value
        else:
            assert code_of(session_token_duration, str(value), root=root) == "ValidationError"


def test_session_token_duration__defaults() -> None:
    assert session_token_duration(None, root=False) == 43200
    assert session_token_duration(None, root=True) == 3600


# --- parameters --------------------------------------------------------------------------------


@given(st.text(alphabet=NAME_CHARS, min_size=2, max_size=64))
def test_session_name__allowed_names(name: str) -> None:
    assert validate_session_name(name) == name


@pytest.mark.parametrize("name", [None, "", "a", "x" * 65, "has space", "slash/", "é" * 4, "a:b"])
def test_session_name__refused(name: str | None) -> None:
    assert code_of(validate_session_name, name) == "ValidationError"


def test_external_id() -> None:
    assert validate_external_id(None) is None
    assert validate_external_id("tenant:42/x") == "tenant:42/x"
    for bad in ("x", "x" * 1225, "no spaces"):
        assert code_of(validate_external_id, bad) == "ValidationError"


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.text(alphabet=NAME_CHARS, min_size=1, max_size=64),
)
def test_role_arn__round_trip(account: str, name: str) -> None:
    ref = parse_role_arn(f"arn:aws:iam::{account}:role/{name}")
    assert ref == RoleRef(account=account, path="", name=name)
    assert ref.arn == f"arn:aws:iam::{account}:role/{name}"


def test_role_arn__paths_and_malformed() -> None:
    ref = parse_role_arn(f"arn:aws:iam::{ACCOUNT}:role/service/team/reader")
    assert (ref.path, ref.name) == ("service/team/", "reader")
    for bad in (
        None,
        "arn:aws:iam::1:role/x",  # too short
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        f"arn:aws:s3:::{ACCOUNT}:role/reader",
        f"arn:aws:iam::{ACCOUNT}:role/",
        f"arn:aws:iam::{ACCOUNT}:role/bad name",
        "arn:aws:iam::12345678901:role/reader",
        "arn:aws:iam::00000000000\u0660:role/reader",  # an Arabic-Indic digit
        f"arn:aws:iam::{ACCOUNT}:role/" + "x" * 2048,
    ):
        assert code_of(parse_role_arn, bad) == "ValidationError"


def test_role_for__account_path_and_name() -> None:
    role = Role("reader", "AROA1", "{}", datetime.now(UTC))
    roles = {"reader": role}
    assert role_for(parse_role_arn(ROLE_ARN), ACCOUNT, roles) is role
    assert role_for(parse_role_arn("arn:aws:iam::123456789012:role/reader"), ACCOUNT, roles) is None
    assert role_for(parse_role_arn(f"arn:aws:iam::{ACCOUNT}:role/p/reader"), ACCOUNT, roles) is None
    assert role_for(parse_role_arn(f"arn:aws:iam::{ACCOUNT}:role/writer"), ACCOUNT, roles) is None


# --- session policies ----------------------------------------------------------------------------


def _policy(actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }


def test_session_policy__packed_without_whitespace() -> None:
    assert session_policy(None) is None
    pretty = json.dumps(_policy(["s3:GetObject"]), indent=8)
    packed = session_policy(pretty)
    assert packed is not None
    assert packed.text == pretty  # stored as validated
    compact = json.dumps(_policy(["s3:GetObject"]), separators=(",", ":"))
    assert packed.packed_percent == -(-100 * len(compact) // MAX_PACKED_POLICY_CHARS)


def test_session_policy__size_is_measured_packed() -> None:
    actions = [f"s3:GetObject{i:03d}" for i in range(100)]
    pretty = json.dumps(_policy(actions), indent=12)
    assert len(pretty) > MAX_PACKED_POLICY_CHARS
    assert session_policy(pretty) is not None  # whitespace is free
    big = [f"s3:GetObject{i:04d}" for i in range(200)]
    assert code_of(session_policy, json.dumps(_policy(big))) == "PackedPolicyTooLarge"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
                ],
            }
        ),
    ],
)
def test_session_policy__malformed(text: str) -> None:
    expected = "ValidationError" if text == "" else "MalformedPolicyDocument"
    assert code_of(session_policy, text) == expected


# --- credentials -------------------------------------------------------------------------------


def test_issue__session_fields_and_secrets() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    out = issue(kind="role", subject="reader", duration=900, now=now, session_name="s", policy="{}")
    session = out.session
    assert session.access_key.startswith("ASIA") and len(session.access_key) == 20
    assert session.expires == datetime(2030, 1, 2, 3, 19, 5, tzinfo=UTC)
    assert session.created == now.replace(microsecond=0)
    assert session.token_sha256 == hashlib.sha256(out.token.encode()).hexdigest()
    assert (session.kind, session.subject, session.session_name, session.policy) == (
        "role",
        "reader",
        "s",
        "{}",
    )
    assert session.secret_enc == ""  # sealed only by IamStore.put_session
    assert len(out.secret) == 40
    assert out.secret not in repr(out) and out.token not in repr(out)


def test_tokens__unique_and_hashed() -> None:
    tokens = {new_session_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) == 128 for t in tokens)
    token = tokens.pop()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_digest(token) != token_digest(token[:-1] + ("A" if token[-1] != "A" else "B"))


# --- who may call what ---------------------------------------------------------------------------


def identity(
    kind: str = "user",
    name: str = "alice",
    *policies: dict[str, Any],
    session: list[dict[str, Any]] | None = None,
) -> Identity:
    arns = {
        "user": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "user-session": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "root": f"arn:aws:iam::{ACCOUNT}:root",
        "role-session": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s",
    }
    docs = tuple(parse_policy(json.dumps(p), PolicyKind.IDENTITY) for p in policies)
    session_docs: tuple[PolicyDocument, ...] | None = (
        None
        if session is None
        else tuple(parse_policy(json.dumps(p), PolicyKind.IDENTITY) for p in session)
    )
    return Identity(
        access_key="AK",
        name=name,
        kind=kind,
        arn=arns[kind],
        keys={"aws:username": (name,)} if kind.startswith("user") else {},
        policies=docs,
        session_policies=session_docs,
    )


def test_root_never_assumes_and_sessions_never_get_session_tokens() -> None:
    assert code_of(may_call_assume_role, identity("root", "root")) == "AccessDenied"
    assert code_of(may_call_assume_role, identity("user-session", "root")) == "AccessDenied"
    may_call_assume_role(identity("user"))
    may_call_assume_role(identity("user-session"))
    may_call_assume_role(identity("role-session", "other"))
    may_call_get_session_token(identity("user"))
    may_call_get_session_token(identity("root", "root"))
    for kind in ("user-session", "role-session"):
        assert code_of(may_call_get_session_token, identity(kind)) == "AccessDenied"


def role_trusting(*statements: dict[str, Any]) -> Role:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return Role("reader", "AROA1", json.dumps(doc), datetime.now(UTC))


def trusts(principal: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole", **extra}


ALLOW_ASSUME = _policy(["sts:AssumeRole"])
DENY_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}],
}


def decide(caller: Identity, role: Role, **keys: str) -> Decision:
    return assume_role_decision(caller, role, ROLE_ARN, ACCOUNT, {k: (v,) for k, v in keys.items()})


@pytest.mark.parametrize(
    ("principal", "caller_policies", "expected"),
    [
        ({"AWS": ALICE}, (), A),  # named: the trust policy alone suffices
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:user/bob", ALICE]}, (), A),
        ("*", (), A),
        ({"AWS": "*"}, (), A),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, (ALLOW_ASSUME,), N),  # not named
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, (), N),  # account: needs identity permission
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, (ALLOW_ASSUME,), A),
        ({"AWS": ACCOUNT}, (ALLOW_ASSUME,), A),  # a bare account id means the same
        ({"AWS": "arn:aws:iam::123456789012:root"}, (ALLOW_ASSUME,), N),  # another account
        ({"AWS": ALICE}, (DENY_ASSUME,), E),  # an identity Deny still wins
        ({"Service": "ec2.amazonaws.com"}, (ALLOW_ASSUME,), N),
    ],
)
def test_assume_role_decision__principals(
    principal: Any, caller_policies: tuple[dict[str, Any], ...], expected: Decision
) -> None:
    assert decide(
        identity("user", "alice", *caller_policies), role_trusting(trusts(principal))
    ) == (expected)


def test_assume_role_decision__trust_deny_wins() -> None:
    role = role_trusting(trusts("*"), trusts({"AWS": ALICE}, "Deny"))
    assert decide(identity(), role) is E
    assert decide(identity("user", "bob"), role) is A
    everyone_in_account = role_trusting(
        trusts({"AWS": ALICE}), trusts({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Deny")
    )
    assert decide(identity(), everyone_in_account) is E


def test_assume_role_decision__conditions_see_request_and_caller_keys() -> None:
    role = role_trusting(
        trusts("*", Condition={"StringEquals": {"sts:ExternalId": "tenant-7"}}),
    )
    assert decide(identity(), role, **{"sts:externalid": "tenant-7"}) is A
    assert decide(identity(), role, **{"sts:externalid": "tenant-8"}) is N
    assert decide(identity(), role) is N
    by_name = role_trusting(trusts("*", Condition={"StringEquals": {"aws:username": "alice"}}))
    assert decide(identity(), by_name) is A
    assert decide(identity("user", "bob"), by_name) is N


def test_assume_role_decision__role_chaining() -> None:
    chained = identity("role-session", "other")
    assert principal_arns(chained, ACCOUNT) == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/other/s",
        f"arn:aws:iam::{ACCOUNT}:role/other",
    )
    by_role = role_trusting(trusts({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}))
    assert decide(chained, by_role) is A
    by_session = role_trusting(trusts({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/other/s"}))
    assert decide(chained, by_session) is A
    narrowed = identity("role-session", "other", session=[_policy(["s3:GetObject"])])
    assert decide(narrowed, by_role) is N  # its session policy does not allow sts:AssumeRole
    widened = identity("role-session", "other", session=[ALLOW_ASSUME])
    assert decide(widened, by_role) is A


def test_assume_role_decision__unparsable_trust_trusts_nobody() -> None:
    broken = Role("reader", "AROA1", "{not json", datetime.now(UTC))
    assert decide(identity("user", "alice", ALLOW_ASSUME), broken) is N


def test_durations_and_expiry_agree() -> None:
    now = datetime.now(UTC)
    out = issue(kind="user", subject="alice", duration=43200, now=now)
    assert out.session.expires - now.replace(microsecond=0) == timedelta(hours=12)
