"""STS on the S3 listener: `POST /` with a form body carrying `Action` (AWS query protocol,
Version 2011-06-15) answers AssumeRole, GetSessionToken and GetCallerIdentity in AWS STS XML.

Everything else that reaches `POST /` (a query string, another content type, a virtual-host
bucket, a form without Action) is handed to the S3 entry point unchanged.

SigV4 for STS signs the body's SHA-256 without sending it in x-amz-content-sha256 (botocore's
plain SigV4Auth). `auth.sigv4.verify` reads the payload hash from that header only, so the
request is verified as a clone that carries the SHA-256 this module computed over the body it
read: the canonical request's HashedPayload line is then exactly the body's hash. A header the
client did send is kept (and signed as it was) and must equal that hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

from auth.iam_identity import Identity
from auth.iam_store import IamUnavailable
from auth.policy_eval import Decision
from auth.sigv4 import PayloadMode
from auth.sts import (
    EXPIRED_GRACE_SECONDS,
    Issued,
    StsError,
    assume_role_decision,
    assume_role_duration,
    issue,
    may_call_assume_role,
    may_call_get_session_token,
    not_authorized,
    parse_role_arn,
    role_for,
    session_policy,
    session_token_duration,
    validate_external_id,
    validate_session_name,
)
from gateway import access_log
from gateway.authn import authenticate
from gateway.authz import source_ip
from gateway.body import send_continue
from gateway.boundary import to_s3_error
from gateway.context import SERVICES, Services
from gateway.dispatch import split_target
from gateway.errors import S3Error
from gateway.s3app import handle as s3_handle
from gateway.s3xml import Doc

__all__ = ["MAX_BODY", "STS_NS", "STS_VERSION", "add_sts_routes"]

log = logging.getLogger("pcache.sts")

STS_NS: Final = "https://sts.amazonaws.com/doc/2011-06-15/"
STS_VERSION: Final = "2011-06-15"
MAX_BODY: Final = 16 * 1024
MAX_FIELDS: Final = 64
FORM_TYPE: Final = "application/x-www-form-urlencoded"
XML_TYPE: Final = "text/xml"
X_AMZ_CONTENT_SHA256: Final = "x-amz-content-sha256"

# S3 codes from `authenticate` that STS spells differently (AWS STS's own codes and statuses).
_FROM_S3: Final[Mapping[str, str]] = {
    "InvalidAccessKeyId": "InvalidClientTokenId",
    "InvalidTokenId": "InvalidClientTokenId",
    "InvalidToken": "InvalidClientTokenId",
    "ExpiredToken": "ExpiredToken",
    "SignatureDoesNotMatch": "SignatureDoesNotMatch",
    "RequestTimeTooSkewed": "SignatureDoesNotMatch",
    "AuthorizationHeaderMalformed": "IncompleteSignature",
    "AuthorizationQueryParametersError": "IncompleteSignature",
    "InvalidArgument": "IncompleteSignature",
    "InvalidRequest": "IncompleteSignature",
    "AccessDenied": "AccessDenied",
    "ServiceUnavailable": "ServiceUnavailable",
}
# AWS STS's wording, by the S3 code it replaces.
_MESSAGES: Final[Mapping[str, str]] = {
    "InvalidAccessKeyId": "The security token included in the request is invalid.",
    "InvalidTokenId": "The security token included in the request is invalid.",
    "InvalidToken": "The security token included in the request is invalid.",
    "ExpiredToken": "The security token included in the request is expired",
    "SignatureDoesNotMatch": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    ),
    "RequestTimeTooSkewed": "Signature expired: the request time is too far from the server's.",
}

Params = dict[str, str]
Action = Callable[[web.Request, Services, Identity, Params, Doc], Awaitable[None]]


# --- parsing the request -------------------------------------------------------------------------


def _is_sts_shaped(request: web.Request, services: Services) -> bool:
    """A form POST to the service root: S3 has no such request, STS's query protocol is one."""
    path, _, query = request.raw_path.partition("?")
    if path != "/" or query:
        return False
    if request.content_type != FORM_TYPE:
        return False
    bucket, _ = split_target(request.host, path, services.settings.domain)
    return bucket is None


async def _read_body(request: web.Request, services: Services) -> bytes:
    """The whole body, at most MAX_BODY bytes, each read bounded by the body timeout."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY:
        raise StsError("ValidationError", f"The request body is larger than {MAX_BODY} bytes.")
    body = bytearray()
    while True:
        try:
            async with asyncio.timeout(services.settings.body_read_timeout):
                chunk = await request.content.read(MAX_BODY + 1 - len(body))
        except TimeoutError:
            raise StsError("RequestTimeout", "The request body was not received in time.") from None
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > MAX_BODY:
            raise StsError("ValidationError", f"The request body is larger than {MAX_BODY} bytes.")


def parse_form(body: bytes) -> Params:
    """The form's parameters; a repeated or undecodable one is a ValidationError."""
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # non-ASCII body, bad UTF-8 escapes, too many fields
        raise StsError("ValidationError", "The request body is not a valid form.") from None
    params: Params = {}
    for name, value in pairs:
        if name in params:
            raise StsError("ValidationError", f"Parameter {name[:64]} appears more than once.")
        params[name] = value
    return params


def _check_params(params: Params, allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed and name not in ("Action", "Version"):
            raise StsError(
                "InvalidParameterValue", f"The parameter {name[:64]} is not supported by PCache."
            )


# --- authentication ------------------------------------------------------------------------------


def _from_s3(err: S3Error) -> StsError:
    code = _FROM_S3.get(err.code)
    if code is None:
        return StsError("InternalFailure", "An internal error occurred.")
    return StsError(code, _MESSAGES.get(err.code, err.message))


async def _authenticate(
    request: web.Request, services: Services, raw_path: str, body: bytes
) -> Identity:
    body_sha256 = hashlib.sha256(body).hexdigest()
    headers = CIMultiDict(request.headers)
    sent = headers.get(X_AMZ_CONTENT_SHA256)
    if sent is None:
        headers[X_AMZ_CONTENT_SHA256] = body_sha256
    try:
        signed = request.clone(headers=headers)
    except UnicodeEncodeError:  # a header that was not UTF-8 on the wire cannot be re-encoded
        raise StsError("IncompleteSignature", "The request headers are not valid UTF-8.") from None
    try:
        identity, verified = await authenticate(signed, services, raw_path, "", service="sts")
    except Exception as exc:
        err = to_s3_error(exc)
        if err is None:
            raise
        raise _from_s3(err) from None
    if identity is None or verified is None:
        raise StsError("MissingAuthenticationToken", "Request is missing Authentication Token")
    if verified.payload is not PayloadMode.SIGNED_SHA256 or verified.payload_sha256 != body_sha256:
        raise StsError("IncompleteSignature", "The request signature must cover the request body.")
    return identity


def _condition_keys(request: web.Request, services: Services) -> dict[str, tuple[str, ...]]:
    """The request's global condition keys, read as gateway.authz reads them for S3."""
    settings = services.settings
    now = datetime.now(UTC)
    secure = request.secure or (
        settings.trust_forwarded_proto
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )
    peer = source_ip(
        request.remote or "", request.headers.get("X-Forwarded-For"), settings.trusted_proxies
    )
    return {
        "aws:sourceip": (peer,),
        "aws:securetransport": ("true" if secure else "false",),
        "aws:currenttime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(now.timestamp())),),
    }


# --- actions -------------------------------------------------------------------------------------


def _credentials(doc: Doc, issued: Issued) -> None:
    session = issued.session
    doc.open("Credentials")
    doc.leaf("AccessKeyId", session.access_key)
    doc.leaf("SecretAccessKey", issued.secret)
    doc.leaf("SessionToken", issued.token)
    doc.leaf("Expiration", session.expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    doc.close()


async def _store(services: Services, issued: Issued, duration: int) -> None:
    try:
        await services.iam.store.put_session(
            issued.session, issued.secret, duration + EXPIRED_GRACE_SECONDS
        )
    except IamUnavailable:
        raise StsError("ServiceUnavailable", "Credentials cannot be issued right now.") from None


async def assume_role(
    request: web.Request, services: Services, caller: Identity, params: Params, doc: Doc
) -> None:
    _check_params(
        params,
        frozenset({"RoleArn", "RoleSessionName", "DurationSeconds", "Policy", "ExternalId"}),
    )
    ref = parse_role_arn(params.get("RoleArn"))
    session_name = validate_session_name(params.get("RoleSessionName"))
    external_id = validate_external_id(params.get("ExternalId"))
    policy = session_policy(params.get("Policy"))
    may_call_assume_role(caller)
    account = services.settings.account_id
    try:
        role = role_for(ref, account, services.iam.current().roles)
    except IamUnavailable:
        raise StsError("ServiceUnavailable", "Roles cannot be read right now.") from None
    if role is None:
        raise not_authorized(caller.arn, ref.arn)
    keys = _condition_keys(request, services)
    keys["sts:rolesessionname"] = (session_name,)
    if external_id is not None:
        keys["sts:externalid"] = (external_id,)
    if assume_role_decision(caller, role, ref.arn, account, keys) is not Decision.ALLOW:
        raise not_authorized(caller.arn, ref.arn)
    duration = assume_role_duration(
        params.get("DurationSeconds"),
        role_max=role.max_session_seconds,
        chained=caller.kind == "role-session",
    )
    issued = issue(
        kind="role",
        subject=role.name,
        duration=duration,
        now=datetime.now(UTC),
        session_name=session_name,
        policy=None if policy is None else policy.text,
    )
    await _store(services, issued, duration)
    doc.open("AssumeRoleResult")
    _credentials(doc, issued)
    doc.open("AssumedRoleUser")
    doc.leaf("AssumedRoleId", f"{role.role_id}:{session_name}")
    doc.leaf("Arn", f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}")
    doc.close()
    if policy is not None:
        doc.leaf("PackedPolicySize", policy.packed_percent)
    doc.close()


async def get_session_token(
    request: web.Request, services: Services, caller: Identity, params: Params, doc: Doc
) -> None:
    _check_params(params, frozenset({"DurationSeconds"}))
    may_call_get_session_token(caller)
    duration = session_token_duration(params.get("DurationSeconds"), root=caller.is_root)
    issued = issue(kind="user", subject=caller.name, duration=duration, now=datetime.now(UTC))
    await _store(services, issued, duration)
    doc.open("GetSessionTokenResult")
    _credentials(doc, issued)
    doc.close()


async def get_caller_identity(
    request: web.Request, services: Services, caller: Identity, params: Params, doc: Doc
) -> None:
    _check_params(params, frozenset())
    account = services.settings.account_id
    user_id = caller.keys.get("aws:userid", (account,))[0]
    doc.open("GetCallerIdentityResult")
    doc.leaf("Arn", caller.arn)
    doc.leaf("UserId", user_id)
    doc.leaf("Account", account)
    doc.close()


ACTIONS: Final[Mapping[str, Action]] = {
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
    "GetCallerIdentity": get_caller_identity,
}


# --- the handler ---------------------------------------------------------------------------------


def _headers(request_id: str) -> dict[str, str]:
    return {"x-amzn-RequestId": request_id, "Content-Type": XML_TYPE, "Server": "PCache"}


def error_body(err: StsError, request_id: str) -> bytes:
    doc = Doc("ErrorResponse", ns=STS_NS)
    doc.open("Error")
    doc.leaf("Type", "Receiver" if err.status >= 500 else "Sender")
    doc.leaf("Code", err.code)
    doc.leaf("Message", err.message)
    doc.close()
    doc.leaf("RequestId", request_id)
    return doc.render()


async def _serve(
    request: web.Request, services: Services, params: Params, body: bytes, request_id: str
) -> bytes:
    action = params["Action"]
    caller = await _authenticate(request, services, "/", body)
    version = params.get("Version")
    if version is None:
        raise StsError("MissingParameter", "The request must contain the parameter Version.")
    run = ACTIONS.get(action)
    if run is None or version != STS_VERSION:
        raise StsError(
            "InvalidAction",
            f"Could not find operation {action[:64]} for version {version[:32]}",
        )
    doc = Doc(f"{action}Response", ns=STS_NS)
    await run(request, services, caller, params, doc)
    doc.open("ResponseMetadata").leaf("RequestId", request_id).close()
    return doc.render()


async def handle(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    if not _is_sts_shaped(request, services):
        return await s3_handle(request)
    started = time.perf_counter()
    request_id = str(uuid.uuid4())
    op = "-"
    status = 200
    try:
        body = await _read_body(request, services)
        params = parse_form(body)
        if "Action" not in params:
            return await s3_handle(request)
        op = params["Action"] if params["Action"] in ACTIONS else "unknown"
        out = await _serve(request, services, params, body, request_id)
    except StsError as err:
        status, out = err.status, error_body(err, request_id)
    except Exception:
        log.exception("request_id=%s unhandled error", request_id)
        failure = StsError("InternalFailure", "An internal error occurred.")
        status, out = failure.status, error_body(failure, request_id)
    response = web.Response(status=status, body=out, headers=_headers(request_id))
    if not request.content.at_eof():
        response.force_close()  # an unread body must not become the next request
    _log_line(request, request_id, op, status, len(out), started)
    return response


def _log_line(
    request: web.Request, request_id: str, op: str, status: int, sent: int, started: float
) -> None:
    # The same line as s3app's; never a parameter value (a secret or token could be one).
    access_log.record(request_id, f"sts:{op}", "-", status, sent, "-", started, request.remote)


async def _expect(request: web.Request) -> None:
    """`100 Continue` only for an STS form of acceptable size: S3 requests keep deferring it
    until they are authenticated (gateway.body)."""
    services = request.app[SERVICES]
    if _is_sts_shaped(request, services) and (request.content_length or 0) <= MAX_BODY:
        await send_continue(request)


def add_sts_routes(app: web.Application) -> None:
    """`POST /`: register before the S3 catch-all."""
    app.router.add_post("/", handle, expect_handler=_expect)
