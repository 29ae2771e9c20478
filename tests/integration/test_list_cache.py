"""The listing-page cache end to end: two gateway nodes sharing the session's Redis, their S3
vendor SeaweedFS behind the counting proxy (`far`). Cached pages save vendor requests within
the PBucket's freshness, a write through either node is in the next listing on both, an
out-of-band write shows once max-age is up, and `revalidate` listings always ask the vendor."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.rig.cachegw import SHARED_KEY, far_config
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

_TAG = uuid.uuid4().hex[:8]
#: no rules: the node default, max-age=600
PB = f"lc-{_TAG}"
#: `live/` revalidates, `short/` is trusted for SHORT seconds, `frozen/` is immutable
PB_RULES = f"lc-rules-{_TAG}"
SHORT = 3
RULES = f"""
[[cache.rule]]
pbucket = "{PB_RULES}"
prefix = "live/"
freshness = "revalidate"

[[cache.rule]]
pbucket = "{PB_RULES}"
prefix = "short/"
freshness = "max-age={SHORT}"

[[cache.rule]]
pbucket = "{PB_RULES}"
prefix = "frozen/"
freshness = "immutable"
"""


@pytest.fixture(scope="module")
def node_a(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("lc-node-a")
    config = far_config(far, seaweed, redis_server, work / "tier", max_age=600, tail=RULES)
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        client = gw.client()
        for name in (PB, PB_RULES):
            client.create_bucket(Bucket=name)
        yield gw


@pytest.fixture(scope="module")
def node_b(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
    node_a: GatewayProcess,
) -> Iterator[GatewayProcess]:
    """Same vendor, same Redis, same rules, its own tier and its own listing cache."""
    work = tmp_path_factory.mktemp("lc-node-b")
    config = far_config(far, seaweed, redis_server, work / "tier", max_age=600, tail=RULES)
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _proxy_passes(far: FaultProxy) -> Iterator[None]:
    far.mode, far.latency_down_ms = "pass", 0
    yield
    far.mode, far.latency_down_ms = "pass", 0


def _keys(client: Any, bucket: str, prefix: str = "", **kw: Any) -> tuple[list[str], str]:
    out = client.list_objects_v2(Bucket=bucket, Prefix=prefix, **kw)
    keys = [o["Key"] for o in out.get("Contents", [])]
    keys += [p["Prefix"] for p in out.get("CommonPrefixes", [])]
    return keys, out["ResponseMetadata"]["HTTPHeaders"].get("x-pcache-cache", "")


def _v1_keys(client: Any, bucket: str, prefix: str = "") -> tuple[list[str], str]:
    out = client.list_objects(Bucket=bucket, Prefix=prefix)
    keys = [o["Key"] for o in out.get("Contents", [])]
    return keys, out["ResponseMetadata"]["HTTPHeaders"].get("x-pcache-cache", "")


def _metric(node: GatewayProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(node.endpoint + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _fresh_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}/"


def test_list_cache__a_repeated_listing_makes_no_vendor_request(
    node_a: GatewayProcess, far: FaultProxy
) -> None:
    s3 = node_a.client()
    p = _fresh_prefix()
    for i in range(25):
        s3.put_object(Bucket=PB, Key=f"{p}k{i:02}", Body=b"x")
    expected = sorted(f"{p}k{i:02}" for i in range(25))

    def walk() -> tuple[list[str], list[str]]:
        """Every page of a v2 listing, 10 keys a page: its keys and each page's cache result."""
        keys: list[str] = []
        results: list[str] = []
        kw: dict[str, Any] = {}
        while True:
            out = s3.list_objects_v2(Bucket=PB, Prefix=p, MaxKeys=10, **kw)
            keys += [o["Key"] for o in out.get("Contents", [])]
            results.append(out["ResponseMetadata"]["HTTPHeaders"]["x-pcache-cache"])
            if not out["IsTruncated"]:
                return keys, results
            kw = {"ContinuationToken": out["NextContinuationToken"]}

    hits = _metric(node_a, "pcache_list_cache_requests_total", result="hit")
    assert walk() == (expected, ["miss", "miss", "miss"])
    far.reset_counters()
    assert walk() == (expected, ["hit", "hit", "hit"])
    assert far.requests == 0  # every page from the cache
    assert _metric(node_a, "pcache_list_cache_requests_total", result="hit") == hits + 3
    # ListObjects v1 pages are cached alike (the same page request: prefix, marker, max-keys).
    assert _v1_keys(s3, PB, p)[1] == "miss"
    far.reset_counters()
    assert _v1_keys(s3, PB, p) == (expected, "hit")
    assert far.requests == 0


def test_list_cache__every_write_through_the_gateway_is_in_the_next_listing(
    node_a: GatewayProcess,
) -> None:
    s3 = node_a.client()
    p = _fresh_prefix()
    s3.put_object(Bucket=PB, Key=p + "a", Body=b"a")
    s3.put_object(Bucket=PB, Key=p + "b", Body=b"b")

    def cached_listing() -> list[str]:
        keys, result = _keys(s3, PB, p)
        if result != "hit":  # first listing since the last change: the next one is cached
            keys, result = _keys(s3, PB, p)
        assert result == "hit"
        return keys

    assert cached_listing() == [p + "a", p + "b"]
    s3.put_object(Bucket=PB, Key=p + "c", Body=b"c")  # PutObject
    assert _keys(s3, PB, p)[0] == [p + "a", p + "b", p + "c"]
    assert cached_listing() == [p + "a", p + "b", p + "c"]
    s3.delete_object(Bucket=PB, Key=p + "a")  # DeleteObject
    assert _keys(s3, PB, p)[0] == [p + "b", p + "c"]
    assert cached_listing() == [p + "b", p + "c"]
    s3.delete_objects(Bucket=PB, Delete={"Objects": [{"Key": p + "b"}]})  # DeleteObjects
    assert _keys(s3, PB, p)[0] == [p + "c"]
    assert cached_listing() == [p + "c"]
    s3.copy_object(Bucket=PB, Key=p + "d", CopySource={"Bucket": PB, "Key": p + "c"})
    assert _keys(s3, PB, p)[0] == [p + "c", p + "d"]  # CopyObject
    assert cached_listing() == [p + "c", p + "d"]
    upload = s3.create_multipart_upload(Bucket=PB, Key=p + "e")["UploadId"]
    etag = s3.upload_part(Bucket=PB, Key=p + "e", UploadId=upload, PartNumber=1, Body=b"e")["ETag"]
    assert cached_listing() == [p + "c", p + "d"]  # an upload in progress is not an object
    s3.complete_multipart_upload(
        Bucket=PB,
        Key=p + "e",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert _keys(s3, PB, p)[0] == [p + "c", p + "d", p + "e"]  # CompleteMultipartUpload
    # An overwrite changes the listed size and ETag, not the keys.
    s3.put_object(Bucket=PB, Key=p + "c", Body=b"longer")
    listed = s3.list_objects_v2(Bucket=PB, Prefix=p)["Contents"]
    assert listed[0]["Size"] == len(b"longer")
    assert listed[0]["ETag"] == s3.head_object(Bucket=PB, Key=p + "c")["ETag"]


def test_list_cache__a_write_through_one_node_is_in_the_other_nodes_next_listing(
    node_a: GatewayProcess, node_b: GatewayProcess
) -> None:
    a, b = node_a.client(), node_b.client()
    p = _fresh_prefix()
    a.put_object(Bucket=PB, Key=p + "1", Body=b"1")
    _keys(b, PB, p)
    assert _keys(b, PB, p) == ([p + "1"], "hit")  # B holds the page
    a.put_object(Bucket=PB, Key=p + "2", Body=b"2")
    until(lambda: _keys(b, PB, p)[0] == [p + "1", p + "2"], what="B to list A's write")
    _keys(b, PB, p)
    assert _keys(b, PB, p) == ([p + "1", p + "2"], "hit")
    a.delete_object(Bucket=PB, Key=p + "1")
    until(lambda: _keys(b, PB, p)[0] == [p + "2"], what="B to list A's delete")


def test_list_cache__an_out_of_band_write_shows_once_max_age_is_up(
    node_a: GatewayProcess, s3_direct: Any
) -> None:
    s3 = node_a.client()
    p = "short/" + _fresh_prefix()
    s3.put_object(Bucket=PB_RULES, Key=p + "a", Body=b"a")
    assert _keys(s3, PB_RULES, p) == ([p + "a"], "miss")
    cached_at = time.monotonic()
    s3_direct.put_object(Bucket=PB_RULES, Key=p + "b", Body=b"behind our back")
    assert _keys(s3, PB_RULES, p) == ([p + "a"], "hit")  # within max-age: the cached page
    until(lambda: _keys(s3, PB_RULES, p)[0] == [p + "a", p + "b"], timeout=SHORT + 5)
    assert time.monotonic() - cached_at >= SHORT - 0.1
    # Immutable prefixes are cached for the node's default max-age, and still see our writes.
    f = "frozen/" + _fresh_prefix()
    s3.put_object(Bucket=PB_RULES, Key=f + "a", Body=b"a")
    _keys(s3, PB_RULES, f)
    s3_direct.put_object(Bucket=PB_RULES, Key=f + "b", Body=b"behind our back")
    assert _keys(s3, PB_RULES, f) == ([f + "a"], "hit")
    s3.put_object(Bucket=PB_RULES, Key=f + "c", Body=b"c")
    assert _keys(s3, PB_RULES, f)[0] == [f + "a", f + "b", f + "c"]


def test_list_cache__revalidate_listings_always_ask_the_vendor(
    node_a: GatewayProcess, s3_direct: Any, far: FaultProxy
) -> None:
    s3 = node_a.client()
    p = "live/" + _fresh_prefix()
    s3.put_object(Bucket=PB_RULES, Key=p + "a", Body=b"a")
    far.reset_counters()
    assert _keys(s3, PB_RULES, p) == ([p + "a"], "bypass")
    assert _keys(s3, PB_RULES, p) == ([p + "a"], "bypass")
    assert far.requests == 2
    s3_direct.put_object(Bucket=PB_RULES, Key=p + "b", Body=b"behind our back")
    assert _keys(s3, PB_RULES, p)[0] == [p + "a", p + "b"]
    # The PBucket as a whole (or any prefix above live/) lists live/ keys too: not cached.
    far.reset_counters()
    assert _keys(s3, PB_RULES, "", Delimiter="/")[1] == "bypass"
    assert _keys(s3, PB_RULES, "", Delimiter="/")[1] == "bypass"
    assert far.requests == 2


def test_list_cache__a_deleted_pbucket_answers_no_such_bucket_not_a_cached_page(
    node_a: GatewayProcess, node_b: GatewayProcess
) -> None:
    a, b = node_a.client(), node_b.client()
    name = f"lc-gone-{uuid.uuid4().hex[:8]}"
    a.create_bucket(Bucket=name)
    _keys(b, name)
    assert _keys(b, name) == ([], "hit")
    a.delete_bucket(Bucket=name)

    def b_says_no_such_bucket() -> bool:
        try:
            b.list_objects_v2(Bucket=name)
        except b.exceptions.NoSuchBucket:
            return True
        return False

    until(b_says_no_such_bucket, what="B to see the PBucket gone")
    a.create_bucket(Bucket=name)
    a.put_object(Bucket=name, Key="new", Body=b"n")
    until(lambda: _keys(b, name)[0] == ["new"], what="B to list the new PBucket's key")
    a.delete_object(Bucket=name, Key="new")
    a.delete_bucket(Bucket=name)
