"""Cache TTL per PBucket and key prefix (`/admin/v1/pbuckets/{name}/cache-ttl`), PCache's
extension beside the S3 lifecycle (model and store: `ttl.cache_ttl`). S3's lifecycle API never
shows it; the admin lifecycle view does, as `PCacheCacheTtl`.

    PUT {"rules": [{"prefix": "tmp/", "seconds": 3600}]}   -> 200, the document
    GET                                                    -> 200, or 404 NoSuchCacheTtl
    DELETE                                                 -> 204 (whether or not there was one)

A change applies on this node at once and on every other node within a second
(`gateway.cache_ttl_view`). Blocks cached longer than their TTL are not served: the next read
drops them and fetches the object again.
"""

from __future__ import annotations

from gateway.admin.access import pbucket
from gateway.admin.fields import AdminError, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from ttl.cache_ttl import CacheTtl, CacheTtlStore, parse_cache_ttl
from ttl.errors import LifecycleError

__all__ = ["ENDPOINTS", "cache_ttl_of"]


async def _existing(call: AdminCall) -> str:
    name = call.params["name"]
    if await call.services.router.get(name) is None:
        raise AdminError("NoSuchBucket", 404, f"The PBucket {name} does not exist.")
    return name


def _store(call: AdminCall) -> CacheTtlStore:
    return CacheTtlStore(call.services.router.redis)


def _applied(call: AdminCall, name: str, document: CacheTtl | None) -> None:
    cache = call.services.cache
    if cache is not None and cache.ttl is not None:
        cache.ttl.replaced(name, document)


async def cache_ttl_of(call: AdminCall, name: str) -> CacheTtl | None:
    return await _store(call).get(name)


async def get_cache_ttl(call: AdminCall) -> Reply:
    name = await _existing(call)
    document = await _store(call).get(name)
    if document is None:
        raise AdminError("NoSuchCacheTtl", 404, f"The PBucket {name} has no cache TTL.")
    return Reply(body=document.to_json())


async def put_cache_ttl(call: AdminCall) -> Reply:
    name = await _existing(call)
    try:
        document = parse_cache_ttl(dict(call.data))
    except LifecycleError as err:
        raise validation_error("rules", err.detail or err.code) from None
    await _store(call).put(name, document)
    _applied(call, name, document)
    return Reply(body=document.to_json())


async def delete_cache_ttl(call: AdminCall) -> Reply:
    name = await _existing(call)
    await _store(call).delete(name)
    _applied(call, name, None)
    return Reply(204)


_PATH = "/admin/v1/pbuckets/{name}/cache-ttl"
ENDPOINTS = (
    Endpoint("GET", _PATH, "GetCacheTtl", get_cache_ttl, pbucket),
    Endpoint("PUT", _PATH, "PutCacheTtl", put_cache_ttl, pbucket, body="object"),
    Endpoint("DELETE", _PATH, "DeleteCacheTtl", delete_cache_ttl, pbucket),
)
