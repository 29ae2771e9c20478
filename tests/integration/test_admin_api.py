"""The admin REST API end to end: real `pcache serve`, real Redis, requests signed by botocore.

Covers every endpoint of openapi.json (routing and a full tour), the secret shown once (ADM-01),
who may call at all (ADM-07), privilege escalation (IAM-24), policy validation, conflicts, and
that an API change reaches the S3 listener at once. Names carry a uuid suffix: the gateway is
shared by the whole session.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from gateway.admin.app import ENDPOINTS
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import until
from tests.rig.seaweed import SeaweedServer

ACCOUNT = "000000000000"
REGION = "us-east-1"
NO_BODY = object()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


ADMIN_ALL = doc(allow("admin:*"))
S3_ALL = doc(allow("s3:*"))
TRUST = doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
    }
)


@dataclass(frozen=True)
class Reply:
    status: int
    raw: bytes
    headers: Mapping[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def code(self) -> str:
        return str(self.json["code"])


def send(
    method: str, url: str, data: bytes | None, headers: Mapping[str, str], *, host: str = ""
) -> Reply:
    """Send as is (urllib never re-signs or re-encodes); `host` overrides the connection."""
    target = url
    if host:
        parts = urlsplit(url)
        target = parts._replace(netloc=host).geturl()
    req = urllib.request.Request(target, data=data, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Reply(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read(), dict(err.headers))


class AdminApi:
    """Admin API calls signed with one identity's key (botocore's S3 SigV4 signer)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        name: str = "",
        token: str | None = None,
    ) -> None:
        self.endpoint, self.name = endpoint, name
        self.creds = Credentials(access_key, secret_key, token)

    def call(
        self,
        method: str,
        path: str,
        body: object = NO_BODY,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else b"" if body is NO_BODY else json.dumps(body).encode()
        req = AWSRequest(
            method=method, url=self.endpoint + path, data=data, headers=dict(headers or {})
        )
        if data:
            req.headers["Content-Type"] = "application/json"
        S3SigV4Auth(self.creds, "s3", REGION).add_auth(req)
        prepared = req.prepare()
        return send(method, prepared.url, prepared.body or None, prepared.headers)

    def ok(self, method: str, path: str, body: object = NO_BODY, *, status: int = 200) -> Any:
        reply = self.call(method, path, body)
        assert reply.status == status, (method, path, reply.status, reply.raw)
        return reply.json

    def user(self, *policies: dict[str, Any], prefix: str = "u") -> AdminApi:
        """A new user with these documents as attached managed policies, and a key for it."""
        name = uid(prefix)
        self.ok("POST", "/admin/v1/users", {"name": name}, status=201)
        for i, document in enumerate(policies):
            pname = f"{name}-p{i}"
            self.ok("POST", "/admin/v1/policies", {"name": pname, "document": document}, status=201)
            self.ok("PUT", f"/admin/v1/users/{name}/policies/{pname}")
        key = self.ok("POST", f"/admin/v1/users/{name}/keys", status=201)
        return AdminApi(self.endpoint, key["access_key"], key["secret_key"], name)

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.creds.access_key,
            aws_secret_access_key=self.creds.secret_key,
            aws_session_token=self.creds.token,
            region_name=REGION,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1},
            ),
        )


@pytest.fixture(scope="module")
def root(gateway: GatewayProcess) -> AdminApi:
    return AdminApi(gateway.endpoint, gateway.access_key, gateway.secret_key, "root")


def _openapi(gateway: GatewayProcess) -> dict[str, Any]:
    with urllib.request.urlopen(gateway.endpoint + "/admin/v1/openapi.json", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        return dict(json.loads(resp.read()))


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


SAMPLE = {"name": "sample-name", "policy": "sample-policy", "user": "sample-user"}


def _sample_path(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "AKSAMPLE0000000000"), template)


# --- the contract --------------------------------------------------------------------------------


def test_openapi__describes_exactly_the_routes_and_each_routes_to_its_handler(
    gateway: GatewayProcess,
) -> None:
    spec = _openapi(gateway)
    assert spec["openapi"].startswith("3.1")
    ops = _operations(spec)
    served = {(e.method, e.path): e.iam_action for e in ENDPOINTS}
    assert set(ops) - {("GET", "/admin/v1/openapi.json")} == set(served)
    for key, action in served.items():
        assert ops[key]["x-pcache-action"] == action
    assert "sigv4" in spec["components"]["securitySchemes"]
    for ref in _refs(spec):  # every $ref resolves inside the document
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    for method, template in ops:
        if template == "/admin/v1/openapi.json":
            continue
        # Unsigned: the endpoint's own frame answers 401 (a missing route would be 404 / 405).
        reply = send(method, gateway.endpoint + _sample_path(template), None, {})
        assert (reply.status, reply.code) == (401, "MissingAuthenticationToken"), (method, template)
        assert reply.headers["WWW-Authenticate"] == "AWS4-HMAC-SHA256"


def _log_lines(gateway: GatewayProcess) -> dict[str, list[tuple[str, int]]]:
    lines: dict[str, list[tuple[str, int]]] = {}
    pattern = re.compile(r"pcache\.access request_id=(\w+) op=(\S+) pbucket=\S+ status=(\d+) ")
    for match in pattern.finditer(gateway.log_text()):
        lines.setdefault(match.group(1), []).append((match.group(2), int(match.group(3))))
    return lines


def test_admin__tour_of_every_endpoint(
    gateway: GatewayProcess,
    root: AdminApi,
    bucket: str,
    seaweed: SeaweedServer,
    vendor_bucket: str,
) -> None:
    """Every endpoint once, as root, in an order where each succeeds; then the access log has
    exactly one line per call naming its admin action."""
    u, p, g, r = uid("tour-u"), uid("tour-p"), uid("tour-g"), uid("tour-r")
    calls: list[tuple[str, Reply]] = []

    def step(action: str, method: str, path: str, body: object = NO_BODY, status: int = 200) -> Any:
        reply = root.call(method, path, body)
        assert reply.status == status, (action, reply.status, reply.raw)
        calls.append((action, reply))
        return reply.json

    user = step("CreateUser", "POST", "/admin/v1/users", {"name": u}, 201)
    assert user["arn"] == f"arn:aws:iam::{ACCOUNT}:user/{u}" and user["enabled"] is True
    assert u in [i["name"] for i in step("ListUsers", "GET", "/admin/v1/users")["items"]]
    assert step("GetUser", "GET", f"/admin/v1/users/{u}")["name"] == u
    assert (
        step("UpdateUser", "PATCH", f"/admin/v1/users/{u}", {"enabled": False})["enabled"] is False
    )
    expires = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    key = step(
        "CreateAccessKey",
        "POST",
        f"/admin/v1/users/{u}/keys",
        {"expires": expires.isoformat()},
        201,
    )
    assert key["expires"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ") and key["status"] == "Active"
    listed = step("ListAccessKeys", "GET", f"/admin/v1/users/{u}/keys")["items"]
    assert [k["access_key"] for k in listed] == [key["access_key"]]
    ak = key["access_key"]
    patched = step("UpdateAccessKey", "PATCH", f"/admin/v1/keys/{ak}", {"status": "Inactive"})
    assert patched["status"] == "Inactive"
    step("DeleteAccessKey", "DELETE", f"/admin/v1/keys/{ak}", status=204)

    created = step(
        "CreatePolicy",
        "POST",
        "/admin/v1/policies",
        {"name": p, "document": S3_ALL, "description": "all of S3"},
        201,
    )
    assert created["document"] == S3_ALL and created["attachment_count"] == 0
    assert p in [i["name"] for i in step("ListPolicies", "GET", "/admin/v1/policies")["items"]]
    assert step("GetPolicy", "GET", f"/admin/v1/policies/{p}")["description"] == "all of S3"
    updated = step(
        "UpdatePolicy", "PUT", f"/admin/v1/policies/{p}", {"document": json.dumps(ADMIN_ALL)}
    )
    assert updated["document"] == ADMIN_ALL and updated["description"] == "all of S3"
    attached = step("AttachUserPolicy", "PUT", f"/admin/v1/users/{u}/policies/{p}")
    assert attached["policies"] == [p]
    step("DetachUserPolicy", "DELETE", f"/admin/v1/users/{u}/policies/{p}", status=204)

    assert step("CreateGroup", "POST", "/admin/v1/groups", {"name": g}, 201)["members"] == []
    assert g in [i["name"] for i in step("ListGroups", "GET", "/admin/v1/groups")["items"]]
    assert step("AddUserToGroup", "PUT", f"/admin/v1/groups/{g}/members/{u}")["members"] == [u]
    assert step("AttachGroupPolicy", "PUT", f"/admin/v1/groups/{g}/policies/{p}")["policies"] == [p]
    assert step("GetGroup", "GET", f"/admin/v1/groups/{g}")["policies"] == [p]
    assert root.ok("GET", f"/admin/v1/users/{u}")["groups"] == [g]
    step("DetachGroupPolicy", "DELETE", f"/admin/v1/groups/{g}/policies/{p}", status=204)
    step("RemoveUserFromGroup", "DELETE", f"/admin/v1/groups/{g}/members/{u}", status=204)
    step("DeleteGroup", "DELETE", f"/admin/v1/groups/{g}", status=204)

    role = step(
        "CreateRole",
        "POST",
        "/admin/v1/roles",
        {"name": r, "trust_policy": TRUST, "max_session_seconds": 7200, "description": "t"},
        201,
    )
    assert role["max_session_seconds"] == 7200 and role["trust_policy"] == TRUST
    assert r in [i["name"] for i in step("ListRoles", "GET", "/admin/v1/roles")["items"]]
    assert step("AttachRolePolicy", "PUT", f"/admin/v1/roles/{r}/policies/{p}")["policies"] == [p]
    assert (
        step("GetRole", "GET", f"/admin/v1/roles/{r}")["arn"] == f"arn:aws:iam::{ACCOUNT}:role/{r}"
    )
    step("DetachRolePolicy", "DELETE", f"/admin/v1/roles/{r}/policies/{p}", status=204)
    step("DeleteRole", "DELETE", f"/admin/v1/roles/{r}", status=204)

    bucket_doc = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{u}"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    step("PutBucketPolicy", "PUT", f"/admin/v1/pbuckets/{bucket}/policy", bucket_doc, 204)
    assert step("GetBucketPolicy", "GET", f"/admin/v1/pbuckets/{bucket}/policy") == bucket_doc
    step("DeleteBucketPolicy", "DELETE", f"/admin/v1/pbuckets/{bucket}/policy", status=204)
    rules = {
        "Rules": [
            {
                "ID": "logs",
                "Status": "Enabled",
                "Filter": {"Prefix": "logs/"},
                "Expiration": {"Days": 30},
            }
        ]
    }
    lifecycle = f"/admin/v1/pbuckets/{bucket}/lifecycle"
    stored = step("PutBucketLifecycle", "PUT", lifecycle, rules)
    assert stored["Rules"][0]["Expiration"] == {"Days": 30}
    assert step("GetBucketLifecycle", "GET", lifecycle)["Rules"] == stored["Rules"]
    ran = step("RunLifecycleJob", "POST", lifecycle + "/run", {"dry_run": True}, 202)
    assert (ran["pbucket"], ran["dry_run"]) == (bucket, True)
    assert step("GetLifecycleJob", "GET", f"{lifecycle}/jobs/{ran['job_id']}")["dry_run"] is True
    history = step("ListLifecycleJobs", "GET", lifecycle + "/jobs")["items"]
    assert ran["job_id"] in [j["job_id"] for j in history]
    step("DeleteBucketLifecycle", "DELETE", lifecycle, status=204)
    cache_ttl = f"/admin/v1/pbuckets/{bucket}/cache-ttl"
    ttl = {"rules": [{"prefix": "tmp/", "seconds": 60}]}
    assert step("PutCacheTtl", "PUT", cache_ttl, ttl) == ttl
    assert step("GetCacheTtl", "GET", cache_ttl) == ttl
    step("DeleteCacheTtl", "DELETE", cache_ttl, status=204)
    assert step("GetCacheStatus", "GET", "/admin/v1/cache")["enabled"] is True
    purge = {"pbucket": bucket, "key": "never-cached"}
    assert step("PurgeCache", "POST", "/admin/v1/cache/purge", purge) == {"objects": 0, "blocks": 0}
    warm = step("WarmCache", "POST", "/admin/v1/cache/warm", {"pbucket": bucket}, 202)
    job = f"/admin/v1/cache/warm/{warm['job_id']}"
    assert step("GetWarmJob", "GET", job)["pbucket"] == bucket
    jobs = step("ListWarmJobs", "GET", "/admin/v1/cache/warm")["items"]
    assert warm["job_id"] in [j["job_id"] for j in jobs]
    assert step("CancelWarmJob", "DELETE", job)["state"] in ("cancelled", "done")
    step("DeletePolicy", "DELETE", f"/admin/v1/policies/{p}", status=204)
    step("DeleteUser", "DELETE", f"/admin/v1/users/{u}", status=204)

    v, pb = uid("tour-v"), uid("tour-pb")
    vendor = {
        "name": v,
        "endpoint": seaweed.endpoint,
        "access_key": seaweed.access_key,
        "secret_key": seaweed.secret_key,
    }
    assert step("CreateVendor", "POST", "/admin/v1/vendors", vendor, 201)["managed_by"] == "api"
    assert v in [i["name"] for i in step("ListVendors", "GET", "/admin/v1/vendors")["items"]]
    assert step("GetVendor", "GET", f"/admin/v1/vendors/{v}")["endpoint"] == seaweed.endpoint
    patched_v = step("UpdateVendor", "PATCH", f"/admin/v1/vendors/{v}", {"read_timeout": 20})
    assert patched_v["read_timeout"] == 20
    put_v = {"endpoint": seaweed.endpoint, "access_key": seaweed.access_key, "retries": 1}
    assert step("UpdateVendor", "PUT", f"/admin/v1/vendors/{v}", put_v)["read_timeout"] == 60
    target = {"vendor": v, "bucket": vendor_bucket}
    created_pb = step(
        "CreatePBucket", "POST", "/admin/v1/pbuckets", {"name": pb, "targets": [target]}, 201
    )
    assert created_pb["policy"] == "single"
    assert pb in [i["name"] for i in step("ListPBuckets", "GET", "/admin/v1/pbuckets")["items"]]
    assert step("GetPBucket", "GET", f"/admin/v1/pbuckets/{pb}")["targets"][0]["vendor"] == v
    two = [{**target, "prefix": "a/"}, {**target, "prefix": "b/", "weight": 2}]
    balanced = {"policy": "balance", "targets": two}
    assert step("UpdatePBucket", "PUT", f"/admin/v1/pbuckets/{pb}", balanced)["policy"] == "balance"
    rebalance = f"/admin/v1/pbuckets/{pb}/rebalance"
    rj = step("RebalancePBucket", "POST", rebalance, {"dry_run": True}, 202)
    rj_path = f"/admin/v1/router-jobs/{rj['job_id']}"
    until(lambda: root.ok("GET", rj_path)["state"] == "done", 10, "the dry run to end")
    assert step("GetRouterJob", "GET", rj_path)["misplaced"] == 0
    assert step("CancelRouterJob", "POST", rj_path + "/cancel")["state"] == "done"
    step("ResumeRouterJob", "POST", rj_path + "/resume", {}, 409)  # done: nothing to resume
    migrating = {"policy": "migrate", "targets": two}
    step("UpdatePBucket", "PUT", f"/admin/v1/pbuckets/{pb}", migrating)
    mj = step("MigratePBucket", "POST", f"/admin/v1/pbuckets/{pb}/migrate", {}, 202)
    mj_path = f"/admin/v1/router-jobs/{mj['job_id']}"
    until(lambda: root.ok("GET", mj_path)["state"] == "done", 10, "the migrate job to end")
    jobs = step("ListRouterJobs", "GET", f"/admin/v1/pbuckets/{pb}/jobs")["items"]
    assert [j["kind"] for j in jobs] == ["migrate", "rebalance"]
    step("DeletePBucket", "DELETE", f"/admin/v1/pbuckets/{pb}", status=204)
    step("DeleteVendor", "DELETE", f"/admin/v1/vendors/{v}", status=204)

    spec_actions = {
        op["x-pcache-action"]
        for op in _operations(_openapi(gateway)).values()
        if "x-pcache-action" in op
    }
    assert {f"admin:{action}" for action, _ in calls} == spec_actions
    logged = _log_lines(gateway)
    for action, reply in calls:
        assert logged[reply.headers["x-amz-request-id"]] == [(f"admin:{action}", reply.status)]
        assert reply.headers["Cache-Control"] == "no-store"


# --- secrets (ADM-01) ----------------------------------------------------------------------------


def test_create_access_key__secret_is_in_the_create_reply_only(
    gateway: GatewayProcess, root: AdminApi
) -> None:
    name, group = uid("sec"), uid("sec-g")
    root.ok("POST", "/admin/v1/users", {"name": name}, status=201)
    root.ok("POST", "/admin/v1/groups", {"name": group}, status=201)
    root.ok("PUT", f"/admin/v1/groups/{group}/members/{name}")
    created = root.call("POST", f"/admin/v1/users/{name}/keys")
    assert created.status == 201
    secret = created.json["secret_key"]
    assert len(secret) >= 40 and secret.encode() in created.raw
    ak = created.json["access_key"]
    later = [
        root.call("GET", f"/admin/v1/users/{name}"),
        root.call("GET", f"/admin/v1/users/{name}/keys"),
        root.call("GET", "/admin/v1/users"),
        root.call("GET", f"/admin/v1/groups/{group}"),
        root.call("PATCH", f"/admin/v1/keys/{ak}", {"status": "Inactive"}),
        root.call("PATCH", f"/admin/v1/keys/{ak}", {"status": "Active"}),
    ]
    for reply in later:
        assert reply.status == 200, reply.raw
        assert secret.encode() not in reply.raw
        assert b"secret" not in reply.raw  # no secret field at all, sealed or not
    assert secret not in gateway.log_text()
    # The secret works, and only for its own user's rights (none: no policy attached).
    user = AdminApi(gateway.endpoint, ak, secret)
    assert user.call("GET", "/admin/v1/users").code == "AccessDenied"


# --- who may call (ADM-07) -----------------------------------------------------------------------


def test_admin__anonymous_bad_signature_and_presigned_are_refused(
    gateway: GatewayProcess, root: AdminApi
) -> None:
    anon = send("GET", gateway.endpoint + "/admin/v1/users", None, {})
    assert (anon.status, anon.code) == (401, "MissingAuthenticationToken")
    assert anon.json["request_id"] == anon.headers["x-amz-request-id"]
    forged = AdminApi(gateway.endpoint, gateway.access_key, "not-the-secret")
    assert forged.call("GET", "/admin/v1/users").code == "SignatureDoesNotMatch"
    unknown = AdminApi(gateway.endpoint, "AKNOBODY000000000000", "x")
    reply = unknown.call("GET", "/admin/v1/users")
    assert (reply.status, reply.code) == (403, "InvalidAccessKeyId")
    req = AWSRequest(method="GET", url=gateway.endpoint + "/admin/v1/users")
    S3SigV4QueryAuth(root.creds, "s3", REGION, expires=60).add_auth(req)
    presigned = send("GET", req.url, None, {})
    assert (presigned.status, presigned.code) == (403, "AccessDenied")


def test_admin__an_s3_user_is_not_an_admin(root: AdminApi) -> None:
    user = root.user(S3_ALL, prefix="s3only")
    assert user.s3().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    for method, path in [
        ("GET", "/admin/v1/users"),
        ("POST", f"/admin/v1/users/{user.name}/keys"),
        ("GET", f"/admin/v1/users/{user.name}"),
    ]:
        reply = user.call(method, path)
        assert (reply.status, reply.code) == (403, "AccessDenied"), (method, path)


def test_admin__a_disabled_admin_is_refused_on_the_next_request(root: AdminApi) -> None:
    admin = root.user(ADMIN_ALL, prefix="adm")
    assert admin.ok("GET", "/admin/v1/users")["items"]
    root.ok("PATCH", f"/admin/v1/users/{admin.name}", {"enabled": False})
    reply = admin.call("GET", "/admin/v1/users")
    assert (reply.status, reply.code) == (403, "InvalidAccessKeyId")
    root.ok("PATCH", f"/admin/v1/users/{admin.name}", {"enabled": True})
    assert admin.call("GET", "/admin/v1/users").status == 200


# --- privilege escalation (IAM-24) ---------------------------------------------------------------


def test_iam24__non_admin_cannot_create_keys_for_an_admin_or_attach_to_itself(
    root: AdminApi,
) -> None:
    admin = root.user(ADMIN_ALL, prefix="admin")
    bob = root.user(S3_ALL, prefix="bob")
    reply = bob.call("POST", f"/admin/v1/users/{admin.name}/keys")
    assert (reply.status, reply.code) == (403, "AccessDenied")
    reply = bob.call("PUT", f"/admin/v1/users/{bob.name}/policies/{admin.name}-p0")
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert len(root.ok("GET", f"/admin/v1/users/{admin.name}/keys")["items"]) == 1
    assert root.ok("GET", f"/admin/v1/users/{bob.name}")["policies"] == [f"{bob.name}-p0"]


def test_iam24__self_service_keys_only_for_oneself_and_with_ones_own_rights(
    root: AdminApi,
) -> None:
    self_keys = doc(
        allow("admin:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
        allow("admin:AttachUserPolicy", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    )
    carol = root.user(self_keys, prefix="carol")
    other = root.user(prefix="other")
    mine = carol.call("POST", f"/admin/v1/users/{carol.name}/keys")
    assert mine.status == 201 and mine.json["user"] == carol.name
    theirs = carol.call("POST", f"/admin/v1/users/{other.name}/keys")
    assert (theirs.status, theirs.code) == (403, "AccessDenied")
    # The new key is carol, nothing more: still no admin:ListUsers, and no self-attachment even
    # though her policy names admin:AttachUserPolicy on herself.
    new = AdminApi(root.endpoint, mine.json["access_key"], mine.json["secret_key"])
    assert new.call("GET", "/admin/v1/users").code == "AccessDenied"
    admin_policy = uid("adminall")
    root.ok("POST", "/admin/v1/policies", {"name": admin_policy, "document": ADMIN_ALL}, status=201)
    reply = new.call("PUT", f"/admin/v1/users/{carol.name}/policies/{admin_policy}")
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert "permissions it acts with" in reply.json["message"]
    assert root.ok("GET", f"/admin/v1/users/{carol.name}")["policies"] == [f"{carol.name}-p0"]


def test_iam24__even_an_admin_cannot_change_its_own_permissions(root: AdminApi) -> None:
    admin = root.user(ADMIN_ALL, prefix="selfadm")
    group, extra = uid("selfadm-g"), uid("selfadm-x")
    root.ok("POST", "/admin/v1/groups", {"name": group}, status=201)
    root.ok("POST", "/admin/v1/policies", {"name": extra, "document": S3_ALL}, status=201)
    own_policy = f"{admin.name}-p0"
    refused = [
        ("PUT", f"/admin/v1/users/{admin.name}/policies/{extra}", NO_BODY),
        ("DELETE", f"/admin/v1/users/{admin.name}/policies/{own_policy}", NO_BODY),
        ("PUT", f"/admin/v1/groups/{group}/members/{admin.name}", NO_BODY),
        ("PUT", f"/admin/v1/policies/{own_policy}", {"document": S3_ALL}),
    ]
    for method, path, body in refused:
        reply = admin.call(method, path, body)
        assert (reply.status, reply.code) == (403, "AccessDenied"), (method, path)
    # Root adds it to the group; then the group is the admin's own too.
    root.ok("PUT", f"/admin/v1/groups/{group}/members/{admin.name}")
    for method, path in [
        ("PUT", f"/admin/v1/groups/{group}/policies/{extra}"),
        ("DELETE", f"/admin/v1/groups/{group}/members/{admin.name}"),
        ("DELETE", f"/admin/v1/groups/{group}"),
    ]:
        assert admin.call(method, path).code == "AccessDenied", (method, path)
    # Other users' permissions are the admin's business.
    other = root.user(prefix="managed")
    assert admin.ok("PUT", f"/admin/v1/users/{other.name}/policies/{extra}")["policies"] == [extra]


def test_iam24__a_role_session_has_its_roles_admin_rights_and_no_more(root: AdminApi) -> None:
    alice = root.user(prefix="alice")
    role, role_policy = uid("opsrole"), uid("opsrole-p")
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice.name}"},
            "Action": "sts:AssumeRole",
        }
    )
    rights = doc(allow("admin:ListUsers"), allow("admin:AttachRolePolicy"))
    root.ok("POST", "/admin/v1/roles", {"name": role, "trust_policy": trust}, status=201)
    root.ok("POST", "/admin/v1/policies", {"name": role_policy, "document": rights}, status=201)
    root.ok("PUT", f"/admin/v1/roles/{role}/policies/{role_policy}")
    sts = boto3.client(
        "sts",
        endpoint_url=root.endpoint,
        region_name=REGION,
        aws_access_key_id=alice.creds.access_key,
        aws_secret_access_key=alice.creds.secret_key,
        config=Config(retries={"total_max_attempts": 1}),
    )
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="ops")[
        "Credentials"
    ]
    session = AdminApi(
        root.endpoint,
        creds["AccessKeyId"],
        creds["SecretAccessKey"],
        token=creds["SessionToken"],
    )
    assert session.call("GET", "/admin/v1/users").status == 200
    assert session.call("POST", "/admin/v1/users", {"name": uid("x")}).code == "AccessDenied"
    # Allowed AttachRolePolicy on any role, except its own.
    reply = session.call("PUT", f"/admin/v1/roles/{role}/policies/{role_policy}")
    assert (reply.status, reply.code) == (403, "AccessDenied")
    other = uid("otherrole")
    root.ok("POST", "/admin/v1/roles", {"name": other, "trust_policy": TRUST}, status=201)
    assert session.call("PUT", f"/admin/v1/roles/{other}/policies/{role_policy}").status == 200
    # Root deletes the role: its sessions stop at once.
    root.ok("DELETE", f"/admin/v1/roles/{role}", status=204)
    reply = session.call("GET", "/admin/v1/users")
    assert (reply.status, reply.code) == (400, "InvalidToken")


def test_root_keys__are_managed_by_root_only(gateway: GatewayProcess, root: AdminApi) -> None:
    admin = root.user(ADMIN_ALL, prefix="rootkeys")
    for method, path in [
        ("GET", "/admin/v1/users/root/keys"),
        ("POST", "/admin/v1/users/root/keys"),
        ("PATCH", f"/admin/v1/keys/{gateway.access_key}"),
        ("DELETE", f"/admin/v1/keys/{gateway.access_key}"),
    ]:
        body = {"status": "Inactive"} if method == "PATCH" else NO_BODY
        reply = admin.call(method, path, body)
        assert (reply.status, reply.code) == (403, "AccessDenied"), (method, path)
    keys = root.ok("GET", "/admin/v1/users/root/keys")["items"]
    assert gateway.access_key in [k["access_key"] for k in keys]


# --- validation and errors -----------------------------------------------------------------------

BAD_IDENTITY_DOCS = [
    {"Version": "2010-10-17", "Statement": [allow("s3:GetObject")]},
    {"Version": "2012-10-17"},
    doc({**allow("s3:GetObject"), "Principal": "*"}),
    doc({"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"}),
    "not json at all",
]


@pytest.mark.parametrize("document", BAD_IDENTITY_DOCS)
def test_create_policy__invalid_document_is_malformed_policy_document(
    root: AdminApi, document: object
) -> None:
    name = uid("bad")
    reply = root.call("POST", "/admin/v1/policies", {"name": name, "document": document})
    assert (reply.status, reply.code) == (400, "MalformedPolicyDocument"), reply.raw
    assert root.call("GET", f"/admin/v1/policies/{name}").code == "NoSuchEntity"


def test_policy_documents__trust_and_bucket_rules(root: AdminApi, bucket: str) -> None:
    reply = root.call("POST", "/admin/v1/roles", {"name": uid("r"), "trust_policy": S3_ALL})
    assert (reply.status, reply.code) == (400, "MalformedPolicyDocument")
    other_bucket = doc({**allow("s3:GetObject", "arn:aws:s3:::elsewhere/*"), "Principal": "*"})
    reply = root.call("PUT", f"/admin/v1/pbuckets/{bucket}/policy", other_bucket)
    assert (reply.status, reply.code) == (400, "MalformedPolicy")
    big = doc(
        *[
            {**allow("s3:GetObject", f"arn:aws:s3:::{bucket}/{'k' * 300}{i}"), "Principal": "*"}
            for i in range(80)
        ]
    )
    reply = root.call("PUT", f"/admin/v1/pbuckets/{bucket}/policy", big)
    assert (reply.status, reply.code) == (400, "PolicyTooLarge")
    reply = root.call("PUT", f"/admin/v1/pbuckets/{bucket}/policy", raw=b"[" * 10_000)
    assert (reply.status, reply.code) == (400, "MalformedPolicy")


def test_delete_policy__attached_anywhere_is_delete_conflict(root: AdminApi) -> None:
    p, u, g, r = uid("att"), uid("att-u"), uid("att-g"), uid("att-r")
    root.ok("POST", "/admin/v1/policies", {"name": p, "document": S3_ALL}, status=201)
    root.ok("POST", "/admin/v1/users", {"name": u}, status=201)
    root.ok("POST", "/admin/v1/groups", {"name": g}, status=201)
    root.ok("POST", "/admin/v1/roles", {"name": r, "trust_policy": TRUST}, status=201)
    holders = [f"/admin/v1/users/{u}", f"/admin/v1/groups/{g}", f"/admin/v1/roles/{r}"]
    for holder in holders:
        root.ok("PUT", f"{holder}/policies/{p}")
        reply = root.call("DELETE", f"/admin/v1/policies/{p}")
        assert (reply.status, reply.code) == (409, "DeleteConflict")
    assert root.ok("GET", f"/admin/v1/policies/{p}")["attached_to"] == {
        "users": [u],
        "groups": [g],
        "roles": [r],
    }
    for holder in holders:
        root.ok("DELETE", f"{holder}/policies/{p}", status=204)
    root.ok("DELETE", f"/admin/v1/policies/{p}", status=204)


def test_admin__missing_and_existing_entities(root: AdminApi, bucket: str) -> None:
    name = uid("dup")
    root.ok("POST", "/admin/v1/users", {"name": name}, status=201)
    cases = [
        ("POST", "/admin/v1/users", {"name": name}, 409, "EntityAlreadyExists"),
        ("POST", "/admin/v1/users", {"name": "root"}, 409, "EntityAlreadyExists"),
        ("GET", f"/admin/v1/users/{uid('none')}", NO_BODY, 404, "NoSuchEntity"),
        ("GET", f"/admin/v1/users/{uid('none')}/keys", NO_BODY, 404, "NoSuchEntity"),
        ("PATCH", "/admin/v1/keys/AKNOSUCHKEY0000000", {"status": "Active"}, 404, "NoSuchEntity"),
        ("GET", f"/admin/v1/policies/{uid('none')}", NO_BODY, 404, "NoSuchEntity"),
        ("PUT", f"/admin/v1/policies/{uid('none')}", {"document": S3_ALL}, 404, "NoSuchEntity"),
        ("PUT", f"/admin/v1/users/{name}/policies/{uid('none')}", NO_BODY, 404, "NoSuchEntity"),
        ("DELETE", f"/admin/v1/users/{name}/policies/{uid('n')}", NO_BODY, 404, "NoSuchEntity"),
        ("GET", f"/admin/v1/groups/{uid('none')}", NO_BODY, 404, "NoSuchEntity"),
        ("DELETE", f"/admin/v1/roles/{uid('none')}", NO_BODY, 404, "NoSuchEntity"),
        ("GET", "/admin/v1/pbuckets/pb-no-such-bucket/policy", NO_BODY, 404, "NoSuchBucket"),
        ("GET", f"/admin/v1/pbuckets/{bucket}/policy", NO_BODY, 404, "NoSuchBucketPolicy"),
        ("DELETE", f"/admin/v1/pbuckets/{bucket}/policy", NO_BODY, 204, None),
    ]
    for method, path, body, status, code in cases:
        reply = root.call(method, path, body)
        assert reply.status == status, (method, path, reply.raw)
        if code is not None:
            assert reply.code == code, (method, path)
    keys = [root.call("POST", f"/admin/v1/users/{name}/keys") for _ in range(3)]
    assert [k.status for k in keys] == [201, 201, 409] and keys[2].code == "LimitExceeded"


VALIDATION = [
    ("POST", "/admin/v1/users", {"name": "a*b"}, "name"),
    ("POST", "/admin/v1/users", {"name": "${aws:username}"}, "name"),
    ("POST", "/admin/v1/users", {}, "name"),
    ("POST", "/admin/v1/users", {"name": "x" * 65}, "name"),
    ("POST", "/admin/v1/users", {"name": "ok-name", "admin": True}, "admin"),
    ("GET", "/admin/v1/users/a%2Ab", NO_BODY, "name"),
    ("PATCH", "/admin/v1/users/someone", {"enabled": "false"}, "enabled"),
    ("PATCH", "/admin/v1/users/someone", {"enable": False}, "enabled"),
    ("POST", "/admin/v1/users/someone/keys", {"expires": "2020-01-01T00:00:00Z"}, "expires"),
    ("POST", "/admin/v1/users/someone/keys", {"expires": "2099-01-01T00:00:00"}, "expires"),
    ("POST", "/admin/v1/users/someone/keys", {"expires": "soon"}, "expires"),
    ("PATCH", "/admin/v1/keys/AKSOMEKEY", {"status": "Deleted"}, "status"),
    ("POST", "/admin/v1/policies", {"name": "p", "document": 5}, "document"),
    (
        "POST",
        "/admin/v1/policies",
        {"name": "p", "document": S3_ALL, "description": 1},
        "description",
    ),
    (
        "POST",
        "/admin/v1/roles",
        {"name": "r", "trust_policy": TRUST, "max_session_seconds": 60},
        "max_session_seconds",
    ),
    (
        "POST",
        "/admin/v1/roles",
        {"name": "r", "trust_policy": TRUST, "max_session_seconds": True},
        "max_session_seconds",
    ),
    ("GET", "/admin/v1/pbuckets/Not_A_Bucket/policy", NO_BODY, "name"),
    ("GET", "/admin/v1/users", {"unexpected": "body"}, "body"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), VALIDATION)
def test_admin__validation_error_names_the_field(
    root: AdminApi, method: str, path: str, body: object, field: str
) -> None:
    reply = root.call(method, path, body)
    assert (reply.status, reply.code) == (400, "ValidationError"), reply.raw
    assert reply.json["field"] == field
    assert reply.json["message"] and reply.json["request_id"]


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"name": "a", "name": "b"}', b'{"enabled": NaN}', b"[]", b"\xff\xfe", b"[" * 60_000],
)
def test_admin__malformed_json_is_400(root: AdminApi, raw: bytes) -> None:
    reply = root.call("POST", "/admin/v1/users", raw=raw)
    assert (reply.status, reply.code) == (400, "MalformedJSON")


def test_admin__body_limits_and_integrity(gateway: GatewayProcess, root: AdminApi) -> None:
    big = json.dumps({"name": "n", "pad": "x" * 70_000}).encode()
    reply = root.call("POST", "/admin/v1/users", raw=big)
    assert (reply.status, reply.code) == (413, "EntityTooLarge")
    # A body swapped after signing: the signed hash no longer matches.
    req = AWSRequest(method="POST", url=gateway.endpoint + "/admin/v1/users", data=b'{"name":"a"}')
    S3SigV4Auth(root.creds, "s3", REGION).add_auth(req)
    prepared = req.prepare()
    swapped = send("POST", prepared.url, b'{"name":"b"}', prepared.headers)
    assert (swapped.status, swapped.code) == (400, "XAmzContentSHA256Mismatch")
    assert root.call("GET", "/admin/v1/users/b").status == 404


def test_admin__unknown_paths_404_and_wrong_methods_405(gateway: GatewayProcess) -> None:
    for path in ["/admin/", "/admin/v1", "/admin/v1/nothing", "/admin/v2/users"]:
        reply = send("GET", gateway.endpoint + path, None, {})
        assert (reply.status, reply.code) == (404, "NotFound"), path
    # Bare /admin is S3's: an anonymous S3 request there is AccessDenied XML, not admin JSON.
    bare = send("GET", gateway.endpoint + "/admin", None, {})
    assert bare.status == 403 and b"<Code>AccessDenied</Code>" in bare.raw
    reply = send("DELETE", gateway.endpoint + "/admin/v1/users", None, {})
    assert (reply.status, reply.code) == (405, "MethodNotAllowed")
    assert reply.headers["Allow"] == "GET, POST"
    reply = send("POST", gateway.endpoint + "/admin/v1/pbuckets/some-bucket/policy", b"{}", {})
    assert reply.status == 405 and reply.headers["Allow"] == "GET, PUT, DELETE"


# --- effects on the S3 listener ------------------------------------------------------------------


def _s3_code(call: Any) -> str | None:
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return None


def _within(seconds: float, condition: Any) -> bool:
    """Poll `condition` (a real request each time) until true or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False


def test_update_user__disabled_user_is_invalid_access_key_on_s3(
    root: AdminApi, bucket: str
) -> None:
    user = root.user(S3_ALL, prefix="s3dis")
    s3 = user.s3()
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    started = time.monotonic()
    root.ok("PATCH", f"/admin/v1/users/{user.name}", {"enabled": False})
    probe = lambda: _s3_code(lambda: s3.head_bucket(Bucket=bucket)) is not None  # noqa: E731
    assert _within(1.0, probe) and time.monotonic() - started < 1.0
    assert _s3_code(lambda: s3.get_object(Bucket=bucket, Key="k")) == "InvalidAccessKeyId"
    root.ok("PATCH", f"/admin/v1/users/{user.name}", {"enabled": True})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_bucket_policy__grants_and_revokes_s3_access(root: AdminApi, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared/a", Body=b"hello")
    reader = root.user(prefix="reader")
    rs3 = reader.s3()
    assert _s3_code(lambda: rs3.get_object(Bucket=bucket, Key="shared/a")) == "AccessDenied"
    policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{reader.name}"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/shared/*",
        }
    )
    root.ok("PUT", f"/admin/v1/pbuckets/{bucket}/policy", policy, status=204)
    assert rs3.get_object(Bucket=bucket, Key="shared/a")["Body"].read() == b"hello"
    root.ok("DELETE", f"/admin/v1/pbuckets/{bucket}/policy", status=204)
    assert _s3_code(lambda: rs3.get_object(Bucket=bucket, Key="shared/a")) == "AccessDenied"


def test_admin__virtual_host_admin_path_is_an_object_key(
    gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    """`<bucket>.<domain>/admin/v1/users` names object `admin/v1/users`, not the admin API."""
    port = urlsplit(gateway.endpoint).port
    host = f"{bucket}.s3.pcache.test:{port}"
    body = b"an object, not an admin call"
    req = AWSRequest(method="PUT", url=f"http://{host}/admin/v1/users", data=body)
    req.headers["Content-Type"] = "application/octet-stream"
    S3SigV4Auth(Credentials(gateway.access_key, gateway.secret_key), "s3", REGION).add_auth(req)
    prepared = req.prepare()
    headers = {**prepared.headers, "Host": host}
    reply = send("PUT", prepared.url, body, headers, host=f"127.0.0.1:{port}")
    assert reply.status == 200, reply.raw
    got = s3.get_object(Bucket=bucket, Key="admin/v1/users")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()


def test_lifecycle__admin_json_and_s3_xml_are_one_model(
    root: AdminApi, s3: Any, bucket: str
) -> None:
    """Rules set through the admin API are what S3 GetBucketLifecycleConfiguration shows, and
    the admin API refuses what S3 refuses, with AWS's code."""
    rules = {
        "Rules": [
            {
                "ID": "tmp",
                "Status": "Enabled",
                "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "k", "Value": "v"}]}},
                "Expiration": {"Days": 7},
            }
        ]
    }
    path = f"/admin/v1/pbuckets/{bucket}/lifecycle"
    assert root.call("PUT", path, rules).status == 200
    via_s3 = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert via_s3 == rules["Rules"]
    zero_days = {
        "Rules": [{"ID": "z", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 0}}]
    }
    reply = root.call("PUT", path, zero_days)
    assert (reply.status, reply.json["code"]) == (400, "InvalidArgument")
    reply = root.call("PUT", path, {"Rules": "nope"})
    assert (reply.status, reply.json["code"]) == (400, "MalformedJSON")
    s3.delete_bucket_lifecycle(Bucket=bucket)
    reply = root.call("GET", path)
    assert (reply.status, reply.json["code"]) == (404, "NoSuchLifecycleConfiguration")
