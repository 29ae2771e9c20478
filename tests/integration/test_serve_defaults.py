"""`pcache serve` with no config: embedded Redis, local-directory vendor, data kept across
restarts; a bad config exits 2 naming the key."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rig.gateway import GatewayProcess


@pytest.fixture(scope="module")
def defaults_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("defaults")


def test_serve__defaults_local_vendor_round_trip_and_restart(defaults_workdir: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    keys = ["a//b", "a/../b", "./x", "k" * 1024, "é", "e\u0301", "日本"]
    with GatewayProcess(defaults_workdir) as gw:
        s3: Any = gw.client()
        s3.create_bucket(Bucket="demo")
        s3.put_object(Bucket="demo", Key="big", Body=data)
        for k in keys:
            s3.put_object(Bucket="demo", Key=k, Body=k.encode())
    # The embedded Redis and the vendor directory survive a restart.
    with GatewayProcess(defaults_workdir) as gw:
        s3 = gw.client()
        assert "demo" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        body = s3.get_object(Bucket="demo", Key="big")["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
        for k in keys:
            assert s3.get_object(Bucket="demo", Key=k)["Body"].read() == k.encode()
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="demo")["Contents"]]
        assert listed == sorted([*keys, "big"], key=lambda k: k.encode())
    # Keys never become paths: every file under the data dir has a key-free name.
    for path in (defaults_workdir / "data").rglob("*"):
        assert len(path.name.encode()) < 100
        assert path.resolve().is_relative_to((defaults_workdir / "data").resolve())


def test_serve__root_credentials_are_encrypted_at_rest(defaults_workdir: Path) -> None:
    secret = GatewayProcess(defaults_workdir).secret_key.encode()
    for path in (defaults_workdir / "data").rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_serve__wrong_secret_against_defaults(tmp_path: Path) -> None:
    with GatewayProcess(tmp_path) as gw:
        gw.secret_key = "not-the-secret"
        with pytest.raises(ClientError) as ei:
            gw.client().list_buckets()
        assert ei.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ("[node]\nlisten = 'nope'\n", "node.listen"),
        ("[vendors.v]\ntype = 's3'\nendpoint = 'ftp://x'\n", "vendors.v.endpoint"),
        ("[node]\nbogus = 1\n", "node.bogus"),
        ("[[pbuckets]]\nname = 'p'\nvendor = 'missing'\n", "pbuckets[0].vendor"),
        ("not toml = = =", "pcache.toml"),
    ],
)
def test_serve__invalid_config_exits_2_naming_the_key(
    tmp_path: Path, config: str, key: str
) -> None:
    cfg = tmp_path / "pcache.toml"
    cfg.write_text(config)
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert key in proc.stderr


def test_serve__sigterm_finishes_in_flight_download_then_exits_0(tmp_path: Path) -> None:
    """Graceful shutdown: a GET already streaming when SIGTERM lands completes byte-exact; the
    node then stops its listeners and embedded Redis and exits 0 without a traceback."""
    data = os.urandom(64 * 1024 * 1024)
    with GatewayProcess(tmp_path) as gw:
        s3: Any = gw.client()
        s3.create_bucket(Bucket="drain")
        s3.put_object(Bucket="drain", Key="big", Body=data)
        body = s3.get_object(Bucket="drain", Key="big")["Body"]
        head = body.read(65536)  # the response is on the wire, far from done
        assert gw.proc is not None
        assert list((tmp_path / "data").rglob("*.sock"))
        gw.proc.send_signal(signal.SIGTERM)
        rest = body.read()
        assert hashlib.sha256(head + rest).digest() == hashlib.sha256(data).digest()
        assert gw.proc.wait(timeout=30) == 0
        log = gw.log_text()
    assert "Traceback" not in log
    # The embedded Redis went down with the node: its unix socket is gone.
    assert not list((tmp_path / "data").rglob("*.sock"))
