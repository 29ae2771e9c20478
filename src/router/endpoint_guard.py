"""SSRF guard for vendor endpoints: which URLs the gateway may send S3 requests (and credentials)
to. Pure apart from name resolution, which is injectable.

A vendor endpoint comes from the config file or, later, from the admin API, so a caller who may
add a vendor could otherwise make the gateway talk to its own Redis, a cloud metadata service
(169.254.169.254, fd00:ec2::254, Alibaba's 100.100.100.200) or anything else on the private
network, and read the answers back through S3 errors and listings. So, unless `Allowlist`
admits it:

* the scheme is http or https, with no user:password@, query or fragment;
* every address the host resolves to must be globally routable: loopback, link-local,
  RFC 1918 / ULA private, shared (100.64/10), unspecified, multicast, reserved and
  documentation ranges are refused, and so are their IPv4-mapped / 6to4 / Teredo / NAT64
  forms (the embedded IPv4 address is checked too);
* a name that does not resolve is refused (fail closed).

Allowlist entries are CIDRs ("10.0.0.0/8", "::1/128", a bare address) and "host:port" pairs
("minio.internal:9000", "[::1]:9000"). An address inside an allowed CIDR is accepted; a
host:port pair admits that exact endpoint whatever it resolves to.

DNS rebinding: a name may resolve to a public address now and a private one later. The check
at validation time cannot see that, so `S3Upstream` also installs `GuardedResolver`, which runs
the same check on every resolution the HTTP client makes before it connects. What remains:
literal-IP endpoints skip the resolver (they cannot change, and were checked here), and an HTTP
proxy from the environment (HTTP(S)_PROXY) is what gets resolved then, not the vendor.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "Allowlist",
    "EndpointRefused",
    "IPAddress",
    "IPNetwork",
    "address_problem",
    "check_addresses",
    "check_endpoint",
    "check_endpoint_async",
    "parse_allowlist",
    "resolve_all",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
AsyncResolver = Callable[[str, int], Awaitable[Sequence[str]]]

_SCHEMES = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names that are metadata services on some cloud whatever they resolve to elsewhere.
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})


class EndpointRefused(ValueError):
    """The endpoint may not be used; the message says why (never echoes credentials)."""


@dataclass(frozen=True, slots=True)
class Allowlist:
    networks: tuple[IPNetwork, ...] = ()
    endpoints: frozenset[tuple[str, int]] = frozenset()  # (lower-case host, port)

    def admits_address(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)

    def admits_endpoint(self, host: str, port: int) -> bool:
        return (_norm_host(host), port) in self.endpoints


def parse_allowlist(items: Iterable[str]) -> Allowlist:
    """Parse config strings; a ValueError names the 0-based index of the bad entry."""
    networks: list[IPNetwork] = []
    endpoints: set[tuple[str, int]] = set()
    for i, item in enumerate(items):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
            continue
        except ValueError:
            pass
        host, port = _split_host_port(item.strip())
        if host is None or port is None:
            raise ValueError(f"[{i}]: expected a CIDR or HOST:PORT, got {item!r}")
        endpoints.add((_norm_host(host), port))
    return Allowlist(tuple(networks), frozenset(endpoints))


def _split_host_port(text: str) -> tuple[str | None, int | None]:
    if text.startswith("["):  # [v6]:port
        host, sep, rest = text[1:].partition("]:")
    else:
        host, sep, rest = text.rpartition(":")
    if not sep or not host or not rest.isdigit() or not 0 < int(rest) < 65536:
        return None, None
    return host, int(rest)


def _norm_host(host: str) -> str:
    return host.lower().rstrip(".")


def address_problem(ip: IPAddress) -> str | None:
    """Why this address is refused for a vendor endpoint, or None if it is public."""
    for embedded in _embedded_ipv4(ip):
        problem = address_problem(embedded)
        if problem is not None:
            return f"{problem} (embedded in {ip})"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address (cloud metadata lives here)"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if not ip.is_global:  # shared 100.64/10 (Alibaba's metadata), reserved, documentation
        return "non-public address"
    return None


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and routes to), per RFC 4291/3056/4380/6052."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour]
    if ip.teredo is not None:
        found += list(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def _parse(url: str) -> tuple[SplitResult, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise EndpointRefused("must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("must not carry credentials (user:password@)")
    if parts.query or parts.fragment:
        raise EndpointRefused("must not have a query or fragment")
    host = parts.hostname
    if not host:
        raise EndpointRefused("has no host")
    return parts, host, port or _SCHEMES[scheme]


def _admitted_by_name(host: str, port: int, allow: Allowlist) -> bool:
    """Decide what the name alone decides, before anything is resolved."""
    if allow.admits_endpoint(host, port):
        return True
    if _norm_host(host) in _METADATA_NAMES:
        raise EndpointRefused(f"{host} is a cloud metadata service")
    return False


def _judge(host: str, port: int, addresses: Sequence[str], allow: Allowlist) -> None:
    if _admitted_by_name(host, port, allow):
        return
    if not addresses:
        raise EndpointRefused(f"{host} does not resolve")
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        if allow.admits_address(ip):
            continue
        problem = address_problem(ip)
        if problem is not None:
            raise EndpointRefused(
                f"{host} resolves to {ip}, a {problem}; add it to node.vendor_allowlist "
                "if this vendor really lives there"
            )


def resolve_all(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives for host (blocking); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def check_endpoint(url: str, allow: Allowlist, *, resolve: Resolver = resolve_all) -> None:
    """Raise EndpointRefused unless `url` may be a vendor endpoint (resolves the host)."""
    _, host, port = _parse(url)
    if _admitted_by_name(host, port, allow):
        return
    _judge(host, port, resolve(host, port), allow)


async def check_endpoint_async(
    url: str, allow: Allowlist, *, resolve: AsyncResolver | None = None
) -> None:
    """`check_endpoint` for the event loop (the admin API's vendor endpoints): resolution runs
    in the loop's resolver thread instead of blocking."""
    _, host, port = _parse(url)
    if _admitted_by_name(host, port, allow):
        return
    addresses: Sequence[str]
    if resolve is None:
        addresses = await asyncio.to_thread(resolve_all, host, port)
    else:
        addresses = await resolve(host, port)
    _judge(host, port, addresses, allow)


def check_addresses(host: str, port: int, addresses: Sequence[str], allow: Allowlist) -> None:
    """The connect-time half: the addresses a resolver just returned for host:port."""
    _judge(host, port, addresses, allow)
