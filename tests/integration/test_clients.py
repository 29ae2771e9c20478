"""Real S3 clients (aws-cli v1, s3cmd, rclone) as subprocesses through PCache over plain HTTP:
every byte round-trips exactly.

Object tests run against a `single`, a `balance` (3 targets) and a `replicate` (3 targets)
PBucket. `mb`/`rb` stay single-only: S3 CreateBucket only makes `single` PBuckets (the other
policies come from the admin API), so there is nothing policy-specific for them to do."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import _empty_and_delete
from tests.rig.gateway import GatewayProcess
from tests.rig.pbuckets import POLICIES

pytestmark = [pytest.mark.clients, pytest.mark.policies(*POLICIES)]

BIN = Path(sys.executable).parent
TIMEOUT = 60.0
MIB = 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root."""
    return {
        p.relative_to(root).as_posix(): _sha(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _make_tree(root: Path) -> dict[str, str]:
    files = {
        "a.txt": b"alpha\n",
        "empty.bin": b"",
        "sub/b.bin": os.urandom(70_000),
        "sub/deeper/c.bin": os.urandom(300_001),
        "sub/deeper/d with space.txt": b"delta " * 100,
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return _tree(root)


def _env(gateway: GatewayProcess, home: Path) -> dict[str, str]:
    """An isolated environment: no user config, no CA bundle, gateway credentials only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "RCLONE_", "S3CMD")) and k not in {"HOME"}
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": gateway.access_key,
            "AWS_SECRET_ACCESS_KEY": gateway.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "HOME": str(home),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


class Runner:
    def __init__(self, gateway: GatewayProcess, home: Path) -> None:
        self.gateway = gateway
        self.env = _env(gateway, home)

    def run(self, *args: str | Path) -> str:
        argv = [str(a) for a in args]
        proc = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        assert proc.returncode == 0, (
            f"{argv} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
            f"stderr:\n{proc.stderr[-3000:]}\n"
            f"gateway log tail:\n{self.gateway.log_text()[-3000:]}"
        )
        return proc.stdout


class Aws(Runner):
    def __call__(self, *args: str | Path) -> str:
        extra: tuple[str, ...] = ()
        if args[:1] == ("s3",) and args[1] in {"cp", "mv", "rm", "sync"}:
            extra = ("--only-show-errors",)  # only the transfer commands take it
        return self.run(BIN / "aws", "--endpoint-url", self.gateway.endpoint, *args, *extra)


class S3cmd(Runner):
    def __init__(self, gateway: GatewayProcess, home: Path) -> None:
        super().__init__(gateway, home)
        hostport = urlsplit(gateway.endpoint).netloc
        self.cfg = home / "s3cmd.cfg"
        self.cfg.write_text(
            "[default]\n"
            f"access_key = {gateway.access_key}\n"
            f"secret_key = {gateway.secret_key}\n"
            f"host_base = {hostport}\n"
            f"host_bucket = {hostport}\n"
            "use_https = False\n"
            "signature_v2 = False\n"
            "bucket_location = us-east-1\n"
            "check_ssl_certificate = False\n"
            "progress_meter = False\n"
        )

    def __call__(self, *args: str | Path) -> str:
        return self.run(BIN / "s3cmd", "-c", self.cfg, *args)


class Rclone(Runner):
    def __call__(self, *args: str | Path) -> str:
        return self.run(BIN / "rclone", "--config", "/dev/null", *args)

    def remote(self, bucket: str, prefix: str) -> str:
        g = self.gateway
        return (
            f":s3,provider=Other,access_key_id={g.access_key},"
            f"secret_access_key={g.secret_key},endpoint='{g.endpoint}':{bucket}/{prefix}"
        )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def aws(gateway: GatewayProcess, home: Path) -> Aws:
    return Aws(gateway, home)


@pytest.fixture
def s3cmd(gateway: GatewayProcess, home: Path) -> S3cmd:
    return S3cmd(gateway, home)


@pytest.fixture
def rclone(gateway: GatewayProcess, home: Path) -> Rclone:
    return Rclone(gateway, home)


@pytest.fixture
def fresh_name(s3: Any) -> Iterator[str]:
    """A bucket name nobody has created yet; deleted afterwards if a test left it behind."""
    name = f"pb-{uuid.uuid4().hex[:20]}"
    yield name
    try:
        s3.head_bucket(Bucket=name)
    except Exception:
        return
    _empty_and_delete(s3, name)


def _bucket_names(s3: Any) -> set[str]:
    return {b["Name"] for b in s3.list_buckets()["Buckets"]}


# --- aws-cli v1 -------------------------------------------------------------------------------


def test_aws_s3_mb_rb__creates_and_removes_bucket(aws: Aws, s3: Any, fresh_name: str) -> None:
    aws("s3", "mb", f"s3://{fresh_name}")
    assert fresh_name in _bucket_names(s3)
    assert fresh_name in aws("s3", "ls")
    aws("s3", "rb", f"s3://{fresh_name}")
    assert fresh_name not in _bucket_names(s3)


def _cp_round_trip(aws: Aws, s3: Any, bucket: str, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    aws("s3", "cp", src, f"s3://{bucket}/dir/obj.bin")
    head = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert head["ContentLength"] == size
    if size > 8 * MIB:
        # aws-cli's multipart threshold is 8 MiB: the ETag is a multipart one ("-N").
        assert head["ETag"].rstrip('"').endswith("-3")
    else:
        assert head["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    dst = tmp_path / "dst.bin"
    aws("s3", "cp", f"s3://{bucket}/dir/obj.bin", dst)
    assert _sha(dst.read_bytes()) == _sha(data)


# On balance and replicate, aws-cli's single-part PUT and GET run in the s3api, sync and rm
# tests: the 1 MiB cp adds no operation there.
@pytest.mark.policies("single")
def test_aws_s3_cp__1mib_up_and_down_byte_exact(
    aws: Aws, s3: Any, bucket: str, tmp_path: Path
) -> None:
    _cp_round_trip(aws, s3, bucket, tmp_path, MIB)


def test_aws_s3_cp__20mib_multipart_up_and_down_byte_exact(
    aws: Aws, s3: Any, bucket: str, tmp_path: Path
) -> None:
    _cp_round_trip(aws, s3, bucket, tmp_path, 20 * MIB)


def test_aws_s3_sync__tree_round_trips(aws: Aws, bucket: str, tmp_path: Path) -> None:
    up = tmp_path / "up"
    expected = _make_tree(up)
    aws("s3", "sync", up, f"s3://{bucket}/tree")
    listing = aws("s3", "ls", "--recursive", f"s3://{bucket}/tree/")
    for rel in expected:
        assert f"tree/{rel}" in listing
    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/tree", down)
    assert _tree(down) == expected


def test_aws_s3_rm__recursive_removes_prefix_only(
    aws: Aws, s3: Any, bucket: str, tmp_path: Path
) -> None:
    _make_tree(tmp_path / "t")
    aws("s3", "sync", tmp_path / "t", f"s3://{bucket}/gone")
    s3.put_object(Bucket=bucket, Key="keep/me", Body=b"stay")
    aws("s3", "rm", "--recursive", f"s3://{bucket}/gone")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["keep/me"]
    assert "gone" not in aws("s3", "ls", "--recursive", f"s3://{bucket}/")


def test_aws_s3api_put_head_get__metadata(aws: Aws, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(12_345)
    src = tmp_path / "body"
    src.write_bytes(data)
    put = json.loads(
        aws(
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            "meta/obj",
            "--body",
            src,
            "--content-type",
            "application/x-test",
            "--metadata",
            "color=blue,owner=pcache",
        )
    )
    md5 = f'"{hashlib.md5(data).hexdigest()}"'
    assert put["ETag"] == md5
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "meta/obj"))
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"color": "blue", "owner": "pcache"}
    assert head["ETag"] == md5
    out = tmp_path / "out"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "meta/obj", out))
    assert got["Metadata"] == {"color": "blue", "owner": "pcache"}
    assert out.read_bytes() == data


# Presigning is local to aws-cli; the GET of a presigned URL runs on every policy in the boto3
# suite (test_presigned_get_and_put).
@pytest.mark.policies("single")
def test_aws_s3_presign__sigv4_url_fetches_exact_bytes(
    aws: Aws, s3: Any, bucket: str, home: Path
) -> None:
    data = os.urandom(50_000)
    s3.put_object(Bucket=bucket, Key="p/obj", Body=data)
    # aws-cli v1 presigns with SigV2 unless told s3v4 (PCache refuses SigV2): a private config
    # file with only that setting.
    cfg = home / "aws.cfg"
    cfg.write_text("[default]\ns3 =\n    signature_version = s3v4\n")
    aws.env["AWS_CONFIG_FILE"] = str(cfg)
    url = aws("s3", "presign", f"s3://{bucket}/p/obj", "--expires-in", "300").strip()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        assert resp.read() == data


@pytest.mark.policies("single")  # refused by auth before any policy is involved
def test_aws_s3_presign__default_sigv2_url_is_refused_clearly(
    aws: Aws, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="p/obj", Body=b"secret")
    url = aws("s3", "presign", f"s3://{bucket}/p/obj").strip()
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=30)
    body = err.value.read().decode()
    assert err.value.code == 400
    assert "<Code>InvalidRequest</Code>" in body
    assert "AWS4-HMAC-SHA256" in body


# --- s3cmd --------------------------------------------------------------------------------------


def test_s3cmd__mb_rb(s3cmd: S3cmd, s3: Any, fresh_name: str) -> None:
    b = f"s3://{fresh_name}"
    s3cmd("mb", b)
    assert fresh_name in _bucket_names(s3)
    assert b in s3cmd("ls")
    s3cmd("rb", b)
    assert fresh_name not in _bucket_names(s3)


def test_s3cmd__put_get_ls_sync_del(s3cmd: S3cmd, s3: Any, bucket: str, tmp_path: Path) -> None:
    b = f"s3://{bucket}"
    data = os.urandom(2 * MIB + 3)
    src = tmp_path / "one.bin"
    src.write_bytes(data)
    s3cmd("put", src, f"{b}/one.bin")
    dst = tmp_path / "one.out"
    s3cmd("get", f"{b}/one.bin", dst)
    assert _sha(dst.read_bytes()) == _sha(data)
    assert f"{b}/one.bin" in s3cmd("ls", f"{b}/")

    up = tmp_path / "up"
    expected = _make_tree(up)
    s3cmd("sync", f"{up}/", f"{b}/tree/")
    listing = s3cmd("ls", "--recursive", f"{b}/tree/")
    for rel in expected:
        assert f"{b}/tree/{rel}" in listing
    down = tmp_path / "down"
    down.mkdir()
    s3cmd("sync", f"{b}/tree/", f"{down}/")
    assert _tree(down) == expected

    s3cmd("del", f"{b}/one.bin")
    s3cmd("del", "--recursive", "--force", f"{b}/tree/")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


# --- rclone -------------------------------------------------------------------------------------


def test_rclone__copy_lsf_sync_copy_back(
    rclone: Rclone, s3: Any, bucket: str, tmp_path: Path
) -> None:
    remote = rclone.remote(bucket, "rc")
    up = tmp_path / "up"
    expected = _make_tree(up)
    rclone("copy", up, remote)
    listed = set(rclone("lsf", "-R", "--files-only", remote).splitlines())
    assert listed == set(expected)

    (up / "sub" / "b.bin").unlink()
    (up / "new.bin").write_bytes(os.urandom(5_000))
    expected = _tree(up)
    rclone("sync", up, remote)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="rc/").get("Contents", [])}
    assert keys == {f"rc/{rel}" for rel in expected}

    down = tmp_path / "down"
    rclone("copy", remote, down)
    assert _tree(down) == expected
