"""The node's IAM view against a real Redis: changes arrive within a second, and a node that
cannot reach Redis serves its snapshot for `max_stale` seconds, then fails closed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio

from auth.iam_store import IamStore, IamUnavailable
from auth.iam_view import Credential, IamView
from auth.secrets import SecretBox
from tests.rig.redis import RedisServer

BOX = SecretBox(b"k" * 32)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_iam_view__changes_reach_a_node_within_a_second(redis_server: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_server)
    store = IamStore(client, BOX)
    view = IamView(IamStore(client, BOX), client, poll_interval=0.5)
    await view.start()
    try:
        await store.create_user("viewer-a")
        key, secret = await store.create_access_key("viewer-a")
        loop = asyncio.get_running_loop()
        started = loop.time()
        while key.access_key not in view.current().keys:
            assert loop.time() - started < 1.0, "IAM change not seen within 1 s"
            await asyncio.sleep(0.01)  # poll interval; the loop ends at the deadline
        found = await view.credential(key.access_key, None, datetime.now(UTC))
        assert isinstance(found, Credential) and found.secret == secret
        await store.set_key_status(key.access_key, "Inactive")
        started = loop.time()
        while isinstance(
            await view.credential(key.access_key, None, datetime.now(UTC)), Credential
        ):
            assert loop.time() - started < 1.0, "disabled key still honoured after 1 s"
            await asyncio.sleep(0.01)  # poll interval; the loop ends at the deadline
    finally:
        await view.stop()
        await client.aclose()


async def test_iam_view__expired_keys_are_refused(redis_server: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_server)
    store = IamStore(client, BOX)
    try:
        await store.create_user("viewer-b")
        soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        key, _ = await store.create_access_key("viewer-b", expires=soon)
        view = IamView(store, client)
        await view.refresh()
        assert isinstance(
            await view.credential(key.access_key, None, soon - timedelta(1)), Credential
        )
        assert await view.credential(key.access_key, None, soon) == "InvalidAccessKeyId"
    finally:
        await client.aclose()


async def test_iam_view__fails_closed_after_max_stale_without_redis() -> None:
    clock = FakeClock()
    with RedisServer() as server:
        client = redis.asyncio.Redis.from_url(server.url)
        store = IamStore(client, BOX)
        key, _ = await store.create_access_key("root", limit=None)
        view = IamView(store, client, max_stale=30.0, clock=clock)
        await view.refresh()
        server.stop()
        with pytest.raises(IamUnavailable):
            await view.refresh()
        clock.now += 29.0  # within the bound: the snapshot still answers
        assert key.access_key in view.current().keys
        clock.now += 2.0  # past it: fail closed, never open
        with pytest.raises(IamUnavailable):
            view.current()
        with pytest.raises(IamUnavailable):
            await view.credential(key.access_key, None, datetime.now(UTC))
        await client.aclose()


async def test_iam_view__a_secret_sealed_under_another_master_key_is_refused(
    redis_server: str,
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server)
    try:
        await IamStore(client, SecretBox(b"o" * 32)).create_user("viewer-c")
        key, _ = await IamStore(client, SecretBox(b"o" * 32)).create_access_key("viewer-c")
        view = IamView(IamStore(client, BOX), client)
        await view.refresh()
        # Not a 500 with a traceback: the key is simply unusable on this node (and logged).
        assert (
            await view.credential(key.access_key, None, datetime.now(UTC)) == "InvalidAccessKeyId"
        )
    finally:
        await client.aclose()
