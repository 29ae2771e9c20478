"""The admin request frame: every `/admin/v1` call passes through `run` exactly once.

    path names valid? → SigV4 (gateway.authn, the S3 listener's own check) → 100 Continue →
    body (64 KiB cap, hash = x-amz-content-sha256) → JSON → resource ARN → admin:<Action>
    allowed and no guard objects → handler → JSON reply; one access-log line either way.

Handlers get an `AdminCall` and return a `Reply`; they never authenticate, authorise or render.
Errors, whatever raised them, leave as `{"code", "message", "request_id"[, "field"]}`:

    AdminError / IamError          their own code and status (ValidationError 400 with `field`,
                                   NoSuchEntity 404, EntityAlreadyExists / DeleteConflict 409)
    PolicyError                    400 MalformedPolicyDocument / MalformedPolicy / PolicyTooLarge
    S3Error / AuthError            SigV4 failures with their S3 code (403 SignatureDoesNotMatch,
                                   InvalidAccessKeyId, RequestTimeTooSkewed ...)
    IamUnavailable                 503 ServiceUnavailable (fail closed)
    anything else                  500 InternalError, logged with its traceback
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

from auth.iam_identity import Identity, authorize
from auth.iam_store import IamError, IamStore, IamUnavailable, Snapshot
from auth.policy_errors import PolicyError
from auth.policy_eval import Decision
from auth.sigv4 import PayloadMode, Verified
from gateway import access_log
from gateway.admin.access import Guard, Resource, Scope
from gateway.admin.fields import AdminError, parse_object, valid_name, validation_error
from gateway.authn import authenticate
from gateway.authz import source_ip
from gateway.body import send_continue
from gateway.boundary import to_s3_error
from gateway.context import SERVICES, Services
from gateway.dispatch import validate_bucket_name
from gateway.errors import S3Error

__all__ = [
    "MAX_BODY",
    "AdminCall",
    "Endpoint",
    "Reply",
    "error_response",
    "log_line",
    "new_request_id",
    "run",
]

log = logging.getLogger("pcache.admin")

MAX_BODY = 64 * 1024
JSON_TYPE = "application/json"
BodyKind = Literal["none", "object", "raw"]
#: path parameters that must be IAM names (checked before anything else: never an ARN pattern)
_IAM_NAMES = {"name": "name", "user": "user name", "policy": "policy name"}


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler returns: a JSON value (`body`), JSON text as stored (`text`), or neither
    (204-style replies)."""

    status: int = 200
    body: object = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class AdminCall:
    request: web.Request
    request_id: str
    services: Services
    identity: Identity
    params: Mapping[str, str]
    data: Mapping[str, Any]
    raw_body: bytes = field(repr=False)

    @property
    def store(self) -> IamStore:
        return self.services.iam.store

    @property
    def account_id(self) -> str:
        return self.services.settings.account_id

    def snapshot(self) -> Snapshot:
        return self.services.iam.current()

    async def committed(self) -> Snapshot:
        """After a successful change: reload this node's view so its next read sees the write.
        The change is stored either way; a failed reload is left to the background refresher."""
        try:
            return await self.services.iam.refresh()
        except IamUnavailable as err:
            log.warning("admin: change stored but the IAM view did not reload: %s", err)
            return self.services.iam.current()


Handler = Callable[[AdminCall], Awaitable[Reply]]
#: For a resource named only by an id (a warm-up job): looks up, after authentication and before
#: authorisation, what `resource` needs, as extra path parameters (request, path params, body).
Locate = Callable[[web.Request, Mapping[str, str], Mapping[str, Any]], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route: `action` is the admin API action (`CreateUser` → `admin:CreateUser`)."""

    method: str
    path: str
    action: str
    handler: Handler
    resource: Resource
    guard: Guard | None = None
    body: BodyKind = "none"
    locate: Locate | None = None

    @property
    def iam_action(self) -> str:
        return f"admin:{self.action}"


def new_request_id() -> str:
    return uuid.uuid4().hex[:16].upper()


def _base_headers(request_id: str) -> dict[str, str]:
    # no-store: one reply (a new key) carries a secret, and none of them belongs in a cache.
    return {
        "x-amz-request-id": request_id,
        "Server": "PCache",
        "Cache-Control": "no-store",
    }


def _json_response(status: int, payload: str | None, request_id: str) -> web.Response:
    headers = _base_headers(request_id)
    if payload is None:
        return web.Response(status=status, headers=headers)
    headers["Content-Type"] = JSON_TYPE
    return web.Response(status=status, text=payload, headers=headers)


def error_response(
    code: str,
    status: int,
    message: str,
    request_id: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    doc: dict[str, str] = {"code": code, "message": message, "request_id": request_id}
    if field is not None:
        doc["field"] = field
    response = _json_response(status, json.dumps(doc, ensure_ascii=False), request_id)
    response.headers.update(headers or {})
    return response


def _render(reply: Reply, request_id: str) -> web.Response:
    if reply.text is not None:
        return _json_response(reply.status, reply.text, request_id)
    if reply.body is None:
        return _json_response(reply.status, None, request_id)
    return _json_response(reply.status, json.dumps(reply.body, ensure_ascii=False), request_id)


def _error_for(exc: Exception, request_id: str) -> web.Response:
    if isinstance(exc, AdminError | IamError):
        return error_response(exc.code, exc.status, exc.message, request_id, field=exc.field)
    if isinstance(exc, PolicyError):
        return error_response(exc.code, 400, exc.message, request_id)
    if isinstance(exc, IamUnavailable):
        return error_response(
            "ServiceUnavailable", 503, "IAM cannot be read right now; retry later.", request_id
        )
    err = to_s3_error(exc)
    if err is None:
        log.exception("request_id=%s unhandled admin error", request_id)
        err = S3Error("InternalError")
    return error_response(err.code, err.status, err.message, request_id)


# --- the steps -----------------------------------------------------------------------------------


def _check_path(params: Mapping[str, str], endpoint: Endpoint) -> None:
    for name, value in params.items():
        if name in _IAM_NAMES:
            what = _IAM_NAMES[name]
            if name == "name" and endpoint.path.startswith("/admin/v1/pbuckets/"):
                try:
                    validate_bucket_name(value)
                except S3Error as err:
                    raise validation_error(name, err.message) from None
            else:
                valid_name(value, name, what)
        elif name == "access_key" and not (0 < len(value) <= 128 and value.isalnum()):
            raise validation_error(name, "access_key must be 1 to 128 letters and digits")


def _too_large() -> AdminError:
    return AdminError("EntityTooLarge", 413, f"The body is larger than {MAX_BODY} bytes.")


async def _read_body(request: web.Request) -> bytes:
    """At most MAX_BODY bytes (the caller bounds the time): a larger body is refused whole."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while not request.content.at_eof():
        chunk = await request.content.read(MAX_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
    return b"".join(chunks)


def _check_payload(verified: Verified, body: bytes) -> None:
    """The body must be the one the signature covers: a signed SHA-256, or no body at all."""
    if verified.payload is PayloadMode.SIGNED_SHA256:
        if hashlib.sha256(body).hexdigest() != verified.payload_sha256:
            raise AdminError(
                "XAmzContentSHA256Mismatch",
                400,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        return
    if verified.payload is PayloadMode.UNSIGNED and not body:
        return
    raise AdminError(
        "InvalidRequest",
        400,
        "The admin API needs a signed payload: x-amz-content-sha256 = hex SHA-256 of the body.",
    )


def _data(endpoint: Endpoint, body: bytes) -> Mapping[str, Any]:
    if endpoint.body == "object":
        return parse_object(body)
    if endpoint.body == "none" and body.strip():
        raise validation_error("body", f"{endpoint.iam_action} takes no request body")
    return {}


def _condition_keys(request: web.Request, services: Services) -> dict[str, tuple[str, ...]]:
    settings = services.settings
    secure = request.secure or (
        settings.trust_forwarded_proto
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )
    return {
        "aws:sourceip": (
            source_ip(
                request.remote or "",
                request.headers.get("X-Forwarded-For"),
                settings.trusted_proxies,
            ),
        ),
        "aws:securetransport": ("true" if secure else "false",),
        "aws:currenttime": (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(time.time())),),
    }


def _authorize(endpoint: Endpoint, scope: Scope, keys: Mapping[str, tuple[str, ...]]) -> None:
    identity = scope.identity
    if identity.is_root:
        return
    resource = endpoint.resource(scope)
    if authorize(identity, endpoint.iam_action, resource, keys) is not Decision.ALLOW:
        raise AdminError(
            "AccessDenied",
            403,
            f"{identity.arn} is not authorized to perform {endpoint.iam_action} on this resource.",
        )
    reason = endpoint.guard(scope) if endpoint.guard is not None else None
    if reason is not None:
        raise AdminError("AccessDenied", 403, reason)


async def _prepare(endpoint: Endpoint, request: web.Request, request_id: str) -> AdminCall:
    services = request.app[SERVICES]
    params = dict(request.match_info)
    _check_path(params, endpoint)
    raw_path, _, raw_query = request.raw_path.partition("?")
    identity, verified = await authenticate(request, services, raw_path, raw_query)
    if identity is None or verified is None:
        raise AdminError(
            "MissingAuthenticationToken",
            401,
            "The admin API needs a SigV4 Authorization header (service s3).",
        )
    if "Authorization" not in request.headers:
        # A presigned admin URL would be a bearer token anyone who sees the URL could replay.
        raise AdminError("AccessDenied", 403, "The admin API does not accept presigned URLs.")
    await send_continue(request)  # only once the caller is known
    try:
        async with asyncio.timeout(services.settings.body_read_timeout):
            body = await _read_body(request)
    except TimeoutError:
        raise AdminError("RequestTimeout", 400, "The request body was not sent in time.") from None
    _check_payload(verified, body)
    data = _data(endpoint, body)
    if endpoint.locate is not None:
        params = {**params, **await endpoint.locate(request, params, data)}
    scope = Scope(services.settings.account_id, params, data, identity, services.iam.current())
    _authorize(endpoint, scope, _condition_keys(request, services))
    return AdminCall(request, request_id, services, identity, params, data, body)


async def run(endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
    """Serve one admin call (see the module docstring for the steps)."""
    started = time.perf_counter()
    request_id = new_request_id()
    try:
        call = await _prepare(endpoint, request, request_id)
        response = _render(await endpoint.handler(call), request_id)
    except Exception as exc:
        response = _error_for(exc, request_id)
        if response.status == 401:
            response.headers["WWW-Authenticate"] = "AWS4-HMAC-SHA256"
        if request.body_exists and not request.content.at_eof():
            # An unread body would be parsed as the next request on this connection.
            response.force_close()
    pbucket = request.match_info.get("name", "-") if "/pbuckets/" in endpoint.path else "-"
    log_line(request, request_id, endpoint.iam_action, pbucket, response, started)
    return response


def log_line(
    request: web.Request,
    request_id: str,
    op: str,
    pbucket: str,
    response: web.Response,
    started: float,
) -> None:
    """The access-log line of gateway.s3app, with op=admin:<Action> (never a body: secrets)."""
    access_log.record(
        request_id,
        op,
        pbucket,
        response.status,
        len(response.body) if isinstance(response.body, bytes) else 0,
        "-",
        started,
        request.remote,
    )
