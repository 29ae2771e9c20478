"""Vendor profiles and the storage-class mapping the lifecycle jobs will use."""

from __future__ import annotations

import pytest

from router.profiles import PROFILES, get_profile, vendor_storage_class, with_storage_classes


def test_every_profile__streams_uploads_without_sdk_checksums() -> None:
    assert set(PROFILES) == {
        "generic",
        "aws",
        "minio",
        "ceph",
        "seaweedfs",
        "oss",
        "bos",
        "tos",
        "cos",
    }
    for profile in PROFILES.values():
        assert profile.request_checksum_calculation == "when_required"
        assert profile.response_checksum_validation == "when_required"


@pytest.mark.parametrize(
    ("profile", "style"),
    [("aws", "virtual"), ("oss", "virtual"), ("cos", "virtual"), ("tos", "virtual"),
     ("bos", "path"), ("minio", "path"), ("seaweedfs", "path"), ("ceph", "path"),
     ("generic", "path")],
)  # fmt: skip
def test_addressing_style(profile: str, style: str) -> None:
    assert get_profile(profile).addressing_style == style


@pytest.mark.parametrize(
    ("profile", "name", "expected"),
    [
        ("aws", "hot", "STANDARD"),
        ("aws", "cold", "STANDARD_IA"),
        ("aws", "archive", "GLACIER_IR"),
        ("aws", "DEEP_ARCHIVE", "DEEP_ARCHIVE"),  # AWS understands its own names
        ("aws", "glacier", "GLACIER"),
        ("oss", "HOT", "Standard"),
        ("oss", "STANDARD_IA", "IA"),
        ("oss", "DEEP_ARCHIVE", "Archive"),
        ("oss", "IA", "IA"),  # the vendor's own name passes through
        ("cos", "ONEZONE_IA", "STANDARD_IA"),
        ("bos", "GLACIER", "ARCHIVE"),
        ("tos", "archive", "ARCHIVE_FR"),
        ("tos", "GLACIER_IR", "IA"),  # instant reads: the cold tier elsewhere
        ("minio", "cold", "STANDARD"),
        ("seaweedfs", "GLACIER", "STANDARD"),
        ("oss", "ColdArchive", "ColdArchive"),  # unknown names are left alone
    ],
)
def test_vendor_storage_class(profile: str, name: str, expected: str) -> None:
    assert vendor_storage_class(get_profile(profile).storage_classes, name) == expected


def test_explicit_classes_override_the_profile() -> None:
    minio = with_storage_classes(get_profile("minio"), cold="REDUCED_REDUNDANCY")
    classes = minio.storage_classes
    assert (classes.hot, classes.cold, classes.archive) == (
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD",
    )
    assert vendor_storage_class(classes, "STANDARD_IA") == "REDUCED_REDUNDANCY"
