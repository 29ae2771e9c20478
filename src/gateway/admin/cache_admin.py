"""The node's block cache in the admin API: `GET /admin/v1/cache` (status) and
`POST /admin/v1/cache/purge` (drop cached objects of one PBucket).

Purge takes `{"pbucket", "key"}`, `{"pbucket", "prefix"}` or `{"pbucket", "regex"}` (exactly one
of key / prefix / regex) and works from the object-metadata cache in Redis
(`pc:c:meta:<pbucket>\\0<key>`, see cache.meta): the entries are found with SCAN + MATCH on the
glob-escaped prefix (never KEYS), and for each cached object its block ids are computed from the
stored metadata (target, vendor bucket, vendor key, ETag, block index), every block is removed
from this node's tiers, then the metadata is invalidated (deleted in Redis, dropped by every node
through `pc:c:inval`). The reply counts the objects whose metadata was cached and the blocks this
node removed.

Other nodes: without metadata their blocks are unreachable at once (the next read asks the vendor
and a new ETag names new blocks); they are also told to delete them: the block ids go out on
`pc:c:purge` and each node's `follow_purges` task removes them from its tiers. A node that was
not subscribed at that moment keeps the bytes until they are evicted: unreachable, never served.
A read racing with a purge may cache an object again; purge is not a lock.

Regex purges: the pattern (at most 256 characters) is matched with `re.fullmatch` against each
key. Python's `re` backtracks and cannot be interrupted, so patterns that can backtrack
catastrophically are refused before any matching (400 ValidationError, field `regex`): a
quantifier applied to something that already contains a quantifier (`(a+)+`, `(a*b?)*`), an
alternation under a quantifier (`(a|ab)*`; single characters `(a|b)*` are a class and fine),
back-references and conditional groups, and more than three variable-length quantifiers in all
(`*`, `+`, `?`, `{m,n}`). What passes costs at most about n^3 steps for an n-character key (keys
are at most 1024 bytes). Matching also has a per-key time budget (`REGEX_KEY_BUDGET`): a key
over it stops the purge with a ValidationError before anything is deleted (every key is
matched before the first block is removed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from cache.blocks import BlockId, block_count
from cache.tier import TierStats
from gateway.admin.access import Scope, any_resource
from gateway.admin.fields import AdminError, validation_error
from gateway.admin.frame import AdminCall, Endpoint, Reply
from gateway.cache_read import CacheService, info_from_doc
from gateway.context import SERVICES
from gateway.dispatch import MAX_KEY_BYTES, validate_bucket_name
from gateway.errors import S3Error
from gateway.metrics import tier_names
from gateway.worker_link import LINK
from router.pbucket import BucketView

__all__ = [
    "ENDPOINTS",
    "MAX_REGEX",
    "PURGE_CHANNEL",
    "REGEX_KEY_BUDGET",
    "cache_status",
    "check_regex",
    "follow_purges",
    "forget_pbucket",
    "settle",
]

log = logging.getLogger("pcache.admin.cache")

MAX_REGEX = 256
MAX_VARIABLE_REPEATS = 3
#: seconds one `re.fullmatch` may take before the purge is refused
REGEX_KEY_BUDGET = 0.05
#: seconds status and purge wait for this node's in-flight tier writes
SETTLE_TIMEOUT = 5.0
PURGE_CHANNEL = "pc:c:purge"
#: where cache.meta keeps object metadata (its key layout: prefix + scope + NUL + key)
_META_PREFIX = "pc:c:meta:"
_SEP = "\0"
_MODES = ("key", "prefix", "regex")
_SCAN_COUNT = 1000
_IDS_PER_MESSAGE = 512
#: this process's name on the purge channel (it skips its own messages)
_ORIGIN = uuid.uuid4().hex


# --- status ----------------------------------------------------------------------------------


def _tier_json(name: str | None, stats: TierStats) -> dict[str, Any]:
    lookups = stats.hits + stats.misses
    doc: dict[str, Any] = {} if name is None else {"name": name}
    doc.update(
        directory=stats.directory,
        capacity=stats.capacity,
        used=stats.used,
        blocks=stats.blocks,
        hits=stats.hits,
        misses=stats.misses,
        hit_ratio=round(stats.hits / lookups, 4) if lookups else None,
        evictions=stats.evictions,
        promotions=stats.promotions,
        demotions=stats.demotions,
        checksum_failures=stats.checksum_failures,
        io_errors=stats.io_errors,
        expired=stats.expired,
        in_service=stats.in_service,
    )
    return doc


def _add_tier_stats(own: TierStats, others: Sequence[Mapping[str, Any]]) -> TierStats:
    """One tier over every worker of the host: the counts add up (each worker owns a share of
    the tier), and it is in service only if it is for all of them."""
    totals = dataclasses.asdict(own)
    for other in others:
        for name, value in totals.items():
            theirs = other.get(name)
            if name == "in_service":
                totals[name] = bool(value) and bool(theirs)
            elif isinstance(value, int) and isinstance(theirs, int):
                totals[name] = value + theirs
    return TierStats(**totals)


def cache_status(
    cache: CacheService | None,
    names: Sequence[str] = (),
    siblings: Sequence[Sequence[Mapping[str, Any]]] = (),
) -> dict[str, Any]:
    """The body of `GET /admin/v1/cache` for one node (`siblings`: the tier stats of the
    host's other workers, added in)."""
    if cache is None:
        return {
            "enabled": False,
            "block_size": None,
            "max_age": None,
            "tiers": [],
            "singleflight": {"runs": 0, "joins": 0},
        }
    stats = tuple(
        _add_tier_stats(own, [tiers[i] for tiers in siblings if i < len(tiers)])
        for i, own in enumerate(cache.store.stats())
    )
    return {
        "enabled": True,
        "block_size": cache.settings.block_size,
        "max_age": cache.settings.max_age,
        "tiers": [_tier_json(names[i] if i < len(names) else None, s) for i, s in enumerate(stats)],
        "singleflight": {"runs": cache.flights.runs, "joins": cache.flights.joins},
    }


async def settle(cache: CacheService) -> None:
    """Let the tier writes in flight now land (reads hand blocks to their clients first and
    write them beside the response): a few block writes, waited for `SETTLE_TIMEOUT` at most."""
    writes = list(cache.pending)
    if writes:
        await asyncio.wait(writes, timeout=SETTLE_TIMEOUT)


async def get_cache_status(call: AdminCall) -> Reply:
    cache = call.services.cache
    if cache is not None:
        await settle(cache)  # count the blocks of reads that already answered
    link = call.request.app.get(LINK)
    siblings = await link.sibling_cache_stats() if link is not None else []
    return Reply(body=cache_status(cache, tier_names(call.request.app), siblings))


# --- regex safety ----------------------------------------------------------------------------

_sre: Any = importlib.import_module("re._parser")  # the parser `re` itself uses (no public API)
_REPEATS = frozenset(
    getattr(_sre, name)
    for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    if hasattr(_sre, name)
)


def _unsafe(items: Iterable[tuple[Any, Any]], repeated: bool) -> tuple[str | None, int]:
    """(why the parsed pattern is refused or None, variable-length quantifiers in it)."""
    variable = 0
    for op, av in items:
        children: list[tuple[Any, bool]] = []
        if op in _REPEATS:
            low, high, body = av
            if repeated:
                return "a quantifier inside a repeated group can backtrack exponentially", 0
            variable += low != high
            children.append((body, high > 1))
        elif op is _sre.BRANCH:
            if repeated:
                return "an alternation under a quantifier can backtrack exponentially", 0
            children.extend((branch, repeated) for branch in av[1])
        elif op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            return "back-references and conditional groups are not allowed", 0
        elif op is _sre.SUBPATTERN:
            children.append((av[-1], repeated))
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            children.append((av[1], repeated))
        elif op is getattr(_sre, "ATOMIC_GROUP", None):
            children.append((av, repeated))
        for child, inner in children:
            reason, count = _unsafe(child, repeated or inner)
            if reason is not None:
                return reason, 0
            variable += count
    return None, variable


def check_regex(pattern: object, field: str = "regex") -> re.Pattern[str]:
    """A compiled purge pattern, or a ValidationError naming `field` (see the module doc)."""
    if not isinstance(pattern, str) or not pattern:
        raise validation_error(field, f"{field} must be a non-empty string")
    if len(pattern) > MAX_REGEX:
        raise validation_error(field, f"{field} must be at most {MAX_REGEX} characters")
    try:
        compiled = re.compile(pattern)
        parsed = _sre.parse(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        raise validation_error(field, f"{field} is not a valid regular expression: {err}") from None
    reason, variable = _unsafe(parsed, repeated=False)
    if reason is None and variable > MAX_VARIABLE_REPEATS:
        reason = f"at most {MAX_VARIABLE_REPEATS} variable-length quantifiers are allowed"
    if reason is not None:
        raise validation_error(field, f"{field} refused: {reason}")
    return compiled


# --- purge -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Selector:
    pbucket: str
    key: str | None = None
    prefix: str | None = None
    regex: re.Pattern[str] | None = None


def _pbucket_name(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise validation_error("pbucket", "pbucket is required")
    try:
        validate_bucket_name(value)
    except S3Error as err:
        raise validation_error("pbucket", err.message) from None
    return value


def purge_resource(scope: Scope) -> str:
    """`arn:aws:s3:::<pbucket>` of the body (validated before authorisation)."""
    return f"arn:aws:s3:::{_pbucket_name(scope.data.get('pbucket'))}"


def _selector(data: Mapping[str, Any]) -> _Selector:
    unknown = sorted(set(data) - {"pbucket", *_MODES})
    if unknown:
        raise validation_error(unknown[0], f"unknown field {unknown[0][:64]!r}")
    pbucket = _pbucket_name(data.get("pbucket"))
    given = [mode for mode in _MODES if data.get(mode) is not None]
    if len(given) != 1:
        raise validation_error(
            given[1] if given else "key", "give exactly one of key, prefix or regex"
        )
    mode = given[0]
    value = data[mode]
    if mode == "regex":
        return _Selector(pbucket, regex=check_regex(value))
    try:
        fits = isinstance(value, str) and len(value.encode("utf-8")) <= MAX_KEY_BYTES
    except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape
        fits = False
    if not fits:
        raise validation_error(mode, f"{mode} must be a string of at most {MAX_KEY_BYTES} bytes")
    if mode == "key":
        if not value:
            raise validation_error(mode, "key must not be empty")
        return _Selector(pbucket, key=value)
    return _Selector(pbucket, prefix=value)  # "" = every cached object of the PBucket


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _decode(raw: bytes | str) -> str | None:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def _candidates(redis: Redis, selector: _Selector) -> AsyncIterator[str]:
    """Object keys with cached metadata in the selector's PBucket (SCAN, never KEYS)."""
    scope = _META_PREFIX + selector.pbucket + _SEP
    if selector.key is not None:
        if await redis.exists(scope + selector.key):
            yield selector.key
        return
    match = _glob_escape(scope + (selector.prefix or "")) + "*"
    async for raw in redis.scan_iter(match=match, count=_SCAN_COUNT):
        name = _decode(raw)
        if name is not None and name.startswith(scope):
            yield name[len(scope) :]


def _matches(pattern: re.Pattern[str], key: str) -> bool:
    started = time.perf_counter()
    found = pattern.fullmatch(key) is not None
    if time.perf_counter() - started > REGEX_KEY_BUDGET:
        raise validation_error(
            "regex", "regex refused: matching one key took too long; use a simpler pattern"
        )
    return found


async def _block_ids(
    redis: Redis, cache: CacheService, view: BucketView, pbucket: str, key: str
) -> list[BlockId] | None:
    """The block ids of the cached version of `key`; None when there is no cached object (the
    entry is gone, negative, or unreadable: its metadata is dropped all the same)."""
    raw = await redis.get(_META_PREFIX + pbucket + _SEP + key)
    if raw is None:
        return None
    try:
        document = json.loads(raw)["d"]
        if document is None:
            return None
        info = info_from_doc(document)
        size = cache.policy(pbucket, key).block_size
        count = block_count(info.size, size)
    except (ValueError, KeyError, TypeError) as err:
        log.warning("cache purge: unreadable metadata entry dropped (%s)", err)
        return None
    return cache.block_ids(view, key, info.etag, range(count), size)


async def _announce(redis: Redis, ids: Sequence[BlockId]) -> None:
    for start in range(0, len(ids), _IDS_PER_MESSAGE):
        chunk = [bid.hex for bid in ids[start : start + _IDS_PER_MESSAGE]]
        message = json.dumps({"from": _ORIGIN, "blocks": chunk}, separators=(",", ":"))
        try:
            await redis.publish(PURGE_CHANNEL, message)
        except RedisError as err:  # the metadata is gone anyway: the blocks are unreachable
            log.warning("cache purge: other nodes not told to drop blocks (%s)", err)
            return


async def purge_cache(call: AdminCall) -> Reply:
    selector = _selector(call.data)
    cache = call.services.cache
    if cache is None:
        raise AdminError("CacheDisabled", 409, "This node runs without a block cache.")
    view = await call.services.router.view(selector.pbucket)  # NoSuchBucket 404
    try:
        objects, blocks = await _purge(call, cache, view, selector)
    except RedisError as err:
        log.warning("cache purge pbucket=%s stopped: %s", selector.pbucket, err)
        raise AdminError(
            "ServiceUnavailable", 503, "Redis cannot be reached; the purge may be partial: retry."
        ) from None
    log.info(
        "cache purge pbucket=%s objects=%d blocks=%d by=%s",
        selector.pbucket,
        objects,
        blocks,
        call.identity.arn,
    )
    return Reply(body={"objects": objects, "blocks": blocks})


async def _purge(
    call: AdminCall, cache: CacheService, view: BucketView, selector: _Selector
) -> tuple[int, int]:
    # A block still being written would land after its removal and answer the next read.
    await settle(cache)
    redis = call.services.router.redis
    keys = []
    async for key in _candidates(redis, selector):
        if selector.regex is None or _matches(selector.regex, key):
            keys.append(key)
    objects = blocks = 0
    for key in keys:
        ids = await _block_ids(redis, cache, view, selector.pbucket, key)
        if ids is not None:
            objects += 1
            for bid in ids:
                blocks += await cache.store.invalidate(bid)
        await cache.meta.invalidate(selector.pbucket, key)
        if ids:
            await _announce(redis, ids)
    return objects, blocks


async def forget_pbucket(redis: Redis, cache: CacheService, pbucket: str) -> int:
    """Drop every cached object-metadata entry of `pbucket`, here, in Redis and on every node
    (its targets changed: cached ETags may name objects that are elsewhere now). Blocks stay
    until evicted; without metadata pointing at them they are unreachable."""
    count = 0
    async for key in _candidates(redis, _Selector(pbucket, prefix="")):
        await cache.meta.invalidate(pbucket, key)
        count += 1
    return count


# --- other nodes' purges ---------------------------------------------------------------------


async def _drop_announced(cache: CacheService, data: bytes | str) -> None:
    try:
        message = json.loads(data)
        if message.get("from") == _ORIGIN:
            return
        ids = [BlockId(h) for h in message["blocks"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("cache purge: malformed message on %s ignored", PURGE_CHANNEL)
        return
    for bid in ids:
        # Every worker of a host hears the message: each drops the blocks it owns.
        if cache.store.shard.owns(bid):
            await cache.store.invalidate(bid)


async def _follow(redis: Redis, cache: CacheService) -> None:
    while True:
        try:
            pubsub = redis.pubsub()
            await pubsub.subscribe(PURGE_CHANNEL)
            try:
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await _drop_announced(cache, message["data"])
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as err:
            # Missed purges only leave unreachable blocks behind (their metadata is gone).
            log.warning("cache purge: channel lost (%s); retrying", err)
            await asyncio.sleep(0.5)


async def follow_purges(app: web.Application) -> AsyncIterator[None]:
    """An aiohttp cleanup context: while the app runs, drop blocks other nodes purge."""
    services = app[SERVICES]
    if services.cache is None:
        yield
        return
    task = asyncio.create_task(
        _follow(services.router.redis, services.cache), name="pcache-cache-purge"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


ENDPOINTS = (
    Endpoint("GET", "/admin/v1/cache", "GetCacheStatus", get_cache_status, any_resource),
    Endpoint(
        "POST",
        "/admin/v1/cache/purge",
        "PurgeCache",
        purge_cache,
        purge_resource,
        body="object",
    ),
)
