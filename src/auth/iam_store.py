"""IAM state in Redis: one hash per record kind, a version counter, and a change channel.

Layout (every key carries the `{iam}` hash tag, so a transaction touching several kinds stays in
one Redis Cluster slot):

    pc:iam:{iam}:users            hash  name -> User JSON
    pc:iam:{iam}:keys             hash  access key id -> AccessKey JSON (secret sealed)
    pc:iam:{iam}:policies         hash  name -> ManagedPolicy JSON
    pc:iam:{iam}:groups           hash  name -> Group JSON
    pc:iam:{iam}:roles            hash  name -> Role JSON
    pc:iam:{iam}:bucket-policies  hash  PBucket -> policy document text
    pc:iam:{iam}:version          int   bumped by every change, in the same transaction
    pc:iam:{iam}:session:<AK>     str   Session JSON, expiring with the session
    channel pc:iam:changed        the new version, published after each change

Every mutation is optimistic: WATCH the version, read, check, MULTI the writes with a version bump.
A concurrent change makes EXEC fail and the mutation re-reads and retries, so two admins never
overwrite each other's edits. Readers load the whole state as one `Snapshot` (see iam_view.py):
IAM data is small next to the requests it governs.

Exceptions:

    IamError(code, status, message)      the admin API's error, e.g. NoSuchEntity 404
    IamUnavailable                       Redis is out of reach (and the snapshot too old)
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import redis.asyncio
from redis.exceptions import RedisError, WatchError

from auth.iam_model import (
    ROOT_USER,
    AccessKey,
    Group,
    KeyStatus,
    ManagedPolicy,
    Role,
    Session,
    User,
    from_json,
    now_utc,
    to_json,
)
from auth.secrets import SecretBox, generate_access_key, generate_secret_key

__all__ = [
    "CHANGES_CHANNEL",
    "IamError",
    "IamStore",
    "IamUnavailable",
    "Snapshot",
]

_P = "pc:iam:{iam}:"
USERS, KEYS, POLICIES = _P + "users", _P + "keys", _P + "policies"
GROUPS, ROLES, BUCKET_POLICIES = _P + "groups", _P + "roles", _P + "bucket-policies"
VERSION = _P + "version"
SESSION = _P + "session:"
CHANGES_CHANNEL = "pc:iam:changed"
_RETRIES = 50
_ID_ALPHABET = string.ascii_uppercase + string.digits


class IamError(Exception):
    """A refused IAM change; `code` and `status` are what the admin API answers."""

    def __init__(self, code: str, status: int, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.field = code, status, message, field


class IamUnavailable(Exception):
    """The IAM state cannot be read and the last snapshot is too old to trust: fail closed."""


def _no_such(kind: str, name: str) -> IamError:
    return IamError("NoSuchEntity", 404, f"The {kind} with name {name} cannot be found.")


def _exists(kind: str, name: str) -> IamError:
    return IamError("EntityAlreadyExists", 409, f"The {kind} with name {name} already exists.")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every IAM record at one version. Never mutated; a change produces a new snapshot."""

    version: int
    users: Mapping[str, User] = field(default_factory=dict)
    keys: Mapping[str, AccessKey] = field(default_factory=dict)
    policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    roles: Mapping[str, Role] = field(default_factory=dict)
    bucket_policies: Mapping[str, str] = field(default_factory=dict)
    member_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def groups_of(self, user: str) -> tuple[Group, ...]:
        return tuple(self.groups[g] for g in self.member_of.get(user, ()) if g in self.groups)

    def keys_of(self, user: str) -> list[AccessKey]:
        return sorted((k for k in self.keys.values() if k.user == user), key=lambda k: k.access_key)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


R = TypeVar("R", User, AccessKey, ManagedPolicy, Group, Role)
H = TypeVar("H", User, Group, Role)  # records that hold attached policies
T = TypeVar("T")


def _records(cls: type[R], raw: Mapping[Any, Any]) -> dict[str, R]:
    return {_text(k): from_json(cls, _text(v)) for k, v in raw.items()}


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


class _Tx:
    """The reads and queued writes of one optimistic transaction."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self.writes: list[Callable[[Any], object]] = []

    async def get(self, cls: type[R], table: str, name: str) -> R | None:
        raw = await self._pipe.hget(table, name)
        return None if raw is None else from_json(cls, _text(raw))

    async def all(self, cls: type[R], table: str) -> dict[str, R]:
        return _records(cls, await self._pipe.hgetall(table))

    async def raw(self, table: str, name: str) -> str | None:
        raw = await self._pipe.hget(table, name)
        return None if raw is None else _text(raw)

    def put(
        self, table: str, name: str, record: User | AccessKey | ManagedPolicy | Group | Role
    ) -> None:
        text = to_json(record)
        self.writes.append(lambda p: p.hset(table, name, text))

    def put_raw(self, table: str, name: str, text: str) -> None:
        self.writes.append(lambda p: p.hset(table, name, text))

    def drop(self, table: str, name: str) -> None:
        self.writes.append(lambda p: p.hdel(table, name))


class IamStore:
    """Reads and changes the IAM state in Redis. Policy documents arrive already validated."""

    def __init__(self, redis_client: redis.asyncio.Redis, box: SecretBox) -> None:
        self._redis = redis_client
        self._box = box

    # -- reading ---------------------------------------------------------------------------
    async def version(self) -> int:
        try:
            raw = await self._redis.get(VERSION)
        except RedisError as err:
            raise IamUnavailable(str(err)) from err
        return int(raw or 0)

    async def load(self) -> Snapshot:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(VERSION)
                for table in (USERS, KEYS, POLICIES, GROUPS, ROLES, BUCKET_POLICIES):
                    pipe.hgetall(table)
                version, users, keys, policies, groups, roles, bpols = await pipe.execute()
        except RedisError as err:
            raise IamUnavailable(str(err)) from err
        group_map = _records(Group, groups)
        member_of: dict[str, list[str]] = {}
        for group in sorted(group_map.values(), key=lambda g: g.name):
            for member in group.members:
                member_of.setdefault(member, []).append(group.name)
        return Snapshot(
            version=int(version or 0),
            users=_records(User, users),
            keys=_records(AccessKey, keys),
            policies=_records(ManagedPolicy, policies),
            groups=group_map,
            roles=_records(Role, roles),
            bucket_policies={_text(k): _text(v) for k, v in bpols.items()},
            member_of={k: tuple(v) for k, v in member_of.items()},
        )

    def open_secret(self, key: AccessKey | Session) -> str:
        return self._box.decrypt(key.secret_enc, key.access_key)

    # -- the transaction frame ---------------------------------------------------------------
    async def _change(self, body: Callable[[_Tx], Awaitable[T]]) -> T:
        try:
            for _ in range(_RETRIES):
                async with self._redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(VERSION)
                        tx = _Tx(pipe)
                        result = await body(tx)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        for write in tx.writes:
                            write(pipe)
                        pipe.incr(VERSION)
                        outcome = await pipe.execute()
                    except WatchError:
                        continue
                await self._redis.publish(CHANGES_CHANNEL, str(outcome[-1]))
                return result
        except RedisError as err:
            raise IamUnavailable(str(err)) from err
        raise IamError("ConcurrentModification", 409, "IAM is changing too fast; try again.")

    # -- users -------------------------------------------------------------------------------
    async def create_user(self, name: str, *, managed_by: str = "api") -> User:
        if name == ROOT_USER:
            raise _exists("user", name)

        async def body(tx: _Tx) -> User:
            if await tx.get(User, USERS, name) is not None:
                raise _exists("user", name)
            user = User(
                name=name, user_id=_new_id("AIDA"), created=now_utc(), managed_by=managed_by
            )
            tx.put(USERS, name, user)
            return user

        return await self._change(body)

    async def set_user_enabled(self, name: str, enabled: bool) -> User:
        async def body(tx: _Tx) -> User:
            user = await tx.get(User, USERS, name)
            if user is None:
                raise _no_such("user", name)
            user = replace(user, enabled=enabled)
            tx.put(USERS, name, user)
            return user

        return await self._change(body)

    async def delete_user(self, name: str) -> None:
        """Deletes the user with its access keys and group memberships (one step, not AWS's
        DeleteConflict dance: nothing of a deleted user may keep working)."""

        async def body(tx: _Tx) -> None:
            if await tx.get(User, USERS, name) is None:
                raise _no_such("user", name)
            for ak, key in (await tx.all(AccessKey, KEYS)).items():
                if key.user == name:
                    tx.drop(KEYS, ak)
            for gname, group in (await tx.all(Group, GROUPS)).items():
                if name in group.members:
                    members = tuple(m for m in group.members if m != name)
                    tx.put(GROUPS, gname, replace(group, members=members))
            tx.drop(USERS, name)

        await self._change(body)

    # -- access keys -------------------------------------------------------------------------
    async def create_access_key(
        self,
        user: str,
        *,
        expires: datetime | None = None,
        access_key: str | None = None,
        secret: str | None = None,
        limit: int | None = 2,
    ) -> tuple[AccessKey, str]:
        """A new key pair for `user` (root included); the secret is returned here only."""
        access_key = access_key or generate_access_key()
        secret = secret or generate_secret_key()
        record = AccessKey(
            access_key=access_key,
            user=user,
            secret_enc=self._box.encrypt(secret, access_key),
            created=now_utc(),
            expires=expires,
        )

        async def body(tx: _Tx) -> AccessKey:
            if user != ROOT_USER and await tx.get(User, USERS, user) is None:
                raise _no_such("user", user)
            existing = await tx.all(AccessKey, KEYS)
            if access_key in existing:
                if existing[access_key].user != user:
                    raise _exists("access key", access_key)
            elif limit is not None and sum(k.user == user for k in existing.values()) >= limit:
                raise IamError(
                    "LimitExceeded", 409, f"Cannot exceed quota for AccessKeysPerUser: {limit}"
                )
            tx.put(KEYS, access_key, record)
            return record

        return await self._change(body), secret

    async def set_key_status(self, access_key: str, status: str) -> AccessKey:
        if status not in KeyStatus.ALL:
            raise IamError(
                "ValidationError", 400, "status must be Active or Inactive", field="status"
            )

        async def body(tx: _Tx) -> AccessKey:
            key = await tx.get(AccessKey, KEYS, access_key)
            if key is None:
                raise _no_such("access key", access_key)
            key = replace(key, status=status)
            tx.put(KEYS, access_key, key)
            return key

        return await self._change(body)

    async def delete_access_key(self, access_key: str) -> None:
        async def body(tx: _Tx) -> None:
            if await tx.get(AccessKey, KEYS, access_key) is None:
                raise _no_such("access key", access_key)
            tx.drop(KEYS, access_key)

        await self._change(body)

    async def delete_access_keys(self, access_keys: Iterable[str]) -> None:
        """Drop several keys at once (missing ones are ignored): root key rotation at start."""
        doomed = list(access_keys)
        if not doomed:
            return

        async def body(tx: _Tx) -> None:
            for ak in doomed:
                tx.drop(KEYS, ak)

        await self._change(body)

    # -- managed policies --------------------------------------------------------------------
    async def put_policy(
        self,
        name: str,
        document: str,
        *,
        description: str = "",
        create_only: bool = False,
        must_exist: bool = False,
    ) -> ManagedPolicy:
        async def body(tx: _Tx) -> ManagedPolicy:
            old = await tx.get(ManagedPolicy, POLICIES, name)
            if old is not None and create_only:
                raise _exists("policy", name)
            if old is None and must_exist:
                # An update racing a delete must not resurrect the policy.
                raise _no_such("policy", name)
            now = now_utc()
            policy = ManagedPolicy(
                name=name,
                document=document,
                created=old.created if old else now,
                updated=now,
                description=description or (old.description if old else ""),
            )
            tx.put(POLICIES, name, policy)
            return policy

        return await self._change(body)

    async def delete_policy(self, name: str) -> None:
        async def body(tx: _Tx) -> None:
            if await tx.get(ManagedPolicy, POLICIES, name) is None:
                raise _no_such("policy", name)
            holders = [
                *(
                    f"user {u.name}"
                    for u in (await tx.all(User, USERS)).values()
                    if name in u.policies
                ),
                *(
                    f"group {g.name}"
                    for g in (await tx.all(Group, GROUPS)).values()
                    if name in g.policies
                ),
                *(
                    f"role {r.name}"
                    for r in (await tx.all(Role, ROLES)).values()
                    if name in r.policies
                ),
            ]
            if holders:
                raise IamError(
                    "DeleteConflict", 409, f"Policy {name} is attached to {', '.join(holders)}."
                )
            tx.drop(POLICIES, name)

        await self._change(body)

    async def _attach(
        self, cls: type[H], table: str, kind: str, name: str, policy: str, on: bool
    ) -> H:
        async def body(tx: _Tx) -> H:
            holder = await tx.get(cls, table, name)
            if holder is None:
                raise _no_such(kind, name)
            if on and await tx.get(ManagedPolicy, POLICIES, policy) is None:
                raise _no_such("policy", policy)
            current: tuple[str, ...] = holder.policies
            if on:
                updated = current if policy in current else (*current, policy)
            else:
                if policy not in current:
                    raise IamError(
                        "NoSuchEntity", 404, f"Policy {policy} is not attached to {kind} {name}."
                    )
                updated = tuple(p for p in current if p != policy)
            holder = replace(holder, policies=updated)
            tx.put(table, name, holder)
            return holder

        return await self._change(body)

    async def attach_user_policy(self, user: str, policy: str, attach: bool = True) -> User:
        return await self._attach(User, USERS, "user", user, policy, attach)

    async def attach_group_policy(self, group: str, policy: str, attach: bool = True) -> Group:
        return await self._attach(Group, GROUPS, "group", group, policy, attach)

    async def attach_role_policy(self, role: str, policy: str, attach: bool = True) -> Role:
        return await self._attach(Role, ROLES, "role", role, policy, attach)

    # -- groups ------------------------------------------------------------------------------
    async def create_group(self, name: str) -> Group:
        async def body(tx: _Tx) -> Group:
            if await tx.get(Group, GROUPS, name) is not None:
                raise _exists("group", name)
            group = Group(name=name, created=now_utc())
            tx.put(GROUPS, name, group)
            return group

        return await self._change(body)

    async def delete_group(self, name: str) -> None:
        async def body(tx: _Tx) -> None:
            if await tx.get(Group, GROUPS, name) is None:
                raise _no_such("group", name)
            tx.drop(GROUPS, name)

        await self._change(body)

    async def set_membership(self, group: str, user: str, member: bool) -> Group:
        async def body(tx: _Tx) -> Group:
            record = await tx.get(Group, GROUPS, group)
            if record is None:
                raise _no_such("group", group)
            if member and await tx.get(User, USERS, user) is None:
                raise _no_such("user", user)
            if member:
                members = record.members if user in record.members else (*record.members, user)
            else:
                if user not in record.members:
                    raise IamError("NoSuchEntity", 404, f"User {user} is not in group {group}.")
                members = tuple(m for m in record.members if m != user)
            record = replace(record, members=members)
            tx.put(GROUPS, group, record)
            return record

        return await self._change(body)

    # -- roles -------------------------------------------------------------------------------
    async def create_role(
        self,
        name: str,
        trust_policy: str,
        *,
        max_session_seconds: int = 3600,
        description: str = "",
    ) -> Role:
        async def body(tx: _Tx) -> Role:
            if await tx.get(Role, ROLES, name) is not None:
                raise _exists("role", name)
            role = Role(
                name=name,
                role_id=_new_id("AROA"),
                trust_policy=trust_policy,
                created=now_utc(),
                max_session_seconds=max_session_seconds,
                description=description,
            )
            tx.put(ROLES, name, role)
            return role

        return await self._change(body)

    async def delete_role(self, name: str) -> None:
        async def body(tx: _Tx) -> None:
            if await tx.get(Role, ROLES, name) is None:
                raise _no_such("role", name)
            tx.drop(ROLES, name)

        await self._change(body)

    # -- bucket policies ---------------------------------------------------------------------
    async def put_bucket_policy(self, pbucket: str, document: str) -> None:
        async def body(tx: _Tx) -> None:
            tx.put_raw(BUCKET_POLICIES, pbucket, document)

        await self._change(body)

    async def delete_bucket_policy(self, pbucket: str) -> bool:
        async def body(tx: _Tx) -> bool:
            existed = await tx.raw(BUCKET_POLICIES, pbucket) is not None
            tx.drop(BUCKET_POLICIES, pbucket)
            return existed

        return await self._change(body)

    # -- sessions (STS) ----------------------------------------------------------------------
    async def put_session(self, session: Session, secret: str, ttl_seconds: int) -> Session:
        sealed = replace(session, secret_enc=self._box.encrypt(secret, session.access_key))
        try:
            await self._redis.set(SESSION + session.access_key, to_json(sealed), ex=ttl_seconds)
        except RedisError as err:
            raise IamUnavailable(str(err)) from err
        return sealed

    async def get_session(self, access_key: str) -> Session | None:
        try:
            raw = await self._redis.get(SESSION + access_key)
        except RedisError as err:
            raise IamUnavailable(str(err)) from err
        return None if raw is None else from_json(Session, _text(raw))

    async def delete_sessions(self, access_keys: Iterable[str]) -> int:
        names = [SESSION + ak for ak in access_keys]
        if not names:
            return 0
        try:
            removed = int(await self._redis.delete(*names))
            await self._redis.publish(CHANGES_CHANNEL, "sessions")
        except RedisError as err:
            raise IamUnavailable(str(err)) from err
        return removed


def new_session_key() -> str:
    """Temporary access key ids start with ASIA, as AWS's do, so tools recognise them."""
    return _new_id("ASIA")[:20]
