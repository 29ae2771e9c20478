"""The PBucket a client suite runs against, under one placement policy, and where its objects
must land on the vendor (the oracle the suites check the gateway against).

`single` is a PBucket made by S3 CreateBucket (vendor bucket of the same name). `balance` and
`replicate` are made through the admin API over three vendor buckets shared by every such
PBucket of the session: each PBucket gets its own key prefix in them, so a test still starts
from an empty PBucket without creating vendor buckets per test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from router.placement import Candidate, owner, target_identity

__all__ = ["POLICIES", "PBucketUnderTest"]

POLICIES = ("single", "balance", "replicate")


@dataclass(frozen=True)
class PBucketUnderTest:
    name: str
    policy: str
    vendor: str  # the gateway's name for the SeaweedFS vendor every target sits on
    targets: tuple[tuple[str, str], ...]  # (vendor bucket, key prefix), in target order

    def admin_body(self) -> dict[str, Any]:
        """The CreatePBucket request that makes this PBucket (not for `single`)."""
        rows = [{"vendor": self.vendor, "bucket": b, "prefix": p} for b, p in self.targets]
        return {"name": self.name, "policy": self.policy, "targets": rows}

    def copies(self, key: str) -> list[tuple[str, str]]:
        """(vendor bucket, vendor key) of every copy the policy must have written for `key`:
        the rendezvous owner under `balance` (computed here, independently of the gateway),
        every target under `replicate` (the default write quorum is all of them)."""
        placed = [(b, p + key) for b, p in self.targets]
        if self.policy != "balance":
            return placed
        cands = [Candidate(target_identity(self.vendor, b, p)) for b, p in self.targets]
        return [placed[owner(cands, key)]]

    def read(self, direct: Any, key: str) -> bytes:
        """The object's bytes straight from the vendor; every copy must hold the same bytes."""
        bodies = {direct.get_object(Bucket=b, Key=k)["Body"].read() for b, k in self.copies(key)}
        assert len(bodies) == 1, f"{self.policy} copies of {key!r} differ"
        return bodies.pop()

    def absent(self, direct: Any, key: str) -> bool:
        """No target holds `key` (whatever the policy)."""
        for bucket, prefix in self.targets:
            try:
                direct.head_object(Bucket=bucket, Key=prefix + key)
            except ClientError as err:
                if err.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                    raise
                continue
            return False
        return True

    def common_prefixes(self, direct: Any, delimiter: str, encoding: str | None) -> list[str]:
        """The rolled-up prefixes the vendor itself reports for the PBucket's keys, sorted: a
        union over the targets with each target's own key prefix taken off again."""
        found: set[str] = set()
        extra = {"EncodingType": encoding} if encoding else {}
        for bucket, prefix in self.targets:
            out = direct.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter=delimiter, **extra)
            # The target prefixes are plain [a-z0-9-/], the same encoded or not.
            found |= {p["Prefix"][len(prefix) :] for p in out.get("CommonPrefixes", [])}
        return sorted(found)
