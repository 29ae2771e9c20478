"""One node's view of IAM: the current Snapshot, kept fresh, and credential lookup for SigV4.

Freshness: a change publishes on `pc:iam:changed`, which wakes the refresher at once; it also
compares the version counter every `poll_interval` seconds, so a lost message (or a node that was
reconnecting) still converges within that interval. Changes take effect on every node within
about one second.

Failing closed: while Redis is unreachable the node keeps serving from its last snapshot, for at
most `max_stale` seconds after the last successful refresh; after that `current()` raises
IamUnavailable and the gateway answers 503 until Redis is back. Never open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio
from redis.exceptions import RedisError

from auth.iam_model import ROOT_USER, AccessKey, Session
from auth.iam_store import CHANGES_CHANNEL, IamStore, IamUnavailable, Snapshot
from auth.secrets import SecretBoxError

__all__ = ["Credential", "CredentialProblem", "IamView"]

log = logging.getLogger("pcache.iam")

_SESSION_CACHE_TTL = 1.0
_SESSION_CACHE_ENTRIES = 10_000


class CredentialProblem:
    """Why a presented key cannot be used: the S3 error code to answer with."""

    UNKNOWN = "InvalidAccessKeyId"
    TOKEN_MISSING = "InvalidAccessKeyId"  # noqa: S105 - an error code
    TOKEN_INVALID = "InvalidToken"  # noqa: S105 - an error code
    TOKEN_EXPIRED = "ExpiredToken"  # noqa: S105 - an error code
    TOKEN_UNEXPECTED = "InvalidTokenId"  # noqa: S105 - an error code


@dataclass(frozen=True, slots=True)
class Credential:
    """A usable key: its secret and who it speaks for."""

    access_key: str
    secret: str
    #: the IAM user (or "root"); for a role session, the role's name
    subject: str
    kind: str = "user"  # "user", "root", "user-session", "role-session"
    session: Session | None = None


class IamView:
    def __init__(
        self,
        store: IamStore,
        redis_client: redis.asyncio.Redis,
        *,
        max_stale: float = 60.0,
        poll_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._redis = redis_client
        self._max_stale = max_stale
        self._poll = poll_interval
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._loaded_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._secrets: dict[str, str] = {}
        self._sessions: OrderedDict[str, tuple[float, Session | None]] = OrderedDict()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._follow(), name="pcache-iam-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> Snapshot:
        snapshot = await self.store.load()
        if self._snapshot is None or snapshot.version != self._snapshot.version:
            self._secrets = {}
        self._snapshot, self._loaded_at = snapshot, self._clock()
        self._sessions.clear()
        return snapshot

    async def _follow(self) -> None:
        failing = False
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(CHANGES_CHANNEL)
                try:
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=self._poll
                        )
                        changed = message is not None
                        if changed or await self.store.version() != self.current_version():
                            await self.refresh()
                        else:
                            self._loaded_at = self._clock()
                        if failing:
                            log.warning("iam: Redis reachable again, snapshot refreshed")
                            failing = False
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except (RedisError, IamUnavailable, OSError) as err:
                if not failing:
                    log.warning("iam: cannot refresh from Redis (%s); serving the snapshot", err)
                    failing = True
                await asyncio.sleep(self._poll)

    # -- reading -----------------------------------------------------------------------------
    def current_version(self) -> int:
        return -1 if self._snapshot is None else self._snapshot.version

    def age(self) -> float | None:
        """Seconds since the snapshot was last confirmed current with Redis (None: never)."""
        return None if self._snapshot is None else max(0.0, self._clock() - self._loaded_at)

    def current(self) -> Snapshot:
        if self._snapshot is None or self._clock() - self._loaded_at > self._max_stale:
            raise IamUnavailable("the IAM snapshot is too old and Redis is out of reach")
        return self._snapshot

    async def credential(
        self, access_key: str, token: str | None, now: datetime
    ) -> Credential | str:
        """The Credential for a presented key, or a CredentialProblem code."""
        snap = self.current()
        key = snap.keys.get(access_key)
        if key is not None:
            if token is not None:
                return CredentialProblem.TOKEN_UNEXPECTED
            return self._long_term(snap, key, now)
        session = await self._session(access_key)
        if session is None:
            return CredentialProblem.UNKNOWN
        if token is None:
            return CredentialProblem.TOKEN_MISSING
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        if not hmac.compare_digest(digest.encode(), session.token_sha256.encode()):
            return CredentialProblem.TOKEN_INVALID
        if now >= session.expires:
            return CredentialProblem.TOKEN_EXPIRED
        if session.kind == "user":
            user = snap.users.get(session.subject)
            if session.subject != ROOT_USER and (user is None or not user.enabled):
                return CredentialProblem.TOKEN_INVALID
        elif session.subject not in snap.roles:
            return CredentialProblem.TOKEN_INVALID
        secret = self._open(session)
        if secret is None:
            return CredentialProblem.TOKEN_INVALID
        return Credential(
            access_key=access_key,
            secret=secret,
            subject=session.subject,
            kind="role-session" if session.kind == "role" else "user-session",
            session=session,
        )

    def _long_term(self, snap: Snapshot, key: AccessKey, now: datetime) -> Credential | str:
        if not key.usable(now):
            return CredentialProblem.UNKNOWN
        if key.user != ROOT_USER:
            user = snap.users.get(key.user)
            if user is None or not user.enabled:
                return CredentialProblem.UNKNOWN
        secret = self._secrets.get(key.access_key)
        if secret is None:
            secret = self._open(key)
            if secret is None:
                return CredentialProblem.UNKNOWN
            self._secrets[key.access_key] = secret
        return Credential(
            access_key=key.access_key,
            secret=secret,
            subject=key.user,
            kind="root" if key.user == ROOT_USER else "user",
        )

    def _open(self, record: AccessKey | Session) -> str | None:
        try:
            return self.store.open_secret(record)
        except SecretBoxError:
            # Sealed under another master key: every node sharing this Redis must share the key.
            log.error(
                "iam: the secret of access key %s does not open with this node's master key",
                record.access_key,
            )
            return None

    async def _session(self, access_key: str) -> Session | None:
        if not access_key.startswith("ASIA"):
            return None
        now = self._clock()
        hit = self._sessions.get(access_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        session = await self.store.get_session(access_key)
        self._sessions[access_key] = (now + _SESSION_CACHE_TTL, session)
        while len(self._sessions) > _SESSION_CACHE_ENTRIES:
            self._sessions.popitem(last=False)
        return session


def utcnow() -> datetime:
    return datetime.now(UTC)
