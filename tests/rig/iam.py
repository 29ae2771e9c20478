"""Drive IAM straight through `auth.iam_store` from a synchronous test, as the admin API would.

The store is async; this wraps it in a private event loop so boto3-driven tests stay plain
functions. It talks to the same Redis and master key as the gateway under test.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import boto3
import redis.asyncio
from botocore.config import Config
from botocore.exceptions import ClientError

from auth.iam_store import IamStore
from auth.secrets import SecretBox

__all__ = ["TEST_MASTER_KEY_HEX", "IamRig"]

TEST_MASTER_KEY_HEX = "5a" * 32
T = TypeVar("T")


class IamRig:
    def __init__(self, redis_url: str, endpoint: str, master_key_hex: str = TEST_MASTER_KEY_HEX):
        self._runner = asyncio.Runner()
        self._redis = redis.asyncio.Redis.from_url(redis_url)
        self.store = IamStore(self._redis, SecretBox(bytes.fromhex(master_key_hex)))
        self.endpoint = endpoint

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self.run(self._redis.aclose())
        self._runner.close()

    def user(self, *policies: dict[str, Any], prefix: str = "u") -> tuple[str, str, str]:
        """A new user with these inline-authored managed policies attached: (name, ak, sk)."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.run(self.store.create_user(name))
        for i, doc in enumerate(policies):
            pname = f"{name}-p{i}"
            self.run(self.store.put_policy(pname, json.dumps(doc)))
            self.run(self.store.attach_user_policy(name, pname))
        key, secret = self.run(self.store.create_access_key(name))
        return name, key.access_key, secret

    def client(
        self, access_key: str, secret: str, *, endpoint: str | None = None, **kw: Any
    ) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
            **kw,
        )


def until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> float:
    """Poll `condition` (a real observation, not a timer) until true; returns seconds taken.
    `what` names it in the failure ("timed out after 5 s waiting for <what>")."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)  # poll interval; the loop ends at the deadline
    return time.monotonic() - start


def error_code(call: Callable[[], object]) -> str | None:
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return None
