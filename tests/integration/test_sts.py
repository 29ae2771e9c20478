"""STS on the S3 endpoint (AssumeRole, GetSessionToken, GetCallerIdentity) driven by boto3's STS
client, and the temporary credentials it hands out used against S3.

Users, roles and policies are written straight to Redis through `auth.iam_store` (IamRig); the
gateway sees them within about a second, so every first use polls on the real outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import defusedxml.ElementTree as ElementTree
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from auth.sts import issue
from tests.rig.gateway import GatewayProcess
from tests.rig.iam import IamRig, error_code, until

ACCOUNT = "000000000000"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def policy(effect: str, actions: list[str] | str, resources: list[str] | str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": actions, "Resource": resources}],
    }


def trust(principal: Any) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def sts_client(endpoint: str, ak: str, sk: str, token: str | None = None) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def s3_client(iam: IamRig, creds: dict[str, Any]) -> Any:
    return iam.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]
    )


def make_role(
    iam: IamRig, trust_doc: str, *policies: dict[str, Any], max_seconds: int = 3600
) -> str:
    name = f"r-{uuid.uuid4().hex[:10]}"
    iam.run(iam.store.create_role(name, trust_doc, max_session_seconds=max_seconds))
    for i, doc in enumerate(policies):
        pname = f"{name}-p{i}"
        iam.run(iam.store.put_policy(pname, json.dumps(doc)))
        iam.run(iam.store.attach_role_policy(name, pname))
    return name


def sts_user(iam: IamRig, gateway: GatewayProcess, *policies: dict[str, Any]) -> tuple[str, Any]:
    """A new user and an STS client for it, once the gateway knows the user."""
    name, ak, sk = iam.user(*policies)
    client = sts_client(gateway.endpoint, ak, sk)
    until(lambda: error_code(client.get_caller_identity) is None)
    return name, client


def assume_when_visible(client: Any, **kw: Any) -> dict[str, Any]:
    """AssumeRole once the gateway's IAM snapshot holds the new role (AccessDenied before)."""
    out: dict[str, Any] = {}

    def attempt() -> bool:
        try:
            out.update(client.assume_role(**kw))
        except ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDenied"
            return False
        return True

    until(attempt)
    return out


def raw_sts(
    endpoint: str,
    ak: str,
    sk: str,
    params: dict[str, str],
    *,
    token: str | None = None,
    send_body: bytes | None = None,
) -> tuple[int, str | None, str]:
    """A form POST signed like botocore signs STS (no x-amz-content-sha256), sent as is, so
    parameters boto3 would refuse client-side reach the gateway: (status, error code, body)."""
    body = urlencode(params)
    req = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ak, sk, token), "sts", "us-east-1").add_auth(req)
    headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
    data = body.encode() if send_body is None else send_body
    wire = urllib.request.Request(endpoint + "/", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(wire, timeout=10) as resp:
            return resp.status, None, resp.read().decode()
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        code = ElementTree.fromstring(text).find(f"{STS_NS}Error/{STS_NS}Code")
        return err.code, None if code is None else code.text, text


def status_and_code(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"], info.value.response["Error"][
        "Code"
    ]


# --- GetCallerIdentity / GetSessionToken ---------------------------------------------------------


def test_get_caller_identity__root_and_user(iam: IamRig, gateway: GatewayProcess) -> None:
    root = sts_client(gateway.endpoint, gateway.access_key, gateway.secret_key)
    me = root.get_caller_identity()
    assert (me["Arn"], me["Account"], me["UserId"]) == (
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
        ACCOUNT,
    )
    name, alice = sts_user(iam, gateway)
    me = alice.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert me["UserId"].startswith("AIDA")


def test_get_session_token__carries_the_users_rights(
    iam: IamRig, gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    name, alice = sts_user(
        iam, gateway, policy("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*")
    )
    out = alice.get_session_token()
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    lifetime = creds["Expiration"] - datetime.now(UTC)
    assert timedelta(hours=11, minutes=58) < lifetime <= timedelta(hours=12)
    temp = s3_client(iam, creds)
    assert temp.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert error_code(lambda: temp.put_object(Bucket=bucket, Key="k", Body=b"y")) == "AccessDenied"
    session_sts = sts_client(
        gateway.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    assert session_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    # Session credentials cannot mint more session credentials (AWS: AccessDenied).
    assert status_and_code(session_sts.get_session_token) == (403, "AccessDenied")


def test_get_session_token__bad_duration_is_validation_error(
    iam: IamRig, gateway: GatewayProcess
) -> None:
    _, ak, sk = iam.user()
    until(
        lambda: (
            raw_sts(
                gateway.endpoint, ak, sk, {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
            )[0]
            == 200
        )
    )
    for bad in ("100", "129601", "ten"):
        params = {"Action": "GetSessionToken", "Version": "2011-06-15", "DurationSeconds": bad}
        assert raw_sts(gateway.endpoint, ak, sk, params)[:2] == (400, "ValidationError")
    ok = {"Action": "GetSessionToken", "Version": "2011-06-15", "DurationSeconds": "900"}
    assert raw_sts(gateway.endpoint, ak, sk, ok)[0] == 200


def test_sts__unknown_action_and_version(gateway: GatewayProcess) -> None:
    ak, sk = gateway.access_key, gateway.secret_key
    assert raw_sts(gateway.endpoint, ak, sk, {"Action": "Frobnicate", "Version": "2011-06-15"})[
        :2
    ] == (400, "InvalidAction")
    assert raw_sts(
        gateway.endpoint, ak, sk, {"Action": "GetCallerIdentity", "Version": "2010-01-01"}
    )[:2] == (400, "InvalidAction")


def test_sts__body_is_covered_by_the_signature(gateway: GatewayProcess) -> None:
    ak, sk = gateway.access_key, gateway.secret_key
    signed = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    tampered = urlencode({"Action": "GetSessionToken", "Version": "2011-06-15"}).encode()
    status, code, _ = raw_sts(gateway.endpoint, ak, sk, signed, send_body=tampered)
    assert (status, code) == (403, "SignatureDoesNotMatch")
    wrong = sts_client(gateway.endpoint, ak, "not-the-secret")
    assert status_and_code(wrong.get_caller_identity) == (403, "SignatureDoesNotMatch")
    unknown = sts_client(gateway.endpoint, "AKPCACHENOSUCHKEY000", sk)
    assert status_and_code(unknown.get_caller_identity) == (403, "InvalidClientTokenId")


# --- AssumeRole ----------------------------------------------------------------------------------


def test_assume_role__role_rights_narrowed_by_session_policy(
    iam: IamRig, gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    alice, alice_sts = sts_user(iam, gateway)  # no S3 rights of her own
    role = make_role(
        iam,
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice}"}),
        policy("Allow", ["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{bucket}/*"),
    )
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    out = assume_when_visible(alice_sts, RoleArn=role_arn, RoleSessionName="full")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/full"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert out["AssumedRoleUser"]["AssumedRoleId"].endswith(":full")
    full = s3_client(iam, out["Credentials"])
    full.put_object(Bucket=bucket, Key="by-role", Body=b"r")
    assert full.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert error_code(lambda: full.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    creds = out["Credentials"]
    role_sts = sts_client(
        gateway.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    assert role_sts.get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert status_and_code(role_sts.get_session_token) == (403, "AccessDenied")

    narrowed = alice_sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName="read-only",
        DurationSeconds=900,
        Policy=json.dumps(policy("Allow", ["s3:GetObject", "s3:ListBucket"], "*"), indent=2),
    )
    assert 0 < narrowed["PackedPolicySize"] <= 100
    reader = s3_client(iam, narrowed["Credentials"])
    assert reader.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    # The role allows PutObject, the session policy does not; ListBucket the other way round.
    assert error_code(lambda: reader.put_object(Bucket=bucket, Key="k", Body=b"y")) == (
        "AccessDenied"
    )
    assert error_code(lambda: reader.list_objects_v2(Bucket=bucket)) == "AccessDenied"


def test_assume_role__who_may_assume(iam: IamRig, gateway: GatewayProcess) -> None:
    alice, alice_sts = sts_user(iam, gateway)
    _, bob_sts = sts_user(iam, gateway)
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice}"}))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assume_when_visible(alice_sts, RoleArn=role_arn, RoleSessionName="s1")
    assert status_and_code(lambda: bob_sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")) == (
        403,
        "AccessDenied",
    )
    root = sts_client(gateway.endpoint, gateway.access_key, gateway.secret_key)
    assert status_and_code(lambda: root.assume_role(RoleArn=role_arn, RoleSessionName="s1")) == (
        403,
        "AccessDenied",
    )
    other_account = f"arn:aws:iam::123456789012:role/{role}"
    assert status_and_code(
        lambda: alice_sts.assume_role(RoleArn=other_account, RoleSessionName="s1")
    ) == (403, "AccessDenied")
    # Longer than the role's MaxSessionDuration (3600).
    assert status_and_code(
        lambda: alice_sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7200)
    ) == (400, "ValidationError")
    assert status_and_code(
        lambda: alice_sts.assume_role(RoleArn=role_arn, RoleSessionName="bad name!")
    ) == (400, "ValidationError")
    assert status_and_code(
        lambda: alice_sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", Policy="{")
    ) == (400, "MalformedPolicyDocument")
    huge = policy("Allow", [f"s3:GetObject{i:04d}" for i in range(200)], "*")
    assert status_and_code(
        lambda: alice_sts.assume_role(
            RoleArn=role_arn, RoleSessionName="s1", Policy=json.dumps(huge)
        )
    ) == (400, "PackedPolicyTooLarge")


def test_assume_role__account_principal_needs_identity_permission(
    iam: IamRig, gateway: GatewayProcess
) -> None:
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    _, allowed = sts_user(iam, gateway, policy("Allow", "sts:AssumeRole", role_arn))
    _, plain = sts_user(iam, gateway)
    assume_when_visible(allowed, RoleArn=role_arn, RoleSessionName="via-account")
    assert status_and_code(
        lambda: plain.assume_role(RoleArn=role_arn, RoleSessionName="via-account")
    ) == (403, "AccessDenied")


# --- using temporary credentials against S3 ------------------------------------------------------


def _session_creds(iam: IamRig, gateway: GatewayProcess, bucket: str) -> dict[str, Any]:
    _, alice = sts_user(iam, gateway, policy("Allow", "s3:*", f"arn:aws:s3:::{bucket}*"))
    creds: dict[str, Any] = alice.get_session_token(DurationSeconds=900)["Credentials"]
    return creds


def _raw_status(client: Any, bucket: str) -> tuple[int, str] | None:
    try:
        client.list_objects_v2(Bucket=bucket)
    except ClientError as err:
        return err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"]
    return None


def test_session_token__altered_or_missing(
    iam: IamRig, gateway: GatewayProcess, bucket: str
) -> None:
    creds = _session_creds(iam, gateway, bucket)
    assert _raw_status(s3_client(iam, creds), bucket) is None
    token = creds["SessionToken"]
    altered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    bad = s3_client(iam, {**creds, "SessionToken": altered})
    assert _raw_status(bad, bucket) == (400, "InvalidToken")
    missing = iam.client(creds["AccessKeyId"], creds["SecretAccessKey"])
    assert _raw_status(missing, bucket) == (403, "InvalidAccessKeyId")
    # STS itself answers with its own code for a bad token.
    bad_sts = sts_client(gateway.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], altered)
    assert status_and_code(bad_sts.get_caller_identity) == (403, "InvalidClientTokenId")


def test_session_token__expired(iam: IamRig, gateway: GatewayProcess, bucket: str) -> None:
    name, _ = sts_user(iam, gateway, policy("Allow", "s3:*", f"arn:aws:s3:::{bucket}*"))
    old = issue(kind="user", subject=name, duration=900, now=datetime.now(UTC) - timedelta(hours=1))
    iam.run(iam.store.put_session(old.session, old.secret, 60))
    creds = {
        "AccessKeyId": old.session.access_key,
        "SecretAccessKey": old.secret,
        "SessionToken": old.token,
    }
    assert _raw_status(s3_client(iam, creds), bucket) == (400, "ExpiredToken")
    expired_sts = sts_client(gateway.endpoint, old.session.access_key, old.secret, old.token)
    assert status_and_code(expired_sts.get_caller_identity) == (400, "ExpiredToken")


def test_session_token__revoked_within_a_second(
    iam: IamRig, gateway: GatewayProcess, bucket: str
) -> None:
    creds = _session_creds(iam, gateway, bucket)
    client = s3_client(iam, creds)
    assert _raw_status(client, bucket) is None
    iam.run(iam.store.delete_sessions([creds["AccessKeyId"]]))
    took = until(lambda: _raw_status(client, bucket) == (403, "InvalidAccessKeyId"), timeout=3)
    assert took < 1.5


# --- the edge: what is and is not STS, and aws-cli -----------------------------------------------


def _post_root(gateway: GatewayProcess, body: bytes, content_type: str) -> tuple[int, bytes]:
    req = urllib.request.Request(
        gateway.endpoint + "/", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_sts__unsigned_oversized_and_not_sts(gateway: GatewayProcess) -> None:
    form = "application/x-www-form-urlencoded"
    status, body = _post_root(gateway, b"Action=GetCallerIdentity&Version=2011-06-15", form)
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in body
    status, body = _post_root(gateway, b"Action=" + b"x" * 20_000, form)
    assert status == 400 and b"<ErrorResponse" in body and b"ValidationError" in body
    # Not STS: a form without Action, or another content type, gets S3's answer (S3 XML).
    for payload, ctype in ((b"Foo=1", form), (b"<x/>", "application/xml")):
        status, body = _post_root(gateway, payload, ctype)
        assert status == 403 and body.count(b"<Error><Code>AccessDenied</Code>") == 1


def test_aws_cli__assume_role(iam: IamRig, gateway: GatewayProcess, tmp_path: Path) -> None:
    alice, alice_sts = sts_user(iam, gateway)
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice}"}))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assume_when_visible(alice_sts, RoleArn=role_arn, RoleSessionName="warmup")
    key = iam.run(iam.store.create_access_key(alice))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key[0].access_key,
        AWS_SECRET_ACCESS_KEY=key[1],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        HOME=str(tmp_path),
    )
    argv = [
        str(Path(sys.executable).parent / "aws"),
        "sts",
        "assume-role",
        "--endpoint-url",
        gateway.endpoint,
        "--role-arn",
        role_arn,
        "--role-session-name",
        "cli",
        "--duration-seconds",
        "900",
    ]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/cli"
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
