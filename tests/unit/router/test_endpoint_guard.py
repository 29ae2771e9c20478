"""SSRF guard for vendor endpoints (security.md §3.7, ADM-05): properties over whole address
ranges, and the concrete cases from the checklist. Name resolution is injected except where a
test is about what the system resolver does with odd spellings (0x7f000001, localhost.)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.endpoint_guard import (
    Allowlist,
    EndpointRefused,
    address_problem,
    check_endpoint,
    check_endpoint_async,
    parse_allowlist,
)

NONE = Allowlist()
REFUSED_V4 = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
REFUSED_V6 = ["::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "::/128"]


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        return list(addresses)

    return resolve


def addresses_in(cidr: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(cidr)
    return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])


refused_v4 = st.sampled_from(REFUSED_V4).flatmap(addresses_in)
refused_v6 = st.sampled_from(REFUSED_V6).flatmap(addresses_in)


@given(refused_v4)
def test_private_ipv4__refused_directly_and_in_every_ipv6_wrapping(
    ip: ipaddress.IPv4Address,
) -> None:
    assert address_problem(ip) is not None
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ip))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80) | 1)
    for wrapped in (mapped, nat64, sixtofour):
        assert address_problem(wrapped) is not None, wrapped


@given(refused_v6)
def test_private_ipv6__refused(ip: ipaddress.IPv6Address) -> None:
    assert address_problem(ip) is not None


@given(st.one_of(refused_v4, refused_v6))
def test_private__refused_as_an_endpoint_unless_its_cidr_is_allowlisted(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"http://{host}:9000"
    with pytest.raises(EndpointRefused):
        check_endpoint(url, NONE, resolve=resolver(str(ip)))
    net = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 64}", strict=False)
    check_endpoint(url, Allowlist((net,)), resolve=resolver(str(ip)))


@given(refused_v4)
def test_a_name_with_any_private_address_is_refused(ip: ipaddress.IPv4Address) -> None:
    with pytest.raises(EndpointRefused):
        check_endpoint("https://s3.example.com", NONE, resolve=resolver("93.184.216.34", str(ip)))


def test_public_addresses__accepted() -> None:
    for ip in ("52.216.0.1", "47.110.177.1", "2600:1f18::1"):
        assert address_problem(ipaddress.ip_address(ip)) is None
    check_endpoint("https://s3.amazonaws.com", NONE, resolve=resolver("52.216.0.1"))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "http://169.254.169.254",
        "http://[::1]",
        "http://[fd00:ec2::254]",
        "http://[::ffff:127.0.0.1]",
        "http://0x7f000001",  # inet_aton spellings: the system resolver says 127.0.0.1
        "http://127.1",
        "http://2130706433",
        "http://localhost.",
        "http://localhost",
        "http://100.100.100.200",  # Alibaba Cloud's metadata service
        "http://0.0.0.0:9000",
    ],
)
def test_adm05_endpoints__refused_with_the_real_resolver(url: str) -> None:
    with pytest.raises(EndpointRefused):
        check_endpoint(url, NONE)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://x",
        "http://user:pw@s3.example.com",
        "http://s3.example.com/?x=1",
        "http://s3.example.com/#f",
        "http://:80",
        "https://[::1",
        "http://metadata.google.internal",
    ],
)
def test_malformed_or_other_schemes__refused_before_any_lookup(url: str) -> None:
    def never(host: str, port: int) -> Sequence[str]:
        raise AssertionError("resolved")

    with pytest.raises(EndpointRefused):
        check_endpoint(url, NONE, resolve=never)


def test_unresolvable__refused() -> None:
    with pytest.raises(EndpointRefused, match="does not resolve"):
        check_endpoint("https://nowhere.invalid", NONE, resolve=resolver())


def test_allowlisted_host_port__admits_exactly_that_endpoint() -> None:
    allow = parse_allowlist(["minio.internal:9000", "[::1]:9001"])
    private = resolver("10.1.2.3")
    check_endpoint("http://MINIO.internal.:9000", allow, resolve=private)
    check_endpoint("http://[::1]:9001", allow, resolve=resolver("::1"))
    with pytest.raises(EndpointRefused):
        check_endpoint("http://minio.internal:9001", allow, resolve=private)
    with pytest.raises(EndpointRefused):
        check_endpoint("http://other.internal:9000", allow, resolve=private)


def test_allowlist__parses_cidrs_addresses_and_host_ports() -> None:
    allow = parse_allowlist(["127.0.0.0/8", "10.0.0.5", "::1", "s3.lan:443"])
    assert [str(n) for n in allow.networks] == ["127.0.0.0/8", "10.0.0.5/32", "::1/128"]
    assert allow.endpoints == {("s3.lan", 443)}
    for bad in ("nope", "host:", "host:0", "host:99999", "10.0.0.0/33"):
        with pytest.raises(ValueError, match=r"\[0\]"):
            parse_allowlist([bad])


async def test_async_check__uses_the_given_resolver() -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["192.168.1.1"]

    with pytest.raises(EndpointRefused, match="private"):
        await check_endpoint_async("http://nas.lan:9000", NONE, resolve=resolve)
    await check_endpoint_async(
        "http://nas.lan:9000", parse_allowlist(["192.168.0.0/16"]), resolve=resolve
    )
