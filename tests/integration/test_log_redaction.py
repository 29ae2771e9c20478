"""ADM-03: a node logging at DEBUG, driven through every credential-bearing path (header and
presigned SigV4, STS session tokens, the admin API's one-time secret), never writes a secret,
a signature or a session token to its log."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.rig.gateway import GatewayProcess
from tests.rig.iam import TEST_MASTER_KEY_HEX


def test_debug_log_holds_no_credentials(tmp_path: Path) -> None:
    config = '[node]\nlog_level = "debug"\n'
    env = {"PCACHE_MASTER_KEY": TEST_MASTER_KEY_HEX}
    with GatewayProcess(tmp_path, config=config, extra_env=env) as gw:
        s3: Any = gw.client()
        s3.create_bucket(Bucket="logs")
        s3.put_object(Bucket="logs", Key="k", Body=b"x")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "logs", "Key": "k"})
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.read() == b"x"
        signature = url.rsplit("X-Amz-Signature=", 1)[1]

        sts: Any = boto3.client(
            "sts",
            endpoint_url=gw.endpoint,
            region_name="us-east-1",
            aws_access_key_id=gw.access_key,
            aws_secret_access_key=gw.secret_key,
        )
        creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
        temp: Any = boto3.client(
            "s3",
            endpoint_url=gw.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(s3={"addressing_style": "path"}),
        )
        assert temp.get_object(Bucket="logs", Key="k")["Body"].read() == b"x"

        from tests.integration.test_admin_api import AdminApi

        admin = AdminApi(gw.endpoint, gw.access_key, gw.secret_key)
        assert admin.call("POST", "/admin/v1/users", {"name": "logged"}).status == 201
        created = admin.call("POST", "/admin/v1/users/logged/keys", {}).json
        log = gw.log_text()
    assert "op=GetObject" in log and "DEBUG" in log  # the log really was written, verbosely
    for secret in (
        gw.secret_key,
        signature,
        creds["SecretAccessKey"],
        creds["SessionToken"],
        created["secret_key"],
    ):
        assert secret not in log
    assert json.dumps(created["secret_key"]) not in log
