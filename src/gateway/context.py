"""Per-process services (set once in the composition root) and the frozen per-request context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from auth.iam_identity import Identity
    from auth.iam_view import IamView
    from auth.sigv4 import Verified
    from gateway.cache_read import CacheService
    from gateway.dispatch import Target
    from router.registry import Router

__all__ = ["SERVICES", "GatewaySettings", "RequestContext", "Services"]


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    region: str = "us-east-1"
    #: Virtual-host addressing domain: `bucket.<domain>`; None = path-style only.
    domain: str | None = None
    max_object_size: int = 5 * 1024**3
    #: Idle time allowed between two reads of a request body before RequestTimeout.
    body_read_timeout: float = 60.0
    #: Whole seconds of clock skew tolerated on header-signed requests.
    max_skew_seconds: int = 900
    trust_forwarded_proto: bool = False
    #: The 12-digit account id in every ARN PCache builds (users, roles, sessions).
    account_id: str = "000000000000"
    #: Peers whose X-Forwarded-For is believed for aws:SourceIp (CIDR strings).
    trusted_proxies: tuple[str, ...] = ()


@dataclass(slots=True)
class Services:
    settings: GatewaySettings
    router: Router
    iam: IamView
    #: the block cache; None when the node runs without one
    cache: CacheService | None = None
    ready: bool = True
    started_at: float = field(default=0.0)


SERVICES = web.AppKey("pcache_services", Services)


@dataclass(frozen=True, slots=True)
class RequestContext:
    request: web.Request
    request_id: str
    target: Target
    principal: Identity | None
    verified: Verified | None
    services: Services
    #: the request's IAM condition keys, for decisions a handler makes per item
    condition_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        assert self.target.bucket is not None
        return self.target.bucket

    @property
    def key(self) -> str:
        assert self.target.key is not None
        return self.target.key

    @property
    def query(self) -> dict[str, str]:
        return dict(self.target.query)
