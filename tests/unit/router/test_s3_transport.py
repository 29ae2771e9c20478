"""The connect-time half of the SSRF guard: every DNS answer the vendor's HTTP client gets is
checked again before it connects (a name that rebinds to a private address is refused)."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from router.endpoint_guard import Allowlist, parse_allowlist
from router.s3_transport import GuardedResolver


class Rebinding(AbstractResolver):
    """Answers with whatever address the test set last."""

    address = "52.216.0.1"

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host=self.address, port=port, family=family, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


async def test_a_name_that_rebinds_to_a_private_address_is_refused_at_connect_time() -> None:
    dns = Rebinding()
    guard = GuardedResolver(Allowlist(), dns)
    assert [r["host"] for r in await guard.resolve("s3.example.com", 443)] == ["52.216.0.1"]
    for private in ("127.0.0.1", "169.254.169.254", "10.0.0.7"):
        dns.address = private
        with pytest.raises(OSError, match="refused at connect time"):
            await guard.resolve("s3.example.com", 443)


async def test_allowlisted_addresses_and_endpoints_pass() -> None:
    dns = Rebinding()
    dns.address = "10.0.0.7"
    assert await GuardedResolver(parse_allowlist(["10.0.0.0/8"]), dns).resolve("nas", 80)
    assert await GuardedResolver(parse_allowlist(["nas:80"]), dns).resolve("nas", 80)
    with pytest.raises(OSError):
        await GuardedResolver(parse_allowlist(["nas:80"]), dns).resolve("nas", 81)


async def test_the_real_resolver_refuses_localhost() -> None:
    with pytest.raises(OSError):
        await GuardedResolver(Allowlist()).resolve("localhost", 80)
