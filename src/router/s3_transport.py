"""The HTTP transport under aiobotocore, hardened for endpoints an admin typed in.

Three holes in the defaults:

* aiobotocore's `AIOHTTPSession.send` calls `aiohttp.ClientSession.request` without
  `allow_redirects`, and aiohttp follows redirects by default, so a vendor (or whatever answers
  at its address) could bounce a signed GET to 169.254.169.254 or the gateway's Redis.
  `NoRedirectSession` makes every request `allow_redirects=False`: a 3xx comes back to botocore
  as an S3 error (PermanentRedirect, TemporaryRedirect ...), never followed.
* botocore's S3 region redirector reacts to a 3xx (or a wrong-region 400) by asking the vendor
  for the bucket's region with a HeadBucket and re-sending; against a vendor that answers every
  request with a bare 307 that recursed until RecursionError, ~300 requests for one GET
  (measured). The vendor's region is configured, so `disable_region_redirects` turns it off.
* the endpoint was checked when the vendor was configured, but DNS can change afterwards
  (rebinding). `GuardedResolver` re-checks every resolution the connector makes, before it
  connects, with the same rules (`router.endpoint_guard`).

`NoRedirectSession` overrides aiobotocore's private `_get_session`; an integration test against a
redirecting server fails if a new aiobotocore version stops calling it.
"""

from __future__ import annotations

import socket
from typing import Any

from aiobotocore.httpsession import AIOHTTPSession
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from router.endpoint_guard import Allowlist, EndpointRefused, check_addresses

__all__ = ["GuardedResolver", "NoRedirectSession", "disable_region_redirects"]


class _NoRedirects:
    """The aiohttp ClientSession seen through `request(..., allow_redirects=False)`."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["allow_redirects"] = False
        return self._session.request(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class NoRedirectSession(AIOHTTPSession):
    async def _get_session(self, proxy_url: Any) -> Any:
        session = await super()._get_session(proxy_url)  # type: ignore[misc]  # private API
        return _NoRedirects(session)


def disable_region_redirects(context: dict[str, Any], **_: Any) -> None:
    """A `before-parameter-build.s3` handler registered after the redirector's own: it marks
    every request as already redirected, which is how the redirector knows to stay out."""
    redirect = context.get("s3_redirect")
    if isinstance(redirect, dict):
        redirect["redirected"] = True


class GuardedResolver(AbstractResolver):
    """aiohttp's default resolver, refusing hosts that (now) resolve somewhere forbidden."""

    def __init__(self, allow: Allowlist, inner: AbstractResolver | None = None) -> None:
        self._allow = allow
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        try:
            check_addresses(host, port, [r["host"] for r in results], self._allow)
        except EndpointRefused as exc:
            # An OSError: aiohttp reports it as a connection (DNS) error, the router as
            # VendorUnavailable; nothing was sent.
            raise OSError(f"vendor endpoint refused at connect time: {exc}") from None
        return results

    async def close(self) -> None:
        await self._inner.close()
