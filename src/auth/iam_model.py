"""IAM records as stored in Redis: users, access keys, managed policies, groups, roles, sessions.

Each record is a frozen dataclass with a compact JSON form. Secrets exist here only sealed
(`secret_enc`, opened with a SecretBox whose associated data is the access key id), so a dump of
Redis never holds one in plaintext.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "ROOT_USER",
    "AccessKey",
    "Group",
    "KeyStatus",
    "ManagedPolicy",
    "Role",
    "Session",
    "User",
    "from_json",
    "now_utc",
    "to_json",
]

#: The account's root identity: not an IAM user record, allowed everything.
ROOT_USER = "root"


class KeyStatus:
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    ALL = (ACTIVE, INACTIVE)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    user_id: str
    created: datetime
    enabled: bool = True
    policies: tuple[str, ...] = ()
    managed_by: str = "api"


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key: str
    user: str
    secret_enc: str
    created: datetime
    status: str = KeyStatus.ACTIVE
    expires: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.status == KeyStatus.ACTIVE and (self.expires is None or now < self.expires)


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    name: str
    document: str
    created: datetime
    updated: datetime
    description: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    created: datetime
    members: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    role_id: str
    trust_policy: str
    created: datetime
    policies: tuple[str, ...] = ()
    max_session_seconds: int = 3600
    description: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """Temporary credentials (STS). `token_sha256` is the hex digest of the session token: the
    token itself is only ever handed to the caller."""

    access_key: str
    secret_enc: str
    token_sha256: str
    expires: datetime
    #: "user" (GetSessionToken) or "role" (AssumeRole)
    kind: str
    #: the user whose rights the session carries, or the role's name
    subject: str
    session_name: str = ""
    #: inline session policy (JSON text) that narrows the subject's rights
    policy: str | None = None
    created: datetime = field(default_factory=now_utc)


Record = TypeVar("Record", User, AccessKey, ManagedPolicy, Group, Role, Session)

_DATES = {"created", "updated", "expires"}
_TUPLES = {"policies", "members"}


def to_json(record: User | AccessKey | ManagedPolicy | Group | Role | Session) -> str:
    doc: dict[str, Any] = asdict(record)
    for name in _DATES:
        value = doc.get(name)
        if isinstance(value, datetime):
            doc[name] = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def from_json(cls: type[Record], text: str | bytes) -> Record:
    raw = json.loads(text)
    known = {f.name for f in fields(cls)}
    doc: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
    for name in _DATES & doc.keys():
        if doc[name] is not None:
            doc[name] = datetime.strptime(doc[name], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    for name in _TUPLES & doc.keys():
        doc[name] = tuple(doc[name])
    return cls(**doc)
