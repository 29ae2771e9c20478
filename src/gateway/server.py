"""The composition root: build every service from the config, start listeners, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from redis.asyncio import Redis

from auth.iam_model import ROOT_USER
from auth.iam_store import IamStore
from auth.iam_view import IamView
from auth.secrets import (
    SecretBox,
    generate_access_key,
    generate_secret_key,
    load_or_create_master_key,
)
from cache.meta import MetaCache
from cache.shard import SOLE, Shard
from cache.store import StoreSettings, TieredStore, TierSettings
from cache.tier import TierOptions, VerifyReads
from gateway import access_log, redact
from gateway.admin import add_admin_routes
from gateway.admin.cache_admin import follow_purges
from gateway.admin.router_jobs import add_router_jobs
from gateway.api_vendors import API_VENDORS, ApiVendors, sealer
from gateway.cache_policy import ObjectPolicy, PolicyBook
from gateway.cache_read import (
    CacheService,
    CacheSettings,
    fill_for_peer,
    info_from_doc,
    info_to_doc,
)
from gateway.cache_ttl_view import CacheTtlView
from gateway.config import Config, PBucketConfig, TierConfig
from gateway.context import SERVICES, GatewaySettings, Services
from gateway.embedded_redis import EmbeddedRedis
from gateway.lifecycle_service import add_lifecycle
from gateway.malloc_tune import return_big_buffers, tune_gc
from gateway.metrics import REGISTRY, add_metrics_route
from gateway.s3app import add_s3_routes
from gateway.sts import add_sts_routes
from gateway.supervisor import (
    WORKER_ENV,
    WORKER_REDIS_ENV,
    die_with_supervisor,
    parse_worker,
    run_dir,
    supervise,
)
from gateway.vendors import build_vendor
from gateway.warm_jobs import add_warm_jobs
from gateway.worker_link import LINK, WorkerLink
from router.models import ObjectInfo
from router.pbucket import PBucket, TargetSpec
from router.registry import Router, RouterSettings
from router.repair import RepairSettings, RepairWorker
from router.router_jobs import RouterJobs
from router.vendor_store import VendorStore
from ttl.cache_ttl import CacheTtlStore

__all__ = ["Node", "run"]

log = logging.getLogger("pcache")
_ROOT_KEY_ENV = "PCACHE_ROOT_ACCESS_KEY"
_ROOT_SECRET_ENV = "PCACHE_ROOT_SECRET_KEY"  # noqa: S105 - a variable name
_MASTER_KEY_ENV = "PCACHE_MASTER_KEY"


def _declared(p: PBucketConfig, region: str) -> PBucket:
    """A config-declared PBucket as the router stores it, with every target of its policy."""
    targets = tuple(
        TargetSpec(t.vendor, t.bucket, t.prefix, weight=t.weight, region=t.region)
        for t in p.targets
    )
    return PBucket(
        name=p.name,
        targets=targets,
        policy=p.policy,
        region=region,
        write_quorum=p.write_quorum,
    )


def _master_key(cfg: Config) -> bytes:
    env = os.environ.get(_MASTER_KEY_ENV)
    if env:
        return bytes.fromhex(env)
    return load_or_create_master_key(cfg.master_key_file or cfg.data_dir / "master.key")


@dataclass
class Node:
    """One running gateway node and everything it owns."""

    cfg: Config
    #: this process's share of the host (`[node] workers`); SOLE when it is the only one
    shard: Shard = SOLE
    embedded: EmbeddedRedis | None = None
    redis: Redis | None = None
    router: Router | None = None
    iam: IamView | None = None
    repair: RepairWorker | None = None
    api_vendors: ApiVendors | None = None
    meta: MetaCache | None = None
    link: WorkerLink | None = None
    cache_ttl: CacheTtlView | None = None
    runner: web.AppRunner | None = None
    endpoints: list[str] = field(default_factory=list)

    async def start(self) -> Services:
        cfg = self.cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        worker = self.shard.count > 1
        # A worker's supervisor started the embedded Redis and set up the root credentials.
        url, self.embedded = await _redis_url(
            cfg, os.environ.get(WORKER_REDIS_ENV) if worker else cfg.redis_url
        )
        self.redis = Redis.from_url(url)
        await self.redis.ping()
        box = SecretBox(_master_key(cfg))
        store = IamStore(self.redis, box)
        if not worker:
            await root_credentials(store)
        self.iam = IamView(store, self.redis, max_stale=cfg.iam_max_stale)
        await self.iam.start()
        vendors = {n: build_vendor(v, cfg.vendor_allowlist) for n, v in cfg.vendors.items()}
        for upstream in vendors.values():
            # Load SDK models now, not inside the first client request.
            start = getattr(upstream, "start", None)
            if start is not None:
                await start()
        self.router = Router(
            self.redis,
            vendors,
            RouterSettings(
                default_vendor=cfg.default_vendor,
                bucket_template=cfg.bucket_template,
                region=cfg.region,
                region_affinity=cfg.region_affinity,
            ),
        )
        # Vendors added through the admin API: built now, rebuilt on every change message.
        self.api_vendors = ApiVendors(
            VendorStore(self.redis, sealer(box)), self.router, cfg.vendor_allowlist, cfg.vendors
        )
        await self.api_vendors.sync()
        await self.router.start(self.api_vendors.sync)
        await self.router.apply_declared([_declared(p, cfg.region) for p in cfg.pbuckets])
        # Replays writes that `replicate` targets missed (router/repair.py).
        consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        repair = RepairSettings(
            consumer=consumer,
            scan_every=cfg.repair_scan_interval,
            base_backoff=cfg.repair_backoff_base,
            max_backoff=cfg.repair_backoff_max,
            settle=cfg.repair_settle,
        )
        self.repair = RepairWorker(self.router, repair)
        await self.repair.start()
        settings = GatewaySettings(
            region=cfg.region,
            domain=cfg.domain,
            account_id=cfg.account_id,
            trusted_proxies=cfg.trusted_proxies,
        )
        services = Services(
            settings=settings,
            router=self.router,
            iam=self.iam,
            cache=await self._cache(),
            started_at=time.time(),
        )
        await self._listen(services)
        return services

    async def _listen(self, services: Services) -> None:
        app = web.Application(handler_args={"access_log": None})
        app[SERVICES] = services
        assert self.api_vendors is not None
        app[API_VENDORS] = self.api_vendors
        if self.link is not None:
            app[LINK] = self.link
        app.router.add_get("/healthz", _healthz)
        app.router.add_get("/readyz", _readyz)
        add_metrics_route(app, [t.name for t in self.cfg.cache.tiers])
        app.cleanup_ctx.append(follow_purges)  # other nodes' cache purges
        add_warm_jobs(app, services.router.redis)  # cache warm-up jobs
        cache = services.cache
        moved = None if cache is None else cache.meta.invalidate_scope
        add_router_jobs(app, RouterJobs(services.router, moved))  # rebalance / migrate jobs
        add_lifecycle(app, services, self.cfg.lifecycle)  # lifecycle scheduler and jobs
        add_sts_routes(app)
        add_admin_routes(app)
        add_s3_routes(app)
        self.runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=self.cfg.shutdown_timeout
        )
        await self.runner.setup()
        host, port = self.cfg.listen.rsplit(":", 1)
        shared = self.shard.count > 1  # the workers of a host share its ports
        site = web.TCPSite(
            self.runner, host, int(port), backlog=1024, reuse_address=True, reuse_port=shared
        )
        await site.start()
        self.endpoints.append(_endpoint("http", site))
        if self.cfg.https_listen:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(self.cfg.tls_cert), str(self.cfg.tls_key))
            h, p = self.cfg.https_listen.rsplit(":", 1)
            tls = web.TCPSite(
                self.runner, h, int(p), ssl_context=ctx, backlog=1024, reuse_port=shared
            )
            await tls.start()
            self.endpoints.append(_endpoint("https", tls))

    async def _cache(self) -> CacheService | None:
        cfg = self.cfg.cache
        if not cfg.enabled:
            return None
        assert self.redis is not None
        store = await TieredStore.open(
            StoreSettings(
                tiers=tuple(
                    # Each worker owns its share of every tier (cache.shard).
                    TierSettings(t.directory, t.capacity // self.shard.count, _tier_options(t))
                    for t in cfg.tiers
                ),
                admission_tier=cfg.admission_tier,
                promote_after=cfg.promote_after,
                verify_reads=VerifyReads(cfg.verify_reads),
                shard=self.shard,
            )
        )
        self.meta = MetaCache(self.redis, negative_ttl=cfg.negative_ttl)
        await self.meta.start()
        self.cache_ttl = CacheTtlView(CacheTtlStore(self.redis), self.meta.wall)
        await self.cache_ttl.start()
        service = CacheService(
            store=store,
            meta=self.meta,
            settings=CacheSettings(
                block_size=cfg.block_size,
                max_age=cfg.max_age,
                fanout=cfg.fanout,
                stale_if_error=cfg.stale_if_error,
                write_through_max=cfg.write_through_max,
            ),
            policies=PolicyBook(
                ObjectPolicy(cfg.freshness, cfg.write_mode, cfg.block_size), cfg.rules
            ),
            ttl=self.cache_ttl,
        )
        # Cached listings follow every object invalidation and every PBucket record change.
        self.meta.listeners.append(service.lists_changed)
        assert self.router is not None
        self.router.listeners.append(service.lists_changed)
        if self.shard.count > 1:
            self.link = self._link(store, service)
            await self.link.start()
        return service

    def _link(self, store: TieredStore, service: CacheService) -> WorkerLink:
        """This worker's end of the host's worker link (`gateway.worker_link`)."""
        link = WorkerLink(self.shard, run_dir(self.cfg), lambda: generate_latest(REGISTRY))
        link.store = store
        store.peers = link
        router = self.router
        assert router is not None

        async def fill_here(
            pbucket: str, key: str, doc: dict[str, Any], index: int, size: int
        ) -> bytes:
            view = await router.view(pbucket)
            return await fill_for_peer(service, view, key, info_from_doc(doc), index, size)

        async def fill_by_owner(
            owner: int, pbucket: str, key: str, info: ObjectInfo, index: int, size: int
        ) -> bytes | None:
            return await link.fill(owner, pbucket, key, info_to_doc(info), index, size)

        link.filler = fill_here
        service.owner_fill = fill_by_owner
        return link

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.link is not None:
            await self.link.stop()
        if self.meta is not None:
            await self.meta.stop()
        if self.cache_ttl is not None:
            await self.cache_ttl.stop()
        if self.iam is not None:
            await self.iam.stop()
        if self.repair is not None:
            await self.repair.stop()
        if self.router is not None:
            await self.router.close()
        if self.api_vendors is not None:
            await self.api_vendors.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.embedded is not None:
            await self.embedded.stop()


async def root_credentials(store: IamStore) -> None:
    """Root keys from the environment (then the only root key), else the stored ones, else
    new ones printed once."""
    access, secret = os.environ.get(_ROOT_KEY_ENV), os.environ.get(_ROOT_SECRET_ENV)
    existing = (await store.load()).keys_of(ROOT_USER)
    if access and secret:
        await store.create_access_key(ROOT_USER, access_key=access, secret=secret, limit=None)
        await store.delete_access_keys([k.access_key for k in existing if k.access_key != access])
        return
    if existing:
        return
    access, secret = generate_access_key(), generate_secret_key()
    await store.create_access_key(ROOT_USER, access_key=access, secret=secret, limit=None)
    # Printed once, on the terminal only (never logged): it is stored encrypted from now on.
    print(
        f"PCache root credentials (shown once):\n  access key: {access}\n  secret key: {secret}",
        file=sys.stderr,
        flush=True,
    )


def _endpoint(scheme: str, site: web.TCPSite) -> str:
    server = site._server
    sockets = getattr(server, "sockets", None)
    if sockets:
        host, port = sockets[0].getsockname()[:2]
        return f"{scheme}://{host}:{port}"
    return site.name


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response({"ready": services.ready}, status=200 if services.ready else 503)


async def serve(cfg: Config, shard: Shard = SOLE) -> None:
    node = Node(cfg, shard)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        services = await node.start()
        tune_gc()
        for ep in node.endpoints:
            who = f" (worker {shard.index} of {shard.count})" if shard.count > 1 else ""
            print(f"PCache listening on {ep}{who}", file=sys.stderr, flush=True)
        await stop.wait()
        services.ready = False
    finally:
        # Bounded: a stop stuck on a hung connection or vendor must not keep the process
        # (and, for a worker, the supervisor that waits for it) alive.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(node.stop(), cfg.shutdown_timeout + 5.0)


def run(cfg: Config, argv: Sequence[str] = ()) -> None:
    """Serve in this process, or (`[node] workers` > 1) start and watch the worker processes,
    which run `python -m gateway <argv>` again."""
    worker = parse_worker(os.environ.get(WORKER_ENV))
    shard = Shard(*worker) if worker else SOLE
    if worker:
        die_with_supervisor()
    return_big_buffers()
    _logging(cfg.log_level, shard)
    main = serve(cfg, shard) if worker or cfg.workers == 1 else supervise(cfg, argv, _shared)
    try:
        import uvloop

        uvloop.run(main)
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep running without it
        asyncio.run(main)


async def _redis_url(cfg: Config, url: str | None) -> tuple[str, EmbeddedRedis | None]:
    """`url`, or (none configured) the embedded Redis, started here."""
    if url:
        return url, None
    embedded = EmbeddedRedis(cfg.data_dir / "meta")
    await embedded.start()
    return embedded.url, embedded


async def _shared(cfg: Config) -> tuple[str, Callable[[], Awaitable[None]]]:
    """What the workers of a host share, made once before they start: Redis (embedded unless
    configured), the master key, the root credentials."""
    url, embedded = await _redis_url(cfg, cfg.redis_url)
    redis = Redis.from_url(url)
    try:
        await root_credentials(IamStore(redis, SecretBox(_master_key(cfg))))
    finally:
        await redis.aclose()

    async def cleanup() -> None:
        if embedded is not None:
            await embedded.stop()

    return url, cleanup


def _logging(level: str, shard: Shard = SOLE) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s %(message)s"
    if shard.count > 1:
        fmt = f"%(asctime)s %(levelname)s worker={shard.index} %(name)s %(message)s"
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), format=fmt, stream=sys.stderr
    )
    redact.install(fmt)
    access_log.configure()
    # aiohttp's own access log would duplicate ours (and may carry presigned query strings).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if level.lower() != "debug":
        logging.getLogger("botocore").setLevel(logging.WARNING)


def _tier_options(tier: TierConfig) -> TierOptions:
    options = TierOptions(min_free_bytes=tier.min_free_bytes, verify_on_open=tier.verify_on_open)
    if tier.min_free_ratio is not None:
        options = replace(options, min_free_ratio=tier.min_free_ratio)
    return options
