"""The `balance` policy end to end: boto3 through a real gateway whose PBuckets spread keys over
several SeaweedFS buckets, checked against the vendor buckets directly.

Vendors: `far` is SeaweedFS behind the counting fault proxy (so the cache test can prove a hit
reached no vendor) and `weed` is the same SeaweedFS direct: two upstreams, so copies between
them stream through the gateway while copies within one stay server-side.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from router.placement import Candidate, owner, target_identity
from tests.conftest import _empty_and_delete
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import TEST_MASTER_KEY_HEX
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer
from tests.rig.seaweed_bulk import drop_bucket, put_many

UID = uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Target:
    vendor: str
    bucket: str
    prefix: str = ""
    weight: float = 1.0

    def toml(self) -> str:
        return (
            f'{{ vendor = "{self.vendor}", bucket = "{self.bucket}", '
            f'prefix = "{self.prefix}", weight = {self.weight} }}'
        )


@dataclass(frozen=True)
class Balanced:
    name: str
    targets: tuple[Target, ...]

    def owner(self, key: str) -> tuple[str, str]:
        """(vendor bucket, vendor key) `key` must land on: computed here independently."""
        cands = [
            Candidate(target_identity(t.vendor, t.bucket, t.prefix), t.weight) for t in self.targets
        ]
        t = self.targets[owner(cands, key)]
        return t.bucket, t.prefix + key

    def toml(self) -> str:
        rows = ",\n  ".join(t.toml() for t in self.targets)
        return (
            f'[[pbuckets]]\nname = "{self.name}"\npolicy = "balance"\ntargets = [\n  {rows},\n]\n'
        )


A, B, C = (
    Target("far", f"bal-{UID}-a"),
    Target("far", f"bal-{UID}-b", "p/", 2.0),
    Target("weed", f"bal-{UID}-c"),
)
BAL = Balanced(f"bal-{UID}", (A, B, C))
# The same PBucket before target C was added: same identities and weights for A and B.
OLD = Balanced(f"old-{UID}", (A, B))
LST = Balanced(f"lst-{UID}", tuple(Target("weed", f"lst-{UID}-{s}", "", 1.0) for s in "xyz"))
BIG = Balanced(
    f"big-{UID}",
    (
        Target("weed", f"big-{UID}-d"),
        Target("weed", f"big-{UID}-e", "pre/"),
        Target("weed", f"big-{UID}-f"),
    ),
)
SINGLE, SINGLE_BUCKET = f"sgl-{UID}", f"sgl-{UID}-g"
BIG_BUCKETS = sorted({t.bucket for t in BIG.targets})
VENDOR_BUCKETS = sorted({t.bucket for pb in (BAL, LST) for t in pb.targets} | {SINGLE_BUCKET})


def _config(far: FaultProxy, seaweed: SeaweedServer, redis_url: str) -> str:
    creds = f'access_key = "{seaweed.access_key}"\nsecret_key = "{seaweed.secret_key}"\n'
    return f"""
[node]
region = "us-east-1"
vendor_allowlist = ["127.0.0.0/8"]  # the rig's vendors are on loopback

[redis]
url = "{redis_url}"

[vendors.far]
type = "s3"
endpoint = "{far.endpoint}"
{creds}
[vendors.weed]
type = "s3"
endpoint = "{seaweed.endpoint}"
{creds}
{BAL.toml()}
{OLD.toml()}
{LST.toml()}
{BIG.toml()}
[[pbuckets]]
name = "{SINGLE}"
vendor = "weed"
bucket = "{SINGLE_BUCKET}"
"""


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
    s3_direct: Any,
) -> Iterator[GatewayProcess]:
    for b in VENDOR_BUCKETS + BIG_BUCKETS:
        s3_direct.create_bucket(Bucket=b)
    work: Path = tmp_path_factory.mktemp("balancegw")
    config = _config(far, seaweed, redis_server)
    env = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}
    try:
        with GatewayProcess(work, config=config, extra_env=env) as gw:
            yield gw
    finally:
        for b in VENDOR_BUCKETS:
            _empty_and_delete(s3_direct, b)
        for b in BIG_BUCKETS:  # 10,000 keys: one recursive delete, not ten DeleteObjects
            drop_bucket(seaweed, b)


@pytest.fixture(scope="module")
def bs3(gw: GatewayProcess) -> Any:
    return gw.client()


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _on_vendor(s3_direct: Any, bucket: str, key: str) -> bool:
    try:
        s3_direct.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
    return True


def _where(s3_direct: Any, pb: Balanced, key: str) -> list[str]:
    """Every vendor bucket of `pb` that holds `key` (under that target's prefix)."""
    return [t.bucket for t in pb.targets if _on_vendor(s3_direct, t.bucket, t.prefix + key)]


# -- objects ----------------------------------------------------------------------------------


def test_put_get_head_delete__land_on_the_owner(bs3: Any, s3_direct: Any) -> None:
    keys = [f"own-{i}/obj" for i in range(30)]
    for k in keys:
        bs3.put_object(Bucket=BAL.name, Key=k, Body=k.encode(), Metadata={"k": "v"})
    used = set()
    for k in keys:
        bucket, vkey = BAL.owner(k)
        used.add(bucket)
        assert _where(s3_direct, BAL, k) == [bucket]
        assert s3_direct.get_object(Bucket=bucket, Key=vkey)["Body"].read() == k.encode()
        assert bs3.get_object(Bucket=BAL.name, Key=k)["Body"].read() == k.encode()
        head = bs3.head_object(Bucket=BAL.name, Key=k)
        assert head["ContentLength"] == len(k) and head["Metadata"] == {"k": "v"}
    assert used == {A.bucket, B.bucket, C.bucket}
    for k in keys[:10]:
        bs3.delete_object(Bucket=BAL.name, Key=k)
        assert _where(s3_direct, BAL, k) == []
        with pytest.raises(ClientError) as err:
            bs3.get_object(Bucket=BAL.name, Key=k)
        assert _code(err) == "NoSuchKey"
    out = bs3.delete_objects(Bucket=BAL.name, Delete={"Objects": [{"Key": k} for k in keys[10:]]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted(keys[10:])
    assert all(_where(s3_direct, BAL, k) == [] for k in keys[10:])


def test_get_object__ranges_conditionals_and_tagging(bs3: Any) -> None:
    data = os.urandom(100_000)
    put = bs3.put_object(Bucket=BAL.name, Key="rng/obj", Body=data, Tagging="a=1")
    got = bs3.get_object(Bucket=BAL.name, Key="rng/obj", Range="bytes=10-99")
    assert got["Body"].read() == data[10:100] and got["ContentRange"] == "bytes 10-99/100000"
    with pytest.raises(ClientError) as err:
        bs3.get_object(Bucket=BAL.name, Key="rng/obj", IfNoneMatch=put["ETag"])
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as err:
        bs3.head_object(Bucket=BAL.name, Key="rng/obj", IfMatch='"0000"')
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    tags = bs3.get_object_tagging(Bucket=BAL.name, Key="rng/obj")["TagSet"]
    assert tags == [{"Key": "a", "Value": "1"}]
    bs3.put_object_tagging(
        Bucket=BAL.name, Key="rng/obj", Tagging={"TagSet": [{"Key": "b", "Value": "2"}]}
    )
    assert bs3.get_object_tagging(Bucket=BAL.name, Key="rng/obj")["TagSet"] == [
        {"Key": "b", "Value": "2"}
    ]
    with pytest.raises(ClientError) as err:
        bs3.head_object(Bucket=BAL.name, Key="rng/missing")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_target_added_later__old_keys_stay_readable_listed_once_and_deletable(
    bs3: Any, s3_direct: Any
) -> None:
    keys = [f"late/{i:03d}" for i in range(40)]
    for k in keys:
        bs3.put_object(Bucket=OLD.name, Key=k, Body=k.encode())
    moved = [k for k in keys if BAL.owner(k)[0] == C.bucket]
    assert moved, "with C at weight 1 of 4, some of 40 keys move to it"
    for k in keys:
        # Keys that did not move keep their owner: rendezvous hashing moves only C's share.
        assert _where(s3_direct, BAL, k) == [OLD.owner(k)[0]]
        if k not in moved:
            assert BAL.owner(k) == OLD.owner(k)
        assert bs3.get_object(Bucket=BAL.name, Key=k)["Body"].read() == k.encode()
        assert bs3.head_object(Bucket=BAL.name, Key=k)["ContentLength"] == len(k)
    listed = bs3.list_objects_v2(Bucket=BAL.name, Prefix="late/")
    assert [o["Key"] for o in listed["Contents"]] == keys
    # A rewrite lands on the new owner; the old copy is shadowed (listed once, new size).
    bs3.put_object(Bucket=BAL.name, Key=moved[0], Body=b"rewritten")
    assert sorted(_where(s3_direct, BAL, moved[0])) == sorted([C.bucket, OLD.owner(moved[0])[0]])
    listed = bs3.list_objects_v2(Bucket=BAL.name, Prefix="late/")
    assert [o["Key"] for o in listed["Contents"]] == keys
    sizes = {o["Key"]: o["Size"] for o in listed["Contents"]}
    assert sizes[moved[0]] == len(b"rewritten")
    # DELETE reaches every target: the stray copy does not come back through probing.
    bs3.delete_object(Bucket=BAL.name, Key=moved[0])
    assert _where(s3_direct, BAL, moved[0]) == []
    with pytest.raises(ClientError) as err:
        bs3.get_object(Bucket=BAL.name, Key=moved[0])
    assert _code(err) == "NoSuchKey"


def test_copy__within_balance_and_across_views(bs3: Any, s3_direct: Any) -> None:
    data = os.urandom(70_000)
    bs3.put_object(Bucket=BAL.name, Key="cp/src", Body=data, Metadata={"m": "1"})
    dests = [f"cp/dst-{i}" for i in range(8)]
    for d in dests:
        bs3.copy_object(Bucket=BAL.name, Key=d, CopySource={"Bucket": BAL.name, "Key": "cp/src"})
        assert _where(s3_direct, BAL, d) == [BAL.owner(d)[0]]
        got = bs3.get_object(Bucket=BAL.name, Key=d)
        assert got["Body"].read() == data and got["Metadata"] == {"m": "1"}
    # Both directions between a balance and a single PBucket.
    bs3.copy_object(Bucket=SINGLE, Key="from-bal", CopySource={"Bucket": BAL.name, "Key": "cp/src"})
    assert s3_direct.get_object(Bucket=SINGLE_BUCKET, Key="from-bal")["Body"].read() == data
    bs3.copy_object(
        Bucket=BAL.name, Key="cp/from-single", CopySource={"Bucket": SINGLE, "Key": "from-bal"}
    )
    bucket, vkey = BAL.owner("cp/from-single")
    assert s3_direct.get_object(Bucket=bucket, Key=vkey)["Body"].read() == data
    # A source written before target C existed is copied from where it actually is.
    stray = next(k for k in (f"cp/old-{i}" for i in range(100)) if BAL.owner(k)[0] == C.bucket)
    bs3.put_object(Bucket=OLD.name, Key=stray, Body=b"old")
    bs3.copy_object(
        Bucket=BAL.name, Key="cp/from-stray", CopySource={"Bucket": BAL.name, "Key": stray}
    )
    assert bs3.get_object(Bucket=BAL.name, Key="cp/from-stray")["Body"].read() == b"old"


# -- multipart --------------------------------------------------------------------------------


def test_multipart__pinned_to_the_owner_and_completes(bs3: Any, s3_direct: Any) -> None:
    key = "mp/big.bin"
    part1, part2 = os.urandom(5 * 1024 * 1024), os.urandom(1234)
    upload_id = bs3.create_multipart_upload(Bucket=BAL.name, Key=key)["UploadId"]
    tag, dot, vendor_id = upload_id.partition(".")
    assert dot and tag and vendor_id
    e1 = bs3.upload_part(Bucket=BAL.name, Key=key, UploadId=upload_id, PartNumber=1, Body=part1)[
        "ETag"
    ]
    e2 = bs3.upload_part(Bucket=BAL.name, Key=key, UploadId=upload_id, PartNumber=2, Body=part2)[
        "ETag"
    ]
    listed = bs3.list_multipart_uploads(Bucket=BAL.name, Prefix="mp/")
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [(key, upload_id)]
    parts = bs3.list_parts(Bucket=BAL.name, Key=key, UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part1)), (2, len(part2))]
    done = bs3.complete_multipart_upload(
        Bucket=BAL.name,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert done["ETag"].endswith('-2"')
    bucket, vkey = BAL.owner(key)
    assert _where(s3_direct, BAL, key) == [bucket]
    body = s3_direct.get_object(Bucket=bucket, Key=vkey)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(part1 + part2).digest()
    with pytest.raises(ClientError) as err:
        bs3.abort_multipart_upload(Bucket=BAL.name, Key=key, UploadId="not-ours")
    assert _code(err) == "NoSuchUpload"


def test_multipart__upload_id_still_works_through_the_grown_pbucket(bs3: Any) -> None:
    # Created through OLD (targets A, B), finished through BAL (A, B, C): the id names the target.
    key = next(k for k in (f"mp/grow-{i}" for i in range(100)) if BAL.owner(k)[0] == C.bucket)
    upload_id = bs3.create_multipart_upload(Bucket=OLD.name, Key=key)["UploadId"]
    etag = bs3.upload_part(
        Bucket=BAL.name, Key=key, UploadId=upload_id, PartNumber=1, Body=b"tail"
    )["ETag"]
    listed = bs3.list_multipart_uploads(Bucket=BAL.name, Prefix="mp/grow-")
    assert [u["UploadId"] for u in listed["Uploads"]] == [upload_id]
    bs3.complete_multipart_upload(
        Bucket=BAL.name,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert bs3.get_object(Bucket=BAL.name, Key=key)["Body"].read() == b"tail"
    upload_id = bs3.create_multipart_upload(Bucket=BAL.name, Key="mp/aborted")["UploadId"]
    bs3.abort_multipart_upload(Bucket=BAL.name, Key="mp/aborted", UploadId=upload_id)
    assert bs3.list_multipart_uploads(Bucket=BAL.name, Prefix="mp/aborted").get("Uploads", []) == []


@pytest.mark.parametrize("dest", ["balance", "single"])
def test_upload_part_copy__from_a_balance_source(bs3: Any, dest: str) -> None:
    # Source and destination owners differ for most keys: some parts copy server-side (one
    # upstream), others stream (far -> weed); the bytes must come out the same either way.
    src = os.urandom(5 * 1024 * 1024 + 99)
    bs3.put_object(Bucket=BAL.name, Key=f"upc/src-{dest}", Body=src)
    bucket = BAL.name if dest == "balance" else SINGLE
    for n in range(4):
        key = f"upc/{dest}-{n}"
        up = bs3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = []
        for number, rng in enumerate(
            [(0, 5 * 1024 * 1024 - 1), (5 * 1024 * 1024, len(src) - 1)], 1
        ):
            r = bs3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=up,
                PartNumber=number,
                CopySource={"Bucket": BAL.name, "Key": f"upc/src-{dest}"},
                CopySourceRange=f"bytes={rng[0]}-{rng[1]}",
            )
            parts.append({"PartNumber": number, "ETag": r["CopyPartResult"]["ETag"]})
        bs3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": parts}
        )
        assert bs3.get_object(Bucket=bucket, Key=key)["Body"].read() == src


SPECIAL_KEYS = [
    "sp/a+b",
    "sp/a b",
    "sp/a%b",
    "sp/é",
    "sp/e\u0301",
    "sp/日本/語",
    "sp/'\"<>&$",
    "sp/" + "k" * 200,
]


def test_special_keys__round_trip_and_list_exactly(bs3: Any, s3_direct: Any) -> None:
    for key in SPECIAL_KEYS:
        bs3.put_object(Bucket=BAL.name, Key=key, Body=key.encode())
    for key in SPECIAL_KEYS:
        assert bs3.get_object(Bucket=BAL.name, Key=key)["Body"].read() == key.encode()
        assert _where(s3_direct, BAL, key) == [BAL.owner(key)[0]]
    # boto3 asks for encoding-type=url on its own and decodes: the gateway's encoding is checked.
    for op in (bs3.list_objects_v2, bs3.list_objects):
        listed = op(Bucket=BAL.name, Prefix="sp/")
        assert [o["Key"] for o in listed["Contents"]] == sorted(
            SPECIAL_KEYS, key=lambda k: k.encode()
        )
    out = bs3.list_objects_v2(Bucket=BAL.name, Prefix="sp/", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["sp/日本/"]


# -- cache ------------------------------------------------------------------------------------


def test_cache__second_get_is_a_hit_that_reaches_no_vendor(bs3: Any, far: FaultProxy) -> None:
    key = next(k for k in (f"cache/{i}" for i in range(100)) if BAL.owner(k)[0] == B.bucket)
    data = os.urandom(300_000)
    bs3.put_object(Bucket=BAL.name, Key=key, Body=data)
    first = bs3.get_object(Bucket=BAL.name, Key=key)
    assert first["Body"].read() == data
    assert first["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "miss"
    far.reset_counters()
    second = bs3.get_object(Bucket=BAL.name, Key=key)
    assert second["Body"].read() == data
    assert second["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"] == "hit"
    assert far.requests == 0


# -- listing (through the gateway) ------------------------------------------------------------

LIST_KEYS = sorted(
    [f"a/{i}" for i in range(9)]
    + [f"b/x/{i}" for i in range(7)]
    + [f"c{i:02d}" for i in range(20)]
    + ["d/", "d/e", "z"]
)


@pytest.fixture(scope="module")
def listing(bs3: Any) -> list[str]:
    for k in LIST_KEYS:
        bs3.put_object(Bucket=LST.name, Key=k, Body=b"")
    return LIST_KEYS


def _expected(keys: list[str], prefix: str, delimiter: str | None) -> tuple[list[str], list[str]]:
    entries, prefixes = [], []
    for k in keys:
        if not k.startswith(prefix):
            continue
        at = k.find(delimiter, len(prefix)) if delimiter else -1
        if at < 0:
            entries.append(k)
        elif (p := k[: at + len(delimiter or "")]) not in prefixes:
            prefixes.append(p)
    return entries, prefixes


@pytest.mark.parametrize("delimiter", [None, "/"])
@pytest.mark.parametrize("prefix", ["", "b/", "c"])
@pytest.mark.parametrize("page_size", [1, 4, 1000])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_listing__merged_exact_with_and_without_delimiter(
    bs3: Any,
    s3_direct: Any,
    listing: list[str],
    delimiter: str | None,
    prefix: str,
    page_size: int,
    version: str,
) -> None:
    # The keys really are spread: every listing target holds some of them.
    assert all(s3_direct.list_objects_v2(Bucket=t.bucket).get("KeyCount", 0) for t in LST.targets)
    op = "list_objects_v2" if version == "v2" else "list_objects"
    args: dict[str, Any] = {"Bucket": LST.name, "Prefix": prefix}
    if delimiter:
        args["Delimiter"] = delimiter
    entries: list[str] = []
    prefixes: list[str] = []
    pages = 0
    for page in bs3.get_paginator(op).paginate(**args, PaginationConfig={"PageSize": page_size}):
        got_e = [o["Key"] for o in page.get("Contents", [])]
        got_p = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert len(got_e) + len(got_p) <= page_size
        if version == "v2":
            assert page["KeyCount"] == len(got_e) + len(got_p)
        entries += got_e
        prefixes += got_p
        pages += 1
    want_e, want_p = _expected(listing, prefix, delimiter)
    assert entries == want_e
    assert prefixes == want_p
    assert pages == max(1, -(-(len(want_e) + len(want_p)) // page_size))


def test_listing__start_after_and_max_keys_zero(bs3: Any, listing: list[str]) -> None:
    out = bs3.list_objects_v2(Bucket=LST.name, StartAfter="c05", MaxKeys=3)
    assert [o["Key"] for o in out["Contents"]] == [k for k in listing if k > "c05"][:3]
    assert out["IsTruncated"]
    out = bs3.list_objects_v2(Bucket=LST.name, MaxKeys=0)
    assert out["KeyCount"] == 0 and not out["IsTruncated"]


# -- 10,000 keys over 3 targets ---------------------------------------------------------------

BIG_KEYS = [f"{i % 50:02d}/{i:05d}" for i in range(10_000)]


@pytest.fixture(scope="module")
def big(seaweed: SeaweedServer, gw: GatewayProcess) -> dict[str, int]:
    """10,000 keys written straight to their owners' vendor buckets, on the placement computed
    here from router.placement (a PUT each through the gateway would take minutes; through the
    vendor's filer API it is ~2.5x faster than S3 PUTs); returns how many each bucket got."""
    counts: dict[str, int] = {}
    placed = [(*BIG.owner(k), k.encode()) for k in BIG_KEYS]
    for bucket, _, _ in placed:
        counts[bucket] = counts.get(bucket, 0) + 1
    put_many(seaweed, placed)
    return counts


def test_big__keys_spread_within_ten_percent_per_target(
    big: dict[str, int], s3_direct: Any
) -> None:
    for t in BIG.targets:
        n = sum(
            page.get("KeyCount", 0)
            for page in s3_direct.get_paginator("list_objects_v2").paginate(Bucket=t.bucket)
        )
        assert n == big[t.bucket]
        assert abs(n - 10_000 / 3) <= 0.10 * 10_000 / 3


@pytest.mark.parametrize(("version", "page_size"), [("v2", 1000), ("v1", 999)])
def test_big__pagination_returns_each_key_exactly_once(
    bs3: Any, big: dict[str, int], version: str, page_size: int
) -> None:
    op = "list_objects_v2" if version == "v2" else "list_objects"
    start = time.monotonic()
    keys = [
        o["Key"]
        for page in bs3.get_paginator(op).paginate(
            Bucket=BIG.name, PaginationConfig={"PageSize": page_size}
        )
        for o in page.get("Contents", [])
    ]
    elapsed = time.monotonic() - start
    assert keys == sorted(BIG_KEYS)
    print(f"listed 10,000 keys over 3 targets ({version}, {page_size}/page) in {elapsed:.2f} s")


def test_big__delimiter_rolls_up_across_targets(bs3: Any, big: dict[str, int]) -> None:
    out = bs3.list_objects_v2(Bucket=BIG.name, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == [f"{i:02d}/" for i in range(50)]
    assert "Contents" not in out and not out["IsTruncated"]
    keys = [
        o["Key"]
        for page in bs3.get_paginator("list_objects_v2").paginate(
            Bucket=BIG.name, Prefix="07/", Delimiter="/", PaginationConfig={"PageSize": 150}
        )
        for o in page.get("Contents", [])
    ]
    assert keys == sorted(k for k in BIG_KEYS if k.startswith("07/"))
