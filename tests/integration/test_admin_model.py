"""Vendors and PBuckets through the admin API, end to end: real gateway processes sharing the
session Redis, SeaweedFS behind them, requests signed by botocore.

Two extra nodes (A and B) allowlist exactly the SeaweedFS endpoint (HOST:PORT), so any other
loopback address is refused by the SSRF guard there; the session gateway allowlists 127.0.0.0/8
and declares vendors `seaweed` and `local` and PBucket `pb-local` in its config.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from botocore.exceptions import ClientError

from auth.secrets import SecretBox
from router.vendor_store import VENDORS_KEY
from tests.conftest import _empty_and_delete
from tests.integration.conftest import LOCAL_PBUCKET
from tests.integration.test_admin_api import NO_BODY, AdminApi, doc, uid
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import TEST_MASTER_KEY_HEX, until
from tests.rig.seaweed import SeaweedServer

VENDORS = "/admin/v1/vendors"
PBUCKETS = "/admin/v1/pbuckets"


def _node_config(seaweed: SeaweedServer, redis_url: str) -> str:
    return f"""
[node]
region = "us-east-1"
vendor_allowlist = ["{urlsplit(seaweed.endpoint).netloc}"]  # exactly SeaweedFS, nothing else

[redis]
url = "{redis_url}"

[vendors.seaweed]
type = "s3"
endpoint = "{seaweed.endpoint}"
access_key = "{seaweed.access_key}"
secret_key = "{seaweed.secret_key}"
read_timeout = 30

[buckets]
default_vendor = "seaweed"
"""


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer, redis_server: str
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    config = _node_config(seaweed, redis_server)
    env = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}
    a_dir, b_dir = tmp_path_factory.mktemp("node-a"), tmp_path_factory.mktemp("node-b")
    with (
        GatewayProcess(a_dir, config=config, extra_env=env) as a,
        GatewayProcess(b_dir, config=config, extra_env=env) as b,
    ):
        yield a, b


def _api(gw: GatewayProcess) -> AdminApi:
    return AdminApi(gw.endpoint, gw.access_key, gw.secret_key, "root")


@pytest.fixture(scope="module")
def root(gateway: GatewayProcess) -> AdminApi:
    return _api(gateway)


def _vendor_body(seaweed: SeaweedServer, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "endpoint": seaweed.endpoint,
        "access_key": seaweed.access_key,
        "secret_key": seaweed.secret_key,
        "profile": "seaweedfs",
        **extra,
    }


@pytest.fixture
def second_bucket(s3_direct: Any) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:24]}"
    s3_direct.create_bucket(Bucket=name)
    yield name
    _empty_and_delete(s3_direct, name)


def _keys(client: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


# --- vendors ---------------------------------------------------------------------------------


def test_vendors__round_trip_and_the_secret_is_never_returned(
    root: AdminApi, seaweed: SeaweedServer
) -> None:
    name = uid("v")
    created = root.call("POST", VENDORS, _vendor_body(seaweed, name, storage_classes={"cold": "X"}))
    assert created.status == 201, created.raw
    record = created.json
    assert record["managed_by"] == "api" and record["type"] == "s3"
    assert record["addressing_style"] == "path" and record["profile"] == "seaweedfs"
    assert record["storage_classes"] == {"hot": "STANDARD", "cold": "X", "archive": "STANDARD"}
    assert root.ok("GET", f"{VENDORS}/{name}") == record
    listed = {v["name"]: v for v in root.ok("GET", VENDORS)["items"]}
    assert listed[name] == record
    assert listed["seaweed"]["managed_by"] == "config"
    assert listed["local"] == {"name": "local", "type": "local", "managed_by": "config"}

    patched = root.ok("PATCH", f"{VENDORS}/{name}", {"read_timeout": 12.5, "retries": 0})
    assert (patched["read_timeout"], patched["retries"], patched["endpoint"]) == (
        12.5,
        0,
        seaweed.endpoint,
    )
    put = {"endpoint": seaweed.endpoint, "access_key": "other-ak", "region": "eu-west-1"}
    replaced = root.ok("PUT", f"{VENDORS}/{name}", put)
    # PUT replaces: what it does not name is back to its default (profile generic, 60 s).
    assert (replaced["access_key"], replaced["region"], replaced["profile"]) == (
        "other-ak",
        "eu-west-1",
        "generic",
    )
    assert replaced["read_timeout"] == 60 and replaced["created"] == record["created"]
    replies = [created.raw, json.dumps([listed, patched, replaced]).encode()]
    assert not any(seaweed.secret_key.encode() in r for r in replies)
    assert all("secret" not in key for key in record)

    assert root.call("DELETE", f"{VENDORS}/{name}").status == 204
    missing = root.call("GET", f"{VENDORS}/{name}")
    assert (missing.status, missing.code) == (404, "NoSuchEntity")
    assert root.call("DELETE", f"{VENDORS}/{name}").status == 404


def _every_redis_value(client: redis.Redis) -> Iterator[bytes]:
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        yield key
        if kind == b"string":
            yield client.get(key) or b""
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                yield field
                yield value
        elif kind == b"set":
            yield from client.smembers(key)
        elif kind == b"zset":
            yield from (m for m, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"list":
            yield from client.lrange(key, 0, -1)
        elif kind == b"stream":
            for _, entry in client.xrange(key):
                for field, value in entry.items():
                    yield field
                    yield value


def test_vendors__secret_is_sealed_in_redis_and_absent_from_replies_and_logs(
    gateway: GatewayProcess, root: AdminApi, seaweed: SeaweedServer, redis_server: str
) -> None:
    """ADM-02 for vendors: every Redis value read, no plaintext secret anywhere."""
    name, secret = uid("v-sec"), f"vendor-secret-{uuid.uuid4().hex}"
    body = _vendor_body(seaweed, name, secret_key=secret)
    replies = [root.call("POST", VENDORS, body)]
    assert replies[0].status == 201
    replies.append(root.call("PATCH", f"{VENDORS}/{name}", {"secret_key": secret + "-2"}))
    replies += [root.call("GET", f"{VENDORS}/{name}"), root.call("GET", VENDORS)]
    assert [r.status for r in replies] == [201, 200, 200, 200]
    client = redis.Redis.from_url(redis_server)
    try:
        values = list(_every_redis_value(client))
        stored = json.loads(client.hget(VENDORS_KEY, name) or b"{}")
    finally:
        client.close()
    assert len(values) > 10
    for value in values:
        assert secret.encode() not in value
    # It is there, sealed, and opens only with the master key and this vendor's name.
    box = SecretBox(bytes.fromhex(TEST_MASTER_KEY_HEX))
    assert box.decrypt(stored["secret_sealed"], f"pc:rt:vendor:{name}") == secret + "-2"
    for reply in replies:
        assert secret.encode() not in reply.raw
    assert secret not in gateway.log_text()
    root.ok("DELETE", f"{VENDORS}/{name}", status=204)


#: changes to a valid body (None: leave the field out) and the field the error must name
VENDOR_VALIDATION = [
    ({"name": None}, "name"),
    ({"name": "a*b"}, "name"),
    ({"endpoint": None}, "endpoint"),
    ({"endpoint": "ftp://127.0.0.1/"}, "endpoint"),
    ({"endpoint": "http://user:pw@127.0.0.1:1/"}, "endpoint"),
    ({"endpoint": 5}, "endpoint"),
    ({"access_key": None}, "access_key"),
    ({"type": "local"}, "type"),
    ({"profile": "nope"}, "profile"),
    ({"addressing_style": "dns"}, "addressing_style"),
    ({"read_timeout": 0}, "read_timeout"),
    ({"connect_timeout": "5"}, "connect_timeout"),
    ({"retries": 11}, "retries"),
    ({"breaker_failures": 0}, "breaker_failures"),
    ({"verify_tls": "yes"}, "verify_tls"),
    ({"storage_classes": {"warm": "X"}}, "storage_classes.warm"),
    ({"storage_classes": "cold"}, "storage_classes"),
    ({"secret_key": ""}, "secret_key"),
    ({"secret_key": None}, "secret_key"),
    ({"secret": "x"}, "secret"),
]


@pytest.mark.parametrize(("change", "field"), VENDOR_VALIDATION)
def test_create_vendor__validation_error_names_the_field(
    root: AdminApi, seaweed: SeaweedServer, change: dict[str, Any], field: str
) -> None:
    body = {**_vendor_body(seaweed, uid("v-bad")), **change}
    body = {k: v for k, v in body.items() if v is not None}
    reply = root.call("POST", VENDORS, body)
    assert (reply.status, reply.code, reply.json.get("field")) == (400, "ValidationError", field)
    if "name" in body and field != "name":
        assert root.call("GET", f"{VENDORS}/{body['name']}").status == 404


class _Listener:
    """A TCP port on loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


def test_vendors__ssrf_guard_refuses_private_endpoints_and_never_connects(
    nodes: tuple[GatewayProcess, GatewayProcess], seaweed: SeaweedServer
) -> None:
    a = _api(nodes[0])
    listener = _Listener()
    try:
        refused = [
            "http://169.254.169.254/",
            "http://10.0.0.1:9000",
            "http://100.100.100.200/",
            f"http://127.0.0.1:{listener.port}",
            f"http://localhost:{listener.port}/",
            f"http://[::ffff:127.0.0.1]:{listener.port}",
            "http://metadata.google.internal/",
        ]
        for endpoint in refused:
            name = uid("v-ssrf")
            reply = a.call("POST", VENDORS, _vendor_body(seaweed, name, endpoint=endpoint))
            assert (reply.status, reply.code, reply.json["field"]) == (
                400,
                "ValidationError",
                "endpoint",
            ), endpoint
            assert a.call("GET", f"{VENDORS}/{name}").status == 404
        # An existing vendor cannot be moved there either.
        name = uid("v-ssrf")
        a.ok("POST", VENDORS, _vendor_body(seaweed, name), status=201)
        moved = a.call(
            "PATCH", f"{VENDORS}/{name}", {"endpoint": f"http://127.0.0.1:{listener.port}"}
        )
        assert (moved.status, moved.json["field"]) == (400, "endpoint")
        assert a.ok("GET", f"{VENDORS}/{name}")["endpoint"] == seaweed.endpoint
        a.ok("DELETE", f"{VENDORS}/{name}", status=204)
        assert listener.accepted == 0
    finally:
        listener.close()


def test_config_managed__vendors_and_pbuckets_refuse_changes(root: AdminApi) -> None:
    local = {"vendor": "local", "bucket": "lb"}
    cases = [
        ("PATCH", f"{VENDORS}/seaweed", {"read_timeout": 5}, 409, "ManagedByConfig"),
        ("PUT", f"{VENDORS}/seaweed", {"endpoint": "http://127.0.0.1:1", "access_key": "a"}, 409,
         "ManagedByConfig"),
        ("DELETE", f"{VENDORS}/local", NO_BODY, 409, "ManagedByConfig"),
        ("POST", VENDORS, {"name": "seaweed", "endpoint": "http://127.0.0.1:1", "access_key": "a",
                           "secret_key": "s"}, 409, "EntityAlreadyExists"),
        ("PUT", f"{PBUCKETS}/{LOCAL_PBUCKET}", {"targets": [{"vendor": "local", "bucket": "lb"}]},
         409, "ManagedByConfig"),
        ("DELETE", f"{PBUCKETS}/{LOCAL_PBUCKET}", NO_BODY, 409, "ManagedByConfig"),
        ("POST", PBUCKETS, {"name": LOCAL_PBUCKET, "targets": [local]}, 409, "EntityAlreadyExists"),
    ]  # fmt: skip
    for method, path, body, status, code in cases:
        reply = root.call(method, path, body)
        assert (reply.status, reply.code) == (status, code), (method, path, reply.raw)
    shown = root.ok("GET", f"{PBUCKETS}/{LOCAL_PBUCKET}")
    assert shown["managed_by"] == "config"
    assert shown["targets"] == [
        {"vendor": "local", "bucket": "lb", "prefix": "tenant/", "weight": 1.0, "region": None}
    ]


# --- PBuckets --------------------------------------------------------------------------------


def test_pbuckets__round_trip_delete_keeps_the_vendor_bucket(
    root: AdminApi, s3: Any, s3_direct: Any, vendor_bucket: str, second_bucket: str
) -> None:
    name = uid("pb")
    s3_direct.put_object(Bucket=vendor_bucket, Key="kept", Body=b"data")
    body = {"name": name, "targets": [{"vendor": "seaweed", "bucket": vendor_bucket}]}
    created = root.ok("POST", PBUCKETS, body, status=201)
    assert (created["policy"], created["owner"], created["managed_by"]) == ("single", "root", "api")
    assert root.ok("GET", f"{PBUCKETS}/{name}") == created
    assert created in root.ok("GET", PBUCKETS)["items"]
    assert _keys(s3, name) == ["kept"]
    assert s3.get_object(Bucket=name, Key="kept")["Body"].read() == b"data"

    targets = [
        {"vendor": "seaweed", "bucket": vendor_bucket, "weight": 3, "region": "eu"},
        {"vendor": "seaweed", "bucket": second_bucket, "prefix": "p/"},
    ]
    updated = root.ok("PUT", f"{PBUCKETS}/{name}", {"policy": "balance", "targets": targets})
    assert updated["policy"] == "balance" and updated["created"] == created["created"]
    assert [t["weight"] for t in updated["targets"]] == [3.0, 1.0]
    again = root.call("POST", PBUCKETS, body)
    assert (again.status, again.code) == (409, "EntityAlreadyExists")
    in_use = root.call("DELETE", f"{VENDORS}/seaweed")
    assert in_use.code == "ManagedByConfig"  # config vendors cannot go at all

    assert root.call("DELETE", f"{PBUCKETS}/{name}").status == 204
    gone = root.call("GET", f"{PBUCKETS}/{name}")
    assert (gone.status, gone.code) == (404, "NoSuchBucket")
    assert root.call("DELETE", f"{PBUCKETS}/{name}").status == 404
    assert _keys(s3_direct, vendor_bucket) == ["kept"]  # the vendor bucket and its data stay
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)


def _bad_pbucket(vendor_bucket: str) -> list[tuple[dict[str, Any], str]]:
    one = {"vendor": "seaweed", "bucket": vendor_bucket}
    return [
        ({"name": "Bad_Name", "targets": [one]}, "name"),
        ({"name": "admin", "targets": [one]}, "name"),
        ({"targets": [one]}, "name"),
        ({"targets": []}, "targets"),
        ({"targets": "x"}, "targets"),
        ({}, "targets"),
        ({"targets": [{"vendor": "nope", "bucket": vendor_bucket}]}, "targets[0].vendor"),
        ({"targets": [{"vendor": "seaweed"}]}, "targets[0].bucket"),
        ({"targets": [{**one, "bucket": "a/b"}]}, "targets[0].bucket"),
        ({"targets": [{**one, "bucket": ""}]}, "targets[0].bucket"),
        ({"targets": [{**one, "weight": 0}]}, "targets[0].weight"),
        ({"targets": [{**one, "weight": -1}]}, "targets[0].weight"),
        ({"targets": [{**one, "colour": "red"}]}, "targets[0].colour"),
        ({"targets": [one, {**one, "prefix": "x/"}], "policy": "balance"}, "targets[1]"),
        ({"targets": [one], "policy": "nope"}, "policy"),
        ({"targets": [one, {**one, "bucket": vendor_bucket + "-2"}]}, "targets"),
        ({"targets": [one], "policy": "balance", "write_quorum": 1}, "write_quorum"),
        ({"targets": [one], "policy": "migrate"}, "targets"),
        ({"targets": [one], "owner": "mallory"}, "owner"),
    ]


def test_pbuckets__validation_error_names_the_field(root: AdminApi, vendor_bucket: str) -> None:
    for body, field in _bad_pbucket(vendor_bucket):
        full = {"name": uid("pb-bad"), **body} if field != "name" else body
        reply = root.call("POST", PBUCKETS, full)
        assert (reply.status, reply.code, reply.json.get("field")) == (
            400,
            "ValidationError",
            field,
        ), body
    name = uid("pb-upd")
    one = {"vendor": "seaweed", "bucket": vendor_bucket}
    root.ok("POST", PBUCKETS, {"name": name, "targets": [one]}, status=201)
    for body, field in _bad_pbucket(vendor_bucket):
        if field in ("name", "owner"):
            continue
        reply = root.call("PUT", f"{PBUCKETS}/{name}", body)
        assert (reply.status, reply.json.get("field")) == (400, field), body
    assert root.ok("GET", f"{PBUCKETS}/{name}")["targets"][0]["bucket"] == vendor_bucket
    root.ok("DELETE", f"{PBUCKETS}/{name}", status=204)


def test_authz__admin_actions_on_vendor_and_pbucket_arns(
    root: AdminApi, seaweed: SeaweedServer, vendor_bucket: str
) -> None:
    mine, other = uid("pb-mine"), uid("pb-other")
    v_mine, v_other = uid("v-mine"), uid("v-other")
    for pb in (mine, other):
        body = {"name": pb, "targets": [{"vendor": "seaweed", "bucket": vendor_bucket}]}
        root.ok("POST", PBUCKETS, body, status=201)
    for v in (v_mine, v_other):
        root.ok("POST", VENDORS, _vendor_body(seaweed, v), status=201)
    nobody = root.user(doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    for method, path, body in [
        ("GET", VENDORS, NO_BODY),
        ("GET", PBUCKETS, NO_BODY),
        ("GET", f"{PBUCKETS}/{mine}", NO_BODY),
        ("POST", VENDORS, _vendor_body(seaweed, uid("v"))),
        ("POST", PBUCKETS, {"name": uid("pb"), "targets": [{"vendor": "seaweed", "bucket": "x"}]}),
        ("DELETE", f"{VENDORS}/{v_mine}", NO_BODY),
    ]:
        reply = nobody.call(method, path, body)
        assert (reply.status, reply.code) == (403, "AccessDenied"), (method, path)
    scoped = root.user(
        doc(
            {
                "Effect": "Allow",
                "Action": ["admin:GetPBucket", "admin:UpdatePBucket"],
                "Resource": f"arn:aws:s3:::{mine}",
            },
            {
                "Effect": "Allow",
                "Action": "admin:GetVendor",
                "Resource": f"arn:aws:iam::000000000000:vendor/{v_mine}",
            },
        )
    )
    assert scoped.ok("GET", f"{PBUCKETS}/{mine}")["name"] == mine
    update = {"targets": [{"vendor": "seaweed", "bucket": vendor_bucket, "prefix": "x/"}]}
    assert scoped.ok("PUT", f"{PBUCKETS}/{mine}", update)["targets"][0]["prefix"] == "x/"
    assert scoped.ok("GET", f"{VENDORS}/{v_mine}")["name"] == v_mine
    for method, path, body in [
        ("GET", f"{PBUCKETS}/{other}", NO_BODY),
        ("PUT", f"{PBUCKETS}/{other}", update),
        ("DELETE", f"{PBUCKETS}/{mine}", NO_BODY),
        ("GET", f"{VENDORS}/{v_other}", NO_BODY),
        ("PATCH", f"{VENDORS}/{v_mine}", {"retries": 1}),
    ]:
        assert scoped.call(method, path, body).status == 403, (method, path)
    for pb in (mine, other):
        root.ok("DELETE", f"{PBUCKETS}/{pb}", status=204)
    for v in (v_mine, v_other):
        root.ok("DELETE", f"{VENDORS}/{v}", status=204)


# --- two nodes -------------------------------------------------------------------------------


def test_api_vendor_and_pbucket__serve_s3_on_every_node(
    nodes: tuple[GatewayProcess, GatewayProcess],
    seaweed: SeaweedServer,
    s3_direct: Any,
) -> None:
    """A vendor and a PBucket made through node A serve boto3 PUT/GET through both nodes; a
    broken secret set through A reaches B too (B rebuilds its client), and so does the fix."""
    a, b = _api(nodes[0]), _api(nodes[1])
    s3_a, s3_b = nodes[0].client(), nodes[1].client()
    vendor, pb, vbucket = uid("v-api"), uid("pb-api"), f"t-{uuid.uuid4().hex[:24]}"
    a.ok("POST", VENDORS, _vendor_body(seaweed, vendor), status=201)
    body = {"name": pb, "targets": [{"vendor": vendor, "bucket": vbucket}], "create_buckets": True}
    a.ok("POST", PBUCKETS, body, status=201)
    try:
        s3_b.put_object(Bucket=pb, Key="k", Body=b"through B")
        assert s3_a.get_object(Bucket=pb, Key="k")["Body"].read() == b"through B"
        assert s3_direct.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"through B"

        a.ok("PATCH", f"{VENDORS}/{vendor}", {"secret_key": "wrong-secret"})
        broken = until(lambda: _fails(lambda: s3_b.list_objects_v2(Bucket=pb)), timeout=5)
        a.ok("PATCH", f"{VENDORS}/{vendor}", {"secret_key": seaweed.secret_key})
        fixed = until(lambda: not _fails(lambda: s3_b.list_objects_v2(Bucket=pb)), timeout=5)
        print(f"vendor change seen by node B after {broken:.3f} s / {fixed:.3f} s")
        assert broken < 1.0 and fixed < 1.0
        in_use = a.call("DELETE", f"{VENDORS}/{vendor}")
        assert (in_use.status, in_use.code) == (409, "DeleteConflict")
    finally:
        a.ok("DELETE", f"{PBUCKETS}/{pb}", status=204)
        a.ok("DELETE", f"{VENDORS}/{vendor}", status=204)
        _empty_and_delete(s3_direct, vbucket)
    missing = b.call("GET", f"{VENDORS}/{vendor}")
    assert missing.status == 404
    for node in nodes:  # the secrets went through both nodes' Redis channel and builders
        assert "wrong-secret" not in node.log_text()
        assert f"vendor {vendor} ready" in node.log_text()


def _fails(call: Any) -> bool:
    try:
        call()
    except ClientError:
        return True
    return False


def test_pbucket_update__reaches_the_other_node_within_a_second(
    nodes: tuple[GatewayProcess, GatewayProcess],
    s3_direct: Any,
    vendor_bucket: str,
    second_bucket: str,
) -> None:
    """Node B has just read the PBucket (its 1 s cache is fresh) when node A changes the
    targets: B must list the new target's objects well before that cache would expire."""
    a, s3_b = _api(nodes[0]), nodes[1].client()
    s3_direct.put_object(Bucket=vendor_bucket, Key="on-first", Body=b"1")
    s3_direct.put_object(Bucket=second_bucket, Key="on-second", Body=b"2")
    pb = uid("pb-flip")
    first = {"targets": [{"vendor": "seaweed", "bucket": vendor_bucket}]}
    second = {"targets": [{"vendor": "seaweed", "bucket": second_bucket}]}
    a.ok("POST", PBUCKETS, {"name": pb, **first}, status=201)
    seen: list[float] = []
    try:
        for body, key in [(second, "on-second"), (first, "on-first")] * 3:
            assert _keys(s3_b, pb) != [key]  # B holds the old record, freshly cached
            started = time.monotonic()
            a.ok("PUT", f"{PBUCKETS}/{pb}", body)
            until(lambda key=key: _keys(s3_b, pb) == [key], timeout=5)  # type: ignore[misc]
            seen.append(time.monotonic() - started)
    finally:
        a.ok("DELETE", f"{PBUCKETS}/{pb}", status=204)
    print("PBucket change seen by node B after (s):", " ".join(f"{s:.3f}" for s in seen))
    assert max(seen) < 1.0
    # Well inside the 1 s cache TTL: the change message did it, not the expiry.
    assert max(seen) < 0.5


def test_nodes__api_vendors_are_built_at_start(
    tmp_path: Path, seaweed: SeaweedServer, redis_server: str, s3_direct: Any
) -> None:
    """A node started after the vendor and PBucket were created serves them at once."""
    env = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}
    config = _node_config(seaweed, redis_server)
    vendor, pb, vbucket = uid("v-start"), uid("pb-start"), f"t-{uuid.uuid4().hex[:24]}"
    s3_direct.create_bucket(Bucket=vbucket)
    s3_direct.put_object(Bucket=vbucket, Key="there", Body=b"yes")
    with GatewayProcess(tmp_path / "first", config=config, extra_env=env) as first:
        api = _api(first)
        api.ok("POST", VENDORS, _vendor_body(seaweed, vendor), status=201)
        api.ok("POST", PBUCKETS, {"name": pb, "targets": [{"vendor": vendor, "bucket": vbucket}]},
               status=201)  # fmt: skip
    try:
        with GatewayProcess(tmp_path / "later", config=config, extra_env=env) as later:
            assert later.client().get_object(Bucket=pb, Key="there")["Body"].read() == b"yes"
            api = _api(later)
            api.ok("DELETE", f"{PBUCKETS}/{pb}", status=204)
            api.ok("DELETE", f"{VENDORS}/{vendor}", status=204)
    finally:
        _empty_and_delete(s3_direct, vbucket)


def test_s3_delete_bucket__keeps_the_vendor_bucket_of_an_admin_pbucket(
    root: AdminApi, s3: Any, s3_direct: Any, vendor_bucket: str
) -> None:
    """S3 DeleteBucket drops only vendor buckets CreateBucket made; an admin-declared PBucket
    (here on a prefix of a shared vendor bucket) keeps its vendor bucket, like a config one."""
    s3_direct.put_object(Bucket=vendor_bucket, Key="outside/keep", Body=b"not ours")
    name = uid("pb-s3del")
    target = {"vendor": "seaweed", "bucket": vendor_bucket, "prefix": "inside/"}
    root.ok("POST", PBUCKETS, {"name": name, "targets": [target]}, status=201)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=name)
    assert err.value.response["Error"]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    assert root.call("GET", f"{PBUCKETS}/{name}").status == 404
    assert _keys(s3_direct, vendor_bucket) == ["outside/keep"]


def test_pbuckets__replicate_takes_a_write_quorum(
    root: AdminApi, vendor_bucket: str, second_bucket: str
) -> None:
    from router.views import POLICIES

    if "replicate" not in POLICIES:
        pytest.skip("this build has no replicate policy")
    name = uid("pb-rep")
    targets = [
        {"vendor": "seaweed", "bucket": vendor_bucket},
        {"vendor": "seaweed", "bucket": second_bucket},
    ]
    too_many = {"name": name, "policy": "replicate", "targets": targets, "write_quorum": 3}
    reply = root.call("POST", PBUCKETS, too_many)
    assert (reply.status, reply.json["field"]) == (400, "write_quorum")
    created = root.ok("POST", PBUCKETS, {**too_many, "write_quorum": 1}, status=201)
    assert (created["policy"], created["write_quorum"]) == ("replicate", 1)
    # PUT without write_quorum: back to the policy's default (every target).
    updated = root.ok("PUT", f"{PBUCKETS}/{name}", {"targets": targets})
    assert (updated["policy"], updated["write_quorum"]) == ("replicate", None)
    balanced = root.ok("PUT", f"{PBUCKETS}/{name}", {"policy": "balance", "targets": targets})
    assert balanced["write_quorum"] is None
    root.ok("DELETE", f"{PBUCKETS}/{name}", status=204)
