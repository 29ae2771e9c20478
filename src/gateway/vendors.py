"""Build each configured vendor's `Upstream`: S3 vendors behind their breaker and retry budget.

Every S3 vendor call goes through `router.vendor_guard.GuardedUpstream`; the local-directory
vendor has no network to fail, so it is used as is. `vendor_health` is what metrics read.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config_vendors import VendorConfig
from router.breaker import BreakerSettings
from router.endpoint_guard import Allowlist
from router.retry import RetrySettings
from router.upstream import Upstream
from router.vendor_guard import GuardedUpstream, GuardSettings, health_states

__all__ = ["build_vendor", "vendor_health"]


def build_vendor(cfg: VendorConfig, allowlist: Allowlist | None = None) -> Upstream:
    if cfg.type == "local":
        from router.local_upstream import LocalUpstream, LocalVendorSettings

        assert cfg.root is not None
        return LocalUpstream(LocalVendorSettings(name=cfg.name, root=cfg.root))
    from router.s3_settings import S3VendorSettings
    from router.s3_upstream import S3Upstream

    assert cfg.endpoint is not None
    s3 = S3Upstream(
        S3VendorSettings(
            name=cfg.name,
            endpoint_url=cfg.endpoint,
            region=cfg.region,
            access_key=cfg.access_key,
            secret_key=cfg.secret_key,
            addressing_style="virtual" if cfg.addressing_style == "virtual" else "path",
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            request_checksum_calculation=(
                "when_supported"
                if cfg.request_checksum_calculation == "when_supported"
                else "when_required"
            ),
            response_checksum_validation=(
                "when_supported"
                if cfg.response_checksum_validation == "when_supported"
                else "when_required"
            ),
            verify_tls=cfg.verify_tls,
            allowlist=allowlist or Allowlist(),
            storage_classes=cfg.storage_classes,
        )
    )
    guard = GuardSettings(
        breaker=BreakerSettings(failures=cfg.breaker_failures, cooldown=cfg.breaker_cooldown),
        retry=RetrySettings(retries=cfg.retries),
    )
    return GuardedUpstream(s3, guard)


def vendor_health(vendors: Mapping[str, Upstream]) -> dict[str, str]:
    """Vendor name → "closed" | "open" | "half_open" for every S3 vendor."""
    return health_states(vendors)
