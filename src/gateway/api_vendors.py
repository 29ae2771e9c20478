"""Vendors managed through the admin API, on this node: their records (`router.vendor_store`)
become `Upstream`s in the Router, at start and whenever one changes.

The Router hands every `vendor:<name>` message of `pc:rt:changed` to `sync(name)`, and
`sync(None)` after a reconnect and every few seconds (a lost message costs at most that long).
A vendor is rebuilt only when its record's revision changed; the client it replaces is closed
after `grace` seconds, so requests already streaming through it finish. A config-declared vendor
of the same name wins on this node (config is the node's own truth); the record is ignored with
a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from aiohttp import web

from auth.secrets import SecretBox, SecretBoxError
from gateway.config_vendors import VendorConfig
from gateway.vendors import build_vendor
from router.endpoint_guard import Allowlist, EndpointRefused
from router.profiles import get_profile, with_storage_classes
from router.registry import Router
from router.upstream import Upstream
from router.vendor_store import Sealer, VendorRecord, VendorStore

__all__ = ["API_VENDORS", "ApiVendors", "sealer", "vendor_config"]

log = logging.getLogger("pcache.vendors")


def sealer(box: SecretBox) -> Sealer:
    return Sealer(seal=box.encrypt, unseal=box.decrypt)


def vendor_config(record: VendorRecord, secret: str) -> VendorConfig:
    """The record as the config loader would have produced it (same builder, same guard)."""
    profile = with_storage_classes(get_profile(record.profile), **dict(record.storage_classes))
    return VendorConfig(
        name=record.name,
        type="s3",
        endpoint=record.endpoint,
        region=record.region,
        access_key=record.access_key,
        secret_key=secret,
        addressing_style=record.addressing_style,
        connect_timeout=record.connect_timeout,
        read_timeout=record.read_timeout,
        verify_tls=record.verify_tls,
        profile=record.profile,
        request_checksum_calculation=record.request_checksum_calculation,
        response_checksum_validation=record.response_checksum_validation,
        aws_chunked=profile.aws_chunked,
        storage_classes=profile.storage_classes,
        retries=record.retries,
        breaker_failures=record.breaker_failures,
        breaker_cooldown=record.breaker_cooldown,
    )


class ApiVendors:
    def __init__(
        self,
        store: VendorStore,
        router: Router,
        allowlist: Allowlist,
        configured: Mapping[str, VendorConfig],
        *,
        grace: float = 30.0,
    ) -> None:
        self.store = store
        self.router = router
        self.allowlist = allowlist
        self.configured = dict(configured)
        self._grace = grace
        self._revisions: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._shadowed: set[str] = set()

    async def sync(self, name: str | None = None) -> None:
        """Bring this node's clients in line with Redis: one vendor, or all (`None`)."""
        async with self._lock:
            if name is not None:
                await self._apply(name, await self.store.get(name))
                return
            records = {r.name: r for r in await self.store.all()}
            for each in sorted(set(records) | set(self._revisions)):
                await self._apply(each, records.get(each))

    async def _apply(self, name: str, record: VendorRecord | None) -> None:
        if name in self.configured:
            if record is not None and name not in self._shadowed:
                self._shadowed.add(name)
                log.warning("vendor %s: the config declares it; its API record is ignored", name)
            return
        if record is None:
            if self._revisions.pop(name, None) is not None:
                self._retire(self.router.set_vendor(name, None))
                log.info("vendor %s removed", name)
            return
        if self._revisions.get(name) == record.revision:
            return
        try:
            upstream = build_vendor(
                vendor_config(record, self.store.secret(record)), self.allowlist
            )
        except (SecretBoxError, EndpointRefused, ValueError) as err:
            # Another node's master key or allowlist: PBuckets on it answer 500 here.
            log.error("vendor %s cannot be used on this node: %s", name, err)
            self._revisions[name] = record.revision
            self._retire(self.router.set_vendor(name, None))
            return
        start = getattr(upstream, "start", None)
        try:
            if start is not None:
                await start()  # load the SDK model now, not inside a client's request
        except Exception as err:  # e.g. refused here: requests retry and answer 503
            log.warning("vendor %s: client not started: %s", name, err)
        self._revisions[name] = record.revision
        self._retire(self.router.set_vendor(name, upstream))
        log.info("vendor %s ready (revision %s)", name, record.revision[:8])

    def _retire(self, upstream: Upstream | None) -> None:
        if upstream is None:
            return
        task = asyncio.create_task(self._close_later(upstream), name="pcache-vendor-retire")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_later(self, upstream: Upstream) -> None:
        try:
            await asyncio.sleep(self._grace)  # requests in flight on the old client finish
        finally:
            with contextlib.suppress(Exception):
                await upstream.close()

    async def close(self) -> None:
        """Close the retired clients now (the Router closes the live ones)."""
        for task in list(self._closing):
            task.cancel()
        for task in list(self._closing):
            with contextlib.suppress(asyncio.CancelledError):
                await task


API_VENDORS = web.AppKey("pcache_api_vendors", ApiVendors)
