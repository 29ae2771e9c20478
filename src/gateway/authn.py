"""Authenticate every S3 request once (SigV4 via `auth`), then authorise it once.

Handlers never call into auth. Until IAM lands, every valid key may do everything and anonymous
requests are refused; the operation table already names the IAM action each request needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from auth.sigv4 import RequestView, Verified, parse_auth, verify
from gateway.context import Principal, Services
from gateway.dispatch import Target
from gateway.errors import S3Error

__all__ = ["authenticate", "authorize"]


async def authenticate(
    request: web.Request, services: Services, raw_path: str, raw_query: str
) -> tuple[Principal | None, Verified | None]:
    view = RequestView(
        method=request.method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=tuple(request.headers.items()),
    )
    params = parse_auth(view)
    if params is None:
        return None, None
    if params.security_token is not None:
        # Temporary credentials arrive with STS; a token on a long-term key is refused.
        raise S3Error("InvalidTokenId")
    secret = await services.keys.secret_for(params.access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", fields={"AWSAccessKeyId": params.access_key})
    verified = verify(
        view,
        params,
        secret,
        now=datetime.now(UTC),
        region=services.settings.region,
        max_skew=timedelta(seconds=services.settings.max_skew_seconds),
    )
    # Every key belongs to root until IAM users arrive.
    return Principal(access_key=params.access_key, user="root"), verified


def authorize(principal: Principal | None, target: Target) -> None:
    """Default deny: anonymous callers get AccessDenied before anything is looked up."""
    if principal is None:
        raise S3Error("AccessDenied")
