"""S3 upstreams of one process share one botocore session: a fresh session per client re-reads
botocore's service data from disk (~0.2 s blocking the event loop, per vendor, at every start and
every vendor rebuild)."""

from __future__ import annotations

from typing import Any

import pytest
from aiobotocore.session import AioSession

from router.endpoint_guard import parse_allowlist
from router.s3_settings import S3VendorSettings
from router.s3_upstream import S3Upstream


def _upstream(name: str, session: AioSession | None = None) -> S3Upstream:
    settings = S3VendorSettings(
        name=name,
        endpoint_url="http://127.0.0.1:9",  # never contacted: starting only builds the client
        region="us-east-1",
        access_key=f"AK-{name}",
        secret_key=f"SK-{name}",
        allowlist=parse_allowlist(["127.0.0.0/8"]),
    )
    return S3Upstream(settings, session=session)


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[AioSession]:
    """Every session a client is created from, in order."""
    seen: list[AioSession] = []
    create = AioSession.create_client

    def spy(self: AioSession, *args: Any, **kwargs: Any) -> Any:
        seen.append(self)
        return create(self, *args, **kwargs)

    monkeypatch.setattr(AioSession, "create_client", spy)
    return seen


async def test_upstreams_without_a_session_share_the_process_one(
    sessions: list[AioSession],
) -> None:
    ups = [_upstream(n) for n in ("a", "b", "c")]
    try:
        for up in ups:
            await up.start()
        assert len(sessions) == 3 and sessions[0] is sessions[1] is sessions[2]
        # Sharing the session shares no credentials: each client signs with its own key.
        keys = [(await up._s3())._request_signer._credentials.access_key for up in ups]
        assert keys == ["AK-a", "AK-b", "AK-c"]
    finally:
        for up in ups:
            await up.close()


async def test_a_given_session_is_used(sessions: list[AioSession]) -> None:
    own = AioSession()
    up = _upstream("d", own)
    try:
        await up.start()
        assert sessions == [own]
    finally:
        await up.close()
