"""Per-process services (set once in the composition root) and the frozen per-request context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from auth.keys import KeyStore
    from auth.sigv4 import Verified
    from gateway.dispatch import Target
    from router.registry import Router

__all__ = ["SERVICES", "GatewaySettings", "Principal", "RequestContext", "Services"]


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


@dataclass(frozen=True, slots=True)
class Principal:
    access_key: str
    user: str


@dataclass(slots=True)
class Services:
    settings: GatewaySettings
    router: Router
    keys: KeyStore
    ready: bool = True
    started_at: float = field(default=0.0)


SERVICES = web.AppKey("pcache_services", Services)


@dataclass(frozen=True, slots=True)
class RequestContext:
    request: web.Request
    request_id: str
    target: Target
    principal: Principal | None
    verified: Verified | None
    services: Services

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
