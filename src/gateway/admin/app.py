"""The `/admin/v1` routes on the node's listener, registered before the S3 catch-all.

Each path gets its endpoints plus a catch-all answering 405 with `Allow`; anything else under
`/admin/...` is a JSON 404; bare `/admin` is left to S3, which refuses `admin` as a reserved
PBucket name.
A virtual-host S3 request (`bucket.<domain>/admin/v1/...`) is an object key, not an admin call:
it is handed to the S3 handler untouched. `GET /admin/v1/openapi.json` needs no credentials.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources

from aiohttp import web

from gateway.admin import (
    access_keys,
    bucket_policies,
    cache_admin,
    cache_jobs,
    cache_ttl,
    groups,
    lifecycle,
    lifecycle_jobs,
    pbuckets,
    policies,
    roles,
    router_jobs,
    users,
    vendors,
)
from gateway.admin.frame import Endpoint, error_response, log_line, new_request_id, run
from gateway.context import SERVICES
from gateway.s3app import handle as s3_handle

__all__ = ["ENDPOINTS", "OPENAPI_PATH", "add_admin_routes"]

ENDPOINTS: tuple[Endpoint, ...] = (
    *users.ENDPOINTS,
    *access_keys.ENDPOINTS,
    *policies.ENDPOINTS,
    *groups.ENDPOINTS,
    *roles.ENDPOINTS,
    *bucket_policies.ENDPOINTS,
    *lifecycle.ENDPOINTS,
    *lifecycle_jobs.ENDPOINTS,
    *vendors.ENDPOINTS,
    *pbuckets.ENDPOINTS,
    *router_jobs.ENDPOINTS,
    *cache_admin.ENDPOINTS,
    *cache_jobs.ENDPOINTS,
    *cache_ttl.ENDPOINTS,
)
OPENAPI_PATH = "/admin/v1/openapi.json"
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _virtual_host(request: web.Request) -> bool:
    domain = request.app[SERVICES].settings.domain
    host = (request.host or "").rsplit(":", 1)[0].lower()
    return bool(domain) and host.endswith("." + str(domain))


def _admin(serve: RouteHandler) -> RouteHandler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if _virtual_host(request):
            return await s3_handle(request)
        return await serve(request)

    return handler


def _endpoint(endpoint: Endpoint) -> RouteHandler:
    async def serve(request: web.Request) -> web.StreamResponse:
        return await run(endpoint, request)

    return _admin(serve)


def _refusal(code: str, status: int, message: str, allow: str | None = None) -> RouteHandler:
    async def serve(request: web.Request) -> web.StreamResponse:
        started, request_id = time.perf_counter(), new_request_id()
        headers = {"Allow": allow} if allow else None
        response = error_response(code, status, message, request_id, headers=headers)
        if request.body_exists and not request.content.at_eof():
            response.force_close()
        log_line(request, request_id, "admin:-", "-", response, started)
        return response

    return _admin(serve)


@cache
def openapi_text() -> str:
    return resources.files("gateway.admin").joinpath("openapi.json").read_text("utf-8")


async def _openapi(request: web.Request) -> web.StreamResponse:
    started, request_id = time.perf_counter(), new_request_id()
    response = web.Response(
        text=openapi_text(),
        content_type="application/json",
        headers={"x-amz-request-id": request_id, "Server": "PCache", "Cache-Control": "no-cache"},
    )
    log_line(request, request_id, "admin:GetOpenApi", "-", response, started)
    return response


async def _defer_continue(request: web.Request) -> None:
    """Never `100 Continue` up front: the frame sends it once the caller is authenticated."""
    return None


def add_admin_routes(app: web.Application) -> None:
    """Register every admin route; call before `add_s3_routes` (its catch-all comes last)."""
    app.router.add_route("GET", OPENAPI_PATH, _admin(_openapi))
    by_path: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, []).append(endpoint)
    for path, endpoints in by_path.items():
        resource = app.router.add_resource(path)
        for endpoint in endpoints:
            resource.add_route(endpoint.method, _endpoint(endpoint), expect_handler=_defer_continue)
        allow = ", ".join(e.method for e in endpoints)
        message = f"{path} allows {allow}."
        resource.add_route(
            "*",
            _refusal("MethodNotAllowed", 405, message, allow),
            expect_handler=_defer_continue,
        )
    app.router.add_route(
        "*",
        # `/admin` itself stays S3's: CreateBucket("admin") must get InvalidBucketName.
        r"/admin{tail:/.*}",
        _refusal("NotFound", 404, "No admin endpoint has this path; see /admin/v1/openapi.json."),
        expect_handler=_defer_continue,
    )
