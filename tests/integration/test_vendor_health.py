"""Vendor health end to end through a real gateway: retries bounded by the budget (FLT-07), a hung
vendor answered with 503 in bounded time, the circuit breaker failing fast and recovering through
its half-open probe (FLT-04), redirects never followed, and private endpoints refused (ADM-05).

Faults come from the FaultProxy in front of the session SeaweedFS (hang mode: connections are
accepted and never answered, as with a SIGSTOPped vendor) and from `FaultyS3`, a counter that
answers every request with a scripted S3 error and never serves an object.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.rig.cachegw import SHARED_KEY
from tests.rig.fault_s3 import Fault, FaultyS3
from tests.rig.gateway import GatewayProcess
from tests.rig.proxy import FaultProxy
from tests.rig.seaweed import SeaweedServer

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 1.0
RETRIES = 2
FAILURES = 3  # breaker threshold for the hung-vendor gateway
COOLDOWN = 2.0


def _config(redis_url: str, tier: Path, vendor: str, pbucket: str | None = None) -> str:
    declared = (
        f'\n[[pbuckets]]\nname = "{pbucket}"\nvendor = "v"\nbucket = "b"\n' if pbucket else ""
    )
    return f"""
[node]
region = "us-east-1"
vendor_allowlist = ["127.0.0.0/8"]

[redis]
url = "{redis_url}"

[vendors.v]
type = "s3"
{vendor}
connect_timeout = {CONNECT_TIMEOUT}
read_timeout = {READ_TIMEOUT}
retries = {RETRIES}

[cache]
block_size = 65536
write_mode = "around"  # objects PUT here must still be uncached when the vendor hangs

[[cache.tier]]
name = "t"
dir = "{tier}"
capacity = 16777216
{declared}"""


def _key() -> str:
    """A fresh key: the metadata cache remembers a NoSuchKey for negative_ttl."""
    return f"k-{uuid.uuid4().hex[:12]}"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


# -- FLT-07: retries are bounded, 4xx never retried ----------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyS3]:
    with FaultyS3() as server:
        yield server


@pytest.fixture(scope="module")
def faulty_gw(
    tmp_path_factory: pytest.TempPathFactory, faulty: FaultyS3, redis_server: str
) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("faulty")
    vendor = (
        f'endpoint = "{faulty.endpoint}"\naccess_key = "AK"\nsecret_key = "SK"\n'
        "breaker_failures = 1000\n"  # these tests count retries; the breaker has its own below
    )
    config = _config(redis_server, work / "tier", vendor, pbucket="flaky")
    with GatewayProcess(work, config=config, extra_env=SHARED_KEY) as gw:
        yield gw


@pytest.fixture
def flaky(faulty: FaultyS3, faulty_gw: GatewayProcess) -> Any:
    faulty.requests.clear()
    faulty.script.clear()
    return faulty_gw.client()


@pytest.mark.parametrize("operation", ["get_object", "head_object", "list_objects_v2"])
def test_flt07__vendor_failing_with_500_costs_at_most_1_plus_retries_attempts(
    flaky: Any, faulty: FaultyS3, operation: str
) -> None:
    faulty.script = [Fault(500, "InternalError")] * 3  # then it would answer 500 forever anyway
    params = (
        {"Bucket": "flaky"}
        if operation == "list_objects_v2"
        else {"Bucket": "flaky", "Key": _key()}
    )
    with pytest.raises(ClientError) as err:
        getattr(flaky, operation)(**params)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # K = 1 + retries: the SDK retries nothing (total_max_attempts 1) and the client sent one GET
    assert len(faulty.requests) == 1 + RETRIES, faulty.requests


def test_flt07__recovers_within_the_retries(flaky: Any, faulty: FaultyS3) -> None:
    """Two 5xx then a 404: the third attempt's answer (NoSuchKey) reaches the client."""
    faulty.script = [Fault(503, "SlowDown"), Fault(500, "InternalError"), Fault(404, "NoSuchKey")]
    with pytest.raises(ClientError) as err:
        flaky.get_object(Bucket="flaky", Key=_key())
    assert _code(err) == "NoSuchKey"
    assert len(faulty.requests) == 3


@pytest.mark.parametrize(
    "fault",
    [
        Fault(404, "NoSuchKey"),
        Fault(403, "AccessDenied"),
        Fault(412, "PreconditionFailed"),
        Fault(400, "InvalidArgument"),
        Fault(429, "SlowDown"),
        Fault(501, "NotImplemented"),
    ],
)
def test_flt07__4xx_and_non_transient_errors_are_never_retried(
    flaky: Any, faulty: FaultyS3, fault: Fault
) -> None:
    faulty.script = [fault] * 3
    with pytest.raises(ClientError):
        flaky.get_object(Bucket="flaky", Key=_key())
    assert len(faulty.requests) == 1, faulty.requests


def test_writes_are_never_retried(flaky: Any, faulty: FaultyS3) -> None:
    faulty.script = [Fault(500, "InternalError")] * 3
    with pytest.raises(ClientError) as err:
        flaky.put_object(Bucket="flaky", Key=_key(), Body=b"x" * 100)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert [m for m, _ in faulty.requests] == ["PUT"]


def test_redirects_are_errors_never_followed(flaky: Any, faulty: FaultyS3) -> None:
    """SSRF: a vendor's 3xx must not send the gateway (with a signed request) anywhere else."""
    with FaultyS3(default=Fault(200)) as internal:  # "the metadata service": must see nothing
        target = f"{internal.endpoint}/latest/meta-data/"
        faulty.script = [
            Fault(307, "TemporaryRedirect", location=target),
            Fault(302, "Found", location=target),
            Fault(301, "PermanentRedirect", location=target),
        ]
        faulty.default = Fault(307, "TemporaryRedirect", location=target)
        try:
            for _ in range(3):
                with pytest.raises(ClientError) as err:
                    flaky.get_object(Bucket="flaky", Key=_key())
                assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
        finally:
            faulty.default = Fault(500, "InternalError")
        assert internal.requests == []
    # one vendor request per GET: no redirect followed, no region-redirect HeadBucket either
    # (botocore's redirector once recursed here, ~300 requests for one GET)
    assert len(faulty.requests) == 3, faulty.requests


# -- FLT-04: a hung vendor, the breaker, and recovery ---------------------------------------------


def _gateway_for(
    work: Path, proxy: FaultProxy, weed: SeaweedServer, redis_url: str
) -> GatewayProcess:
    vendor = (
        f'endpoint = "{proxy.endpoint}"\naccess_key = "{weed.access_key}"\n'
        f'secret_key = "{weed.secret_key}"\n'
        f"breaker_failures = {FAILURES}\nbreaker_cooldown = {COOLDOWN}\n"
    )
    return GatewayProcess(
        work, config=_config(redis_url, work / "tier", vendor), extra_env=SHARED_KEY
    )


@pytest.fixture(scope="module")
def hung_gw(
    tmp_path_factory: pytest.TempPathFactory,
    far: FaultProxy,
    seaweed: SeaweedServer,
    redis_server: str,
) -> Iterator[GatewayProcess]:
    far.mode = "pass"
    with _gateway_for(tmp_path_factory.mktemp("hung"), far, seaweed, redis_server) as gw:
        yield gw
    far.mode = "pass"


def _timed_get(url: str) -> tuple[int, float, bytes, dict[str, str]]:
    """One GET of a presigned URL: status, seconds (no SDK overhead in them), body, headers."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = resp.read()
            return resp.status, time.perf_counter() - start, body, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, time.perf_counter() - start, body, dict(exc.headers)


def _circuit(gw: GatewayProcess) -> str:
    """The vendor's breaker state as /metrics shows it."""
    with urllib.request.urlopen(gw.endpoint + "/metrics", timeout=10) as resp:
        text: str = resp.read().decode()
    states = [
        line.split('state="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("pcache_vendor_circuit_state{")
        and 'vendor="v"' in line
        and line.endswith(" 1.0")
    ]
    assert len(states) == 1, text
    return states[0]


def _hang_fail_fast_recover(
    gw: GatewayProcess,
    attempts: Callable[[], int],
    hang: Callable[[], None],
    resume: Callable[[], None],
    record: Callable[[str, object], None],
) -> None:
    """FLT-04 on `gw`: `hang()` the vendor, an uncached GET is a 503 within (1 + retries) x
    (connect + read timeout); the breaker is then open and answers 503 in < 10 ms without a
    vendor attempt; after `resume()` the half-open probe closes it. `attempts()` counts vendor
    attempts."""
    s3 = gw.client()
    bucket = f"hv-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    keys = [f"k{i}" for i in range(4)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100)
    urls = {
        k: s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": k})
        for k in keys
    }

    hang()
    before = attempts()
    status, hung_seconds, body, _ = _timed_get(urls["k0"])  # uncached: it must go to the vendor
    assert status == 503 and b"<Code>ServiceUnavailable</Code>" in body
    # every attempt waits out the read timeout; the retries' backoff adds at most 0.05 + 0.1 s
    bound = (1 + RETRIES) * (CONNECT_TIMEOUT + READ_TIMEOUT) + 0.15 + 0.5  # + process slack
    assert (1 + RETRIES) * READ_TIMEOUT <= hung_seconds < bound
    assert attempts() - before == 1 + RETRIES  # the SDK retried nothing
    record("hung_vendor_503_seconds", round(hung_seconds, 3))
    print(f"hung vendor: 503 after {hung_seconds:.3f} s")

    # 3 failed attempts >= breaker_failures: open. Now the vendor is not even tried.
    before = attempts()
    fast = []
    target = urlsplit(urls["k1"])
    conn = http.client.HTTPConnection(target.netloc, timeout=30)  # keep-alive: time the answer,
    try:  # not a TCP handshake
        for _ in range(20):
            start = time.perf_counter()
            conn.request("GET", f"{target.path}?{target.query}")
            resp = conn.getresponse()
            body = resp.read()
            fast.append(time.perf_counter() - start)
            assert resp.status == 503 and b"<Code>ServiceUnavailable</Code>" in body
            assert 1 <= int(resp.headers["Retry-After"]) <= COOLDOWN
    finally:
        conn.close()
    assert attempts() == before
    assert _circuit(gw) == "open"
    fast.sort()
    median = fast[len(fast) // 2]
    record("breaker_open_503_median_ms", round(median * 1000, 2))
    print(f"breaker open: 503 in {median * 1000:.2f} ms median, {fast[-1] * 1000:.2f} ms max")
    assert median < 0.010, fast

    # The vendor comes back; after the cool-down one half-open probe goes out and closes it.
    resume()
    back = time.monotonic()
    deadline = back + COOLDOWN + 5.0
    while True:
        status, _, body, _ = _timed_get(urls["k2"])
        if status == 200 or time.monotonic() > deadline:
            break
        assert status == 503
        time.sleep(0.05)  # poll interval; the loop ends at the deadline
    assert status == 200 and body == b"k2" * 100
    print(f"recovered {time.monotonic() - back:.2f} s after the vendor came back")
    assert _timed_get(urls["k3"])[0] == 200  # closed: every call goes through again
    assert _circuit(gw) == "closed"


def test_flt04__hung_vendor_503_in_bounded_time_then_breaker_fails_fast_then_recovers(
    hung_gw: GatewayProcess, far: FaultProxy, record_property: Any
) -> None:
    """The fault proxy in hang mode: connections are accepted, read, never answered."""

    def hang() -> None:
        far.mode = "hang"
        far.drop_connections()  # pooled keep-alive connections would still pass

    def resume() -> None:
        far.mode = "pass"
        far.drop_connections()

    _hang_fail_fast_recover(hung_gw, lambda: far.connections, hang, resume, record_property)


@pytest.fixture(scope="module")
def own_weed() -> Iterator[SeaweedServer]:
    """A SeaweedFS for this module alone: the SIGSTOP test must not freeze the shared one."""
    with SeaweedServer("AKPAUSE", "SKPAUSE") as server:
        yield server


def test_flt04__sigstopped_vendor_same_bounds_and_sigcont_recovers(
    tmp_path: Path, own_weed: SeaweedServer, redis_server: str, record_property: Any
) -> None:
    """FLT-04 as written: the vendor process is SIGSTOPped (its sockets stay open, pooled
    connections included, and nothing answers), then SIGCONTed. A pass-through proxy in front
    only counts the requests that reached it."""
    parts = urlsplit(own_weed.endpoint)
    with (
        FaultProxy(parts.hostname or "127.0.0.1", int(parts.port or 80)) as counter,
        _gateway_for(tmp_path, counter, own_weed, redis_server) as gw,
    ):
        try:
            _hang_fail_fast_recover(
                gw, lambda: counter.requests, own_weed.pause, own_weed.resume, record_property
            )
        finally:
            own_weed.resume()


# -- ADM-05: private endpoints are refused before anything connects -------------------------------


def test_adm05__private_endpoints_refused_at_start_naming_the_key(
    tmp_path: Path, far: FaultProxy
) -> None:
    far.reset_counters()
    for endpoint in (
        far.endpoint,
        "http://169.254.169.254",
        "http://[::1]:9000",
        "http://localhost.",
    ):
        cfg = tmp_path / "pcache.toml"
        cfg.write_text(
            f'[vendors.v]\ntype = "s3"\nendpoint = "{endpoint}"\n'
            'access_key = "a"\nsecret_key = "s"\n'
        )
        proc = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "-c", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert proc.returncode == 2, proc.stderr
        assert "config error at vendors.v.endpoint" in proc.stderr, proc.stderr
    assert far.connections == 0  # nothing was attempted
