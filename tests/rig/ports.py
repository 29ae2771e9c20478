"""Free loopback TCP ports, never handing out the same port twice in one process.

Ports are found by binding port 0 and closing; every socket of one request is held open until all
are found so one call returns distinct ports, and a process-wide set keeps later calls from
getting a port an earlier caller may not have bound yet.
"""

from __future__ import annotations

import socket
import threading

__all__ = ["free_port", "free_port_with_partner", "free_ports"]

HOST = "127.0.0.1"
_MAX_PORT = 65535
_handed_out: set[int] = set()
_lock = threading.Lock()


def _bind(port: int) -> socket.socket | None:
    """A socket bound to `port` on loopback, or None when it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        return None
    return sock


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports, none handed out before by this process."""
    held: list[socket.socket] = []
    ports: list[int] = []
    with _lock:
        try:
            while len(ports) < count:
                sock = _bind(0)
                if sock is None:
                    continue
                held.append(sock)
                port = sock.getsockname()[1]
                if port not in _handed_out:
                    ports.append(port)
            _handed_out.update(ports)
        finally:
            for sock in held:
                sock.close()
    return ports


def free_port() -> int:
    return free_ports(1)[0]


def free_port_with_partner(offset: int, *, attempts: int = 200) -> int:
    """A free port `p` such that `p + offset` is free too (SeaweedFS dials admin port + 10000)."""
    with _lock:
        for _ in range(attempts):
            first = _bind(0)
            if first is None:
                continue
            port = first.getsockname()[1]
            partner = None
            if port + offset <= _MAX_PORT and not {port, port + offset} & _handed_out:
                partner = _bind(port + offset)
            first.close()
            if partner is not None:
                partner.close()
                _handed_out.update((port, port + offset))
                return port
    raise RuntimeError(f"no free port pair at offset {offset}")
