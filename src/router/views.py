"""PBucket → view, by policy: the one place that knows which view class serves which policy."""

from __future__ import annotations

from collections.abc import Sequence

from router.balance import BalanceView
from router.errors import UpstreamError
from router.migrate import MigrateView
from router.pbucket import BucketView, PBucket
from router.replica_context import ReplicaContext
from router.replicate import ReplicateView
from router.upstream import Upstream

__all__ = ["POLICIES", "build_view"]

#: Policies this build can serve (config validation uses the same list).
POLICIES = ("single", "balance", "replicate", "migrate")


def build_view(
    pb: PBucket, upstreams: Sequence[Upstream], replicas: ReplicaContext | None = None
) -> BucketView:
    """`upstreams[i]` serves `pb.targets[i]`; `replicas` is the process's shared state for
    `replicate` PBuckets (the Router owns it)."""
    if pb.policy == "balance":
        return BalanceView(pb, upstreams)
    if pb.policy == "replicate":
        if replicas is None:  # a caller without Redis cannot keep the repair queue
            raise UpstreamError("InternalError", 500)
        return ReplicateView(pb, upstreams, replicas)
    if pb.policy == "migrate":
        return MigrateView(pb, upstreams)
    if pb.policy == "single":
        return BucketView(pb, upstreams[0])
    # A record written by a newer node with a policy this one does not know.
    raise UpstreamError("NotImplemented", 501)
