"""`pcache admin` as a user runs it: a subprocess (`python -m gateway admin ...`) against the
session gateway, configured through the environment or aws-cli style profile files.

Exit codes: 0 success, 1 API error (`code: message` on stderr), 2 usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_admin_api import ADMIN_ALL, S3_ALL, TRUST, AdminApi, doc, uid
from tests.rig.gateway import GatewayProcess
from tests.rig.seaweed import SeaweedServer


def pcache_admin(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "admin", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PCACHE_ENDPOINT"
    }
    env.update(
        {
            "HOME": str(tmp_path),  # no ~/.aws of the machine running the tests
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
            "AWS_CONFIG_FILE": str(tmp_path / "config"),
        }
    )
    return env


@pytest.fixture
def root_env(gateway: GatewayProcess, tmp_path: Path) -> dict[str, str]:
    env = _clean_env(tmp_path)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": gateway.access_key,
            "AWS_SECRET_ACCESS_KEY": gateway.secret_key,
            "PCACHE_ENDPOINT": gateway.endpoint,
        }
    )
    return env


def ok(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = pcache_admin(env, *args, stdin=stdin)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_cli__round_trip_user_key_policy(
    gateway: GatewayProcess, root_env: dict[str, str], tmp_path: Path
) -> None:
    user, policy = uid("cli-u"), uid("cli-p")
    assert f"name:       {user}" in ok(root_env, "user", "create", user)

    created = pcache_admin(root_env, "key", "create", user)
    assert created.returncode == 0, created.stderr
    record = dict(line.split(": ", 1) for line in created.stdout.strip().splitlines())
    secret, access_key = record["secret_key"].strip(), record["access_key"].strip()
    assert len(secret) >= 40 and "cannot be shown again" in created.stderr

    document = tmp_path / "policy.json"
    document.write_text(json.dumps(S3_ALL))
    shown = ok(root_env, "policy", "create", policy, "--document", str(document))
    assert '"s3:*"' in shown
    ok(root_env, "policy", "attach", policy, "--user", user)

    table = ok(root_env, "user", "list")
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "ENABLED", "CREATED", "POLICIES", "GROUPS"]
    row = next(r for r in rows if r.split()[0] == user)
    assert row.split()[1] == "true" and row.split()[3] == policy
    assert all(len(r) == len(r.rstrip()) for r in table.splitlines())  # aligned, no trailing

    listed = json.loads(ok(root_env, "user", "list", "--json"))
    assert next(u for u in listed["items"] if u["name"] == user)["policies"] == [policy]
    keys = ok(root_env, "--json", "key", "list", user)
    assert access_key in keys and secret not in keys
    assert secret not in ok(root_env, "user", "get", user)

    # The printed key works, with the user's own rights: S3 yes, admin no.
    as_user = AdminApi(gateway.endpoint, access_key, secret)
    assert as_user.s3().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    user_env = {**root_env, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret}
    denied = pcache_admin(user_env, "user", "list")
    assert denied.returncode == 1 and denied.stderr.startswith("AccessDenied: ")

    ok(root_env, "key", "disable", access_key)
    assert "Inactive" in ok(root_env, "key", "list", user)
    ok(root_env, "policy", "detach", policy, "--user", user)
    ok(root_env, "user", "disable", user)
    assert json.loads(ok(root_env, "user", "get", user, "--json"))["enabled"] is False
    ok(root_env, "user", "enable", user)
    ok(root_env, "key", "delete", access_key)
    assert ok(root_env, "policy", "delete", policy) == ""
    assert ok(root_env, "user", "delete", user) == ""


def test_cli__groups_roles_and_bucket_policies(
    root_env: dict[str, str], tmp_path: Path, bucket: str
) -> None:
    user, group, role, policy = uid("cg-u"), uid("cg-g"), uid("cg-r"), uid("cg-p")
    ok(root_env, "user", "create", user)
    ok(root_env, "group", "create", group)
    ok(root_env, "group", "add-user", group, user)
    ok(root_env, "policy", "create", policy, "--document", "-", stdin=json.dumps(ADMIN_ALL))
    ok(root_env, "policy", "attach", policy, "--group", group)
    got = json.loads(ok(root_env, "group", "get", group, "--json"))
    assert got["members"] == [user] and got["policies"] == [policy]
    assert group in ok(root_env, "group", "list")

    created = ok(root_env, "role", "create", role, "--trust", "-", stdin=json.dumps(TRUST))
    assert "sts:AssumeRole" in created
    short = uid("cg-r2")
    ok(
        root_env,
        "role",
        "create",
        short,
        "--trust",
        "-",
        "--max-session-seconds",
        "900",
        stdin=json.dumps(TRUST),
    )
    ok(root_env, "policy", "attach", policy, "--role", role)
    assert json.loads(ok(root_env, "role", "get", role, "--json"))["policies"] == [policy]
    assert role in ok(root_env, "role", "list")
    assert policy in ok(root_env, "policy", "list")
    ok(root_env, "policy", "detach", policy, "--role", role)
    ok(root_env, "role", "delete", role)

    bucket_doc = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::000000000000:user/{user}"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    path = tmp_path / "bucket.json"
    path.write_text(json.dumps(bucket_doc))
    ok(root_env, "bucket-policy", "put", bucket, "--document", str(path))
    assert json.loads(ok(root_env, "bucket-policy", "get", bucket)) == bucket_doc
    ok(root_env, "bucket-policy", "delete", bucket)
    rules = {
        "Rules": [
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Days": 1},
            }
        ]
    }
    rules_path = path.with_name("rules.json")
    rules_path.write_text(json.dumps(rules))
    ok(root_env, "lifecycle", "put", bucket, "--document", str(rules_path))
    assert json.loads(ok(root_env, "lifecycle", "get", bucket))["Rules"] == rules["Rules"]
    ran = json.loads(
        ok(
            root_env,
            "--json",
            "lifecycle",
            "run",
            bucket,
            "--dry-run",
            "--wait",
            "--interval",
            "0.1",
        )
    )
    assert (ran["state"], ran["dry_run"], ran["pbucket"]) == ("succeeded", True, bucket)
    history = ok(root_env, "lifecycle", "jobs", bucket)
    assert history.splitlines()[0].split()[:3] == ["JOB_ID", "STATE", "DRY_RUN"]
    assert ran["job_id"] in history
    one = ok(root_env, "lifecycle", "jobs", bucket, ran["job_id"])
    assert "state:" in one and one.split("state:")[1].split()[0] == "succeeded"
    ok(root_env, "lifecycle", "delete", bucket)
    ttl = {"rules": [{"prefix": "tmp/", "seconds": 600}]}
    ttl_path = path.with_name("ttl.json")
    ttl_path.write_text(json.dumps(ttl))
    ok(root_env, "cache-ttl", "put", bucket, "--document", str(ttl_path))
    assert json.loads(ok(root_env, "cache-ttl", "get", bucket)) == ttl
    ok(root_env, "cache-ttl", "delete", bucket)
    missing = pcache_admin(root_env, "bucket-policy", "get", bucket)
    assert missing.returncode == 1 and missing.stderr.startswith("NoSuchBucketPolicy: ")

    ok(root_env, "group", "remove-user", group, user)
    ok(root_env, "policy", "detach", policy, "--group", group)
    ok(root_env, "group", "delete", group)
    update = ["policy", "update", policy, "--document", "-", "--description", "d"]
    ok(root_env, *update, stdin=json.dumps(S3_ALL))
    assert json.loads(ok(root_env, "policy", "get", policy, "--json"))["description"] == "d"


def test_cli__profiles_like_aws_cli(gateway: GatewayProcess, tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    (tmp_path / "credentials").write_text(
        f"[pc]\naws_access_key_id = {gateway.access_key}\n"
        f"aws_secret_access_key = {gateway.secret_key}\n"
        "[wrong]\naws_access_key_id = AKWRONG000000000000\naws_secret_access_key = nope\n"
    )
    (tmp_path / "config").write_text(
        f"[profile pc]\nregion = us-east-1\nendpoint_url = {gateway.endpoint}\n"
        f"[profile wrong]\nendpoint_url = {gateway.endpoint}\n"
    )
    assert json.loads(ok(env, "--profile", "pc", "user", "list", "--json"))["items"] is not None
    assert ok({**env, "AWS_PROFILE": "pc"}, "policy", "list").startswith("NAME")
    # An explicit --profile wins over credentials in the environment, as in aws-cli.
    wrong = pcache_admin({**env, "AWS_PROFILE": "pc"}, "--profile", "wrong", "user", "list")
    assert wrong.returncode == 1 and wrong.stderr.startswith("InvalidAccessKeyId: ")
    # The node signs for us-east-1: another region is refused by the signature check.
    region = pcache_admin(env, "--profile", "pc", "--region", "eu-west-1", "user", "list")
    assert region.returncode == 1 and region.stderr.startswith("AuthorizationHeaderMalformed")


@pytest.mark.parametrize(
    ("args", "needs_env"),
    [
        (["user"], True),
        (["user", "frob"], True),
        (["policy", "attach", "p"], True),  # one of --user/--group/--role is required
        (["policy", "attach", "p", "--user", "u", "--group", "g"], True),
        (["role", "create", "r"], True),  # --trust is required
        (["policy", "create", "p", "--document", "/no/such/file.json"], True),
        (["user", "list"], False),  # no endpoint, no credentials
        (["pbucket", "create", "p"], True),  # --target is required
        (["pbuckets", "create", "p", "--target", "vendor=v"], True),  # no bucket
        (["pbuckets", "update", "p", "--target", "vendor=v,bucket=b,colour=red"], True),
        (["pbuckets", "update", "p", "--target", "vendor=v,bucket=b,weight=x"], True),
        (["vendor", "create", "v", "--endpoint", "http://x"], True),  # keys are required
        (["vendors", "update", "v"], True),  # nothing to change
    ],
)
def test_cli__usage_errors_exit_2(
    root_env: dict[str, str], tmp_path: Path, args: list[str], needs_env: bool
) -> None:
    env = root_env if needs_env else _clean_env(tmp_path)
    done = pcache_admin(env, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""


def test_cli__api_errors_exit_1(root_env: dict[str, str], tmp_path: Path) -> None:
    missing = pcache_admin(root_env, "user", "get", uid("nobody"))
    assert missing.returncode == 1 and missing.stderr.startswith("NoSuchEntity: ")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2012-10-17"}')
    refused = pcache_admin(root_env, "policy", "create", uid("p"), "--document", str(bad))
    assert refused.returncode == 1 and refused.stderr.startswith("MalformedPolicyDocument: ")
    invalid = pcache_admin(root_env, "user", "create", "a*b")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith("ValidationError: ") and "(field: name)" in invalid.stderr
    down = pcache_admin({**root_env, "PCACHE_ENDPOINT": "http://127.0.0.1:9"}, "user", "list")
    assert down.returncode == 1 and down.stderr.startswith("ConnectionError: ")


def test_cli__https_with_ca_bundle(gateway: GatewayProcess, root_env: dict[str, str]) -> None:
    assert gateway.https_endpoint is not None and gateway.ca_file is not None
    env = {**root_env, "PCACHE_ENDPOINT": gateway.https_endpoint}
    untrusted = pcache_admin(env, "user", "list")
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    assert ok(env, "user", "list", "--ca-bundle", str(gateway.ca_file)).startswith("NAME")
    assert ok(env, "--no-verify-ssl", "group", "list").startswith("NAME")


def test_cli__vendors_and_pbuckets_round_trip(
    root_env: dict[str, str], seaweed: SeaweedServer, vendor_bucket: str
) -> None:
    vendor, pbucket = uid("cli-v"), uid("cli-pb")
    create = ["vendors", "create", vendor, "--endpoint", seaweed.endpoint]
    create += ["--access-key", seaweed.access_key, "--secret-key", "-"]
    created = ok(root_env, *create, "--vendor-profile", "seaweedfs", stdin=seaweed.secret_key)
    assert "name:" in created and vendor in created and seaweed.secret_key not in created
    table = ok(root_env, "vendors", "list")
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "TYPE", "ENDPOINT", "REGION", "PROFILE", "MANAGED_BY"]
    row = next(r.split() for r in rows if r.split()[0] == vendor)
    assert row == [vendor, "s3", seaweed.endpoint, "us-east-1", "seaweedfs", "api"]
    updated = json.loads(ok(root_env, "vendor", "update", vendor, "--read-timeout", "20", "--json"))
    assert updated["read_timeout"] == 20 and "secret_key" not in updated
    assert json.loads(ok(root_env, "vendor", "get", vendor, "--json"))["read_timeout"] == 20

    target = f"vendor={vendor},bucket={vendor_bucket}"
    shown = ok(root_env, "pbuckets", "create", pbucket, "--target", target)
    assert "policy:" in shown and f"{vendor}:{vendor_bucket}" in shown
    header, *rows = ok(root_env, "pbuckets", "list").splitlines()
    assert header.split() == ["NAME", "POLICY", "TARGETS", "REGION", "MANAGED_BY"]
    assert next(r for r in rows if r.startswith(pbucket + " ")).split()[1:3] == [
        "single",
        f"{vendor}:{vendor_bucket}",
    ]
    two = ["--target", target + ",prefix=a/", "--target", target + ",prefix=b/,weight=2"]
    balanced = ok(root_env, "pbucket", "update", pbucket, "--policy", "balance", *two, "--json")
    got = json.loads(balanced)
    assert got["policy"] == "balance" and [t["weight"] for t in got["targets"]] == [1, 2]
    assert json.loads(ok(root_env, "pbucket", "get", pbucket, "--json")) == got

    in_use = pcache_admin(root_env, "vendor", "delete", vendor)
    assert in_use.returncode == 1 and in_use.stderr.startswith("DeleteConflict: ")
    bad = pcache_admin(root_env, "pbucket", "update", pbucket, "--target", "vendor=nope,bucket=b")
    assert bad.returncode == 1 and "(field: targets[0].vendor)" in bad.stderr
    assert ok(root_env, "pbuckets", "delete", pbucket) == ""
    assert ok(root_env, "vendors", "delete", vendor) == ""
    gone = pcache_admin(root_env, "vendor", "get", vendor)
    assert gone.returncode == 1 and gone.stderr.startswith("NoSuchEntity: ")
