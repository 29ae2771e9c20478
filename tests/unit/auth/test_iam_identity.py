"""identity_for: memoised per snapshot, never across snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from auth.iam_identity import identity_for
from auth.iam_model import AccessKey, Group, ManagedPolicy, User
from auth.iam_store import Snapshot
from auth.iam_view import Credential

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ACCOUNT = "123456789012"
CRED = Credential(access_key="AKALICE", secret="s", subject="alice")


def _doc(action: str, *, tag_condition: bool = False) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if tag_condition:
        statement["Condition"] = {"StringEquals": {"s3:ExistingObjectTag/team": "a"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _snapshot(version: int, *, user_policies: tuple[str, ...], tags: bool = False) -> Snapshot:
    return Snapshot(
        version=version,
        users={"alice": User("alice", "AIDAALICE", NOW, policies=user_policies)},
        keys={"AKALICE": AccessKey("AKALICE", "alice", "sealed", NOW)},
        policies={
            "read": ManagedPolicy("read", _doc("s3:GetObject", tag_condition=tags), NOW, NOW),
            "write": ManagedPolicy("write", _doc("s3:PutObject"), NOW, NOW),
        },
        groups={"g": Group("g", NOW, ("alice",), ("write",))},
        member_of={"alice": ("g",)},
    )


def test_identity_for__same_snapshot_and_credential_give_the_same_identity() -> None:
    snap = _snapshot(1, user_policies=("read",))
    first = identity_for(snap, CRED, ACCOUNT)
    assert identity_for(snap, CRED, ACCOUNT) is first
    assert first.arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert len(first.policies) == 2  # the user's own and its group's
    other_account = identity_for(snap, CRED, "999999999999")
    assert other_account.arn == "arn:aws:iam::999999999999:user/alice"


def test_identity_for__a_new_snapshot_is_read_afresh() -> None:
    before = identity_for(_snapshot(1, user_policies=()), CRED, ACCOUNT)
    assert len(before.policies) == 1 and not before.reads_existing_tags
    after = identity_for(_snapshot(2, user_policies=("read",), tags=True), CRED, ACCOUNT)
    assert len(after.policies) == 2 and after.reads_existing_tags
    # Even an equal version number does not reuse identities of another snapshot object.
    again = identity_for(_snapshot(2, user_policies=(), tags=False), CRED, ACCOUNT)
    assert len(again.policies) == 1 and not again.reads_existing_tags


def test_identity_for__a_user_gone_from_the_snapshot_is_a_key_error() -> None:
    identity_for(_snapshot(1, user_policies=()), CRED, ACCOUNT)
    gone = Snapshot(version=3)
    with pytest.raises(KeyError):
        identity_for(gone, CRED, ACCOUNT)
