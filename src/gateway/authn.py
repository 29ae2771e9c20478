"""Authenticate every request once: SigV4 (via `auth`), then the key's Identity from IAM.

Handlers never call into auth. Unknown, disabled, expired or deleted keys are
InvalidAccessKeyId; session tokens are checked here too (InvalidToken / ExpiredToken). When the
IAM snapshot is too old to trust (Redis gone for longer than allowed) the answer is 503: never a
request let through on stale rights.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from auth.iam_identity import Identity, identity_for
from auth.iam_store import IamUnavailable
from auth.iam_view import Credential
from auth.sigv4 import RequestView, Verified, parse_auth, verify
from gateway.context import Services
from gateway.errors import S3Error

__all__ = ["authenticate"]


async def authenticate(
    request: web.Request,
    services: Services,
    raw_path: str,
    raw_query: str,
    *,
    service: str = "s3",
) -> tuple[Identity | None, Verified | None]:
    view = RequestView(
        method=request.method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=tuple(request.headers.items()),
    )
    params = parse_auth(view)
    if params is None:
        return None, None
    now = datetime.now(UTC)
    try:
        found = await services.iam.credential(params.access_key, params.security_token, now)
        snap = services.iam.current()
    except IamUnavailable:
        raise S3Error("ServiceUnavailable", "Credentials cannot be checked right now.") from None
    if not isinstance(found, Credential):
        fields = {"AWSAccessKeyId": params.access_key} if found == "InvalidAccessKeyId" else {}
        raise S3Error(found, fields=fields)
    verified = verify(
        view,
        params,
        found.secret,
        now=now,
        region=services.settings.region,
        service=service,
        max_skew=timedelta(seconds=services.settings.max_skew_seconds),
    )
    try:
        identity = identity_for(snap, found, services.settings.account_id)
    except KeyError:  # the user or role vanished between the two reads
        raise S3Error("InvalidAccessKeyId", fields={"AWSAccessKeyId": params.access_key}) from None
    return identity, verified
