"""Settings of one S3-compatible vendor endpoint, filled by the gateway's config loader.

Plain values only (no SDK types), so configuration code can build and validate them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from router.endpoint_guard import Allowlist
from router.profiles import StorageClasses

__all__ = ["AddressingStyle", "ChecksumWhen", "S3VendorSettings"]

AddressingStyle = Literal["path", "virtual"]
ChecksumWhen = Literal["when_required", "when_supported"]


@dataclass(frozen=True, slots=True)
class S3VendorSettings:
    """One endpoint + one set of credentials.

    Checksums default to "when_required": with "when_supported" botocore would read the whole
    request body to compute a CRC before sending, which a streamed upload cannot allow.
    """

    name: str
    endpoint_url: str
    region: str
    access_key: str
    secret_key: str = field(repr=False)
    addressing_style: AddressingStyle = "path"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_pool_connections: int = 64
    request_checksum_calculation: ChecksumWhen = "when_required"
    response_checksum_validation: ChecksumWhen = "when_required"
    verify_tls: bool = True
    #: private / loopback addresses this vendor may resolve to (empty: public addresses only);
    #: checked before the client is made and again at every connection (router.endpoint_guard)
    allowlist: Allowlist = field(default_factory=Allowlist)
    #: the vendor's hot / cold / archive class names (from its profile and config)
    storage_classes: StorageClasses = field(default_factory=StorageClasses)

    def __post_init__(self) -> None:
        if not self.endpoint_url.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must start with http:// or https://")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_pool_connections < 1:
            raise ValueError("max_pool_connections must be at least 1")
