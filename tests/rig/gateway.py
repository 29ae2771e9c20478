"""Run `pcache serve` as a real subprocess on loopback, with optional HTTPS (self-signed pair)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from tests.rig.ports import HOST, free_ports

__all__ = ["GatewayProcess", "make_self_signed"]


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1/localhost (cert doubles as the client's CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pcache-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class GatewayProcess:
    """`python -m gateway serve` with a config file; ready when /healthz answers 200."""

    def __init__(
        self,
        workdir: Path,
        *,
        config: str | None = None,
        access_key: str = "AKPCACHETEST0000ROOT",
        secret_key: str = "pcache-test-root-secret-key-0123456789ab",
        tls: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.access_key = access_key
        self.secret_key = secret_key
        self.port, self.tls_port = free_ports(2)
        self.endpoint = f"http://{HOST}:{self.port}"
        self.https_endpoint: str | None = None
        self.ca_file: Path | None = None
        self.config_text = config
        self.tls = tls
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "gateway.log"

    def _write_config(self) -> Path | None:
        text = self.config_text
        if self.tls:
            cert, key = make_self_signed(self.workdir)
            self.ca_file = cert
            self.https_endpoint = f"https://{HOST}:{self.tls_port}"
            tls_lines = (
                f'https_listen = "{HOST}:{self.tls_port}"\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
            )
            text = (text or "").replace("[node]\n", "[node]\n" + tls_lines, 1)
            if "[node]" not in (self.config_text or ""):
                text = "[node]\n" + tls_lines + (self.config_text or "")
        if text is None:
            return None
        path = self.workdir / "pcache.toml"
        path.write_text(text)
        return path

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self._write_config()
        args = [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--listen",
            f"{HOST}:{self.port}",
            "--data-dir",
            str(self.workdir / "data"),
        ]
        if cfg is not None:
            args += ["-c", str(cfg)]
        env = dict(os.environ)
        env.update(
            {
                "PCACHE_ROOT_ACCESS_KEY": self.access_key,
                "PCACHE_ROOT_SECRET_KEY": self.secret_key,
                **self.extra_env,
            }
        )
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env, cwd=self.workdir)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)  # poll interval; the loop ends at the deadline
        tail = self.log_path.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"gateway did not become ready:\n{tail}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def listening_workers(self) -> int:
        """How many "listening" lines the log has: worker processes started (or restarted)."""
        return self.log_text().count("PCache listening on http")

    def wait_for_workers(self, count: int, timeout: float = 60.0) -> None:
        """Ready means one worker answers; this waits until `count` have started."""
        deadline = time.monotonic() + timeout
        while self.listening_workers() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not all {count} workers started:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)  # poll interval; the loop ends at the deadline

    def client(self, *, tls: bool = False, **config: Any) -> Any:
        endpoint = self.https_endpoint if tls else self.endpoint
        cfg = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            **config,
        )
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=cfg,
            verify=str(self.ca_file) if tls and self.ca_file else None,
        )

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
