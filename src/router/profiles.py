"""Vendor profiles: per-vendor defaults for the S3 dialect each object store speaks.

A vendor's `profile` key picks one; explicit config keys override any of its fields. Sources for
every value are in docs/vendor-profiles.md.

* addressing style: OSS and TOS accept only virtual-hosted requests and COS documents only that
  form; AWS deprecated path style; BOS takes both; self-hosted stores (MinIO, Ceph, SeaweedFS)
  are usually reached by IP or one name without wildcard DNS, so path style.
* checksums "when_required" everywhere: botocore >= 1.36 otherwise computes a CRC32 and sends it
  as an aws-chunked trailer, which several vendors reject and which would make the SDK read a
  streamed upload twice (see router.s3_settings).
* `aws_chunked`: whether the vendor accepts aws-chunked (STREAMING-*) uploads. The S3 upstream
  sends plain Content-Length bodies today, so this is recorded for whoever adds trailer
  checksums, not acted on.
* storage classes: the names for PCache's three temperatures (hot / cold / archive) in the
  vendor's S3 dialect, used by lifecycle transitions via `vendor_storage_class`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "PROFILES",
    "StorageClasses",
    "Temperature",
    "VendorProfile",
    "get_profile",
    "vendor_storage_class",
    "with_storage_classes",
]

Temperature = Literal["hot", "cold", "archive"]
_TEMPERATURES: tuple[Temperature, ...] = ("hot", "cold", "archive")


@dataclass(frozen=True, slots=True)
class StorageClasses:
    hot: str = "STANDARD"
    cold: str = "STANDARD"
    archive: str = "STANDARD"
    #: the vendor understands every AWS class name as AWS does (AWS itself): pass them through
    aws_native: bool = False

    def of(self, temperature: Temperature) -> str:
        value: str = getattr(self, temperature)
        return value


@dataclass(frozen=True, slots=True)
class VendorProfile:
    name: str
    addressing_style: Literal["path", "virtual"] = "path"
    request_checksum_calculation: Literal["when_required", "when_supported"] = "when_required"
    response_checksum_validation: Literal["when_required", "when_supported"] = "when_required"
    aws_chunked: bool = False
    storage_classes: StorageClasses = StorageClasses()


PROFILES: dict[str, VendorProfile] = {
    p.name: p
    for p in (
        VendorProfile("generic"),
        VendorProfile(
            "aws",
            addressing_style="virtual",
            aws_chunked=True,
            # GLACIER_IR, not DEEP_ARCHIVE: reads need no restore, so the gateway can still
            # serve an archived object; configure archive = "DEEP_ARCHIVE" to trade that away.
            storage_classes=StorageClasses(
                "STANDARD", "STANDARD_IA", "GLACIER_IR", aws_native=True
            ),
        ),
        VendorProfile("minio", aws_chunked=True),
        VendorProfile("ceph", aws_chunked=True),
        VendorProfile("seaweedfs", aws_chunked=True),
        VendorProfile(
            "oss",
            addressing_style="virtual",
            storage_classes=StorageClasses("Standard", "IA", "Archive"),
        ),
        VendorProfile(
            "bos",  # both styles work on BOS; path needs no per-bucket DNS or certificate
            storage_classes=StorageClasses("STANDARD", "STANDARD_IA", "ARCHIVE"),
        ),
        VendorProfile(
            "tos",
            addressing_style="virtual",
            storage_classes=StorageClasses("STANDARD", "IA", "ARCHIVE_FR"),
        ),
        VendorProfile(
            "cos",
            addressing_style="virtual",
            storage_classes=StorageClasses("STANDARD", "STANDARD_IA", "ARCHIVE"),
        ),
    )
}

# AWS class names → temperature, so a client's or a lifecycle rule's AWS name lands on the
# vendor's nearest class.
_AWS_TEMPERATURE: dict[str, Temperature] = {
    "STANDARD": "hot",
    "REDUCED_REDUNDANCY": "hot",
    "EXPRESS_ONEZONE": "hot",
    "INTELLIGENT_TIERING": "hot",
    "STANDARD_IA": "cold",
    "ONEZONE_IA": "cold",
    "GLACIER_IR": "cold",  # millisecond reads, like IA
    "GLACIER": "archive",
    "DEEP_ARCHIVE": "archive",
}


def get_profile(name: str) -> VendorProfile:
    """The named profile; KeyError lists nothing (the config loader words the error)."""
    return PROFILES[name]


def with_storage_classes(
    profile: VendorProfile,
    *,
    hot: str | None = None,
    cold: str | None = None,
    archive: str | None = None,
) -> VendorProfile:
    """The profile with some of hot/cold/archive renamed (explicit config beats the profile)."""
    c = profile.storage_classes
    classes = replace(c, hot=hot or c.hot, cold=cold or c.cold, archive=archive or c.archive)
    return replace(profile, storage_classes=classes)


def vendor_storage_class(classes: StorageClasses, name: str) -> str:
    """The vendor's class for "hot" / "cold" / "archive" or an AWS class name (any case).

    An AWS name maps through its temperature (unchanged on AWS itself); one of the vendor's
    own class names, or any other name, passes through unchanged.
    """
    key = name.strip()
    lowered = key.lower()
    if lowered in _TEMPERATURES:
        return classes.of(lowered)
    if key in (classes.hot, classes.cold, classes.archive):
        return key
    if classes.aws_native and key.upper() in _AWS_TEMPERATURE:
        return key.upper()
    temperature = _AWS_TEMPERATURE.get(key.upper())
    if temperature is None:
        return key
    return classes.of(temperature)
