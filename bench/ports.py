"""Host-side ports for the proxies: below the ephemeral range, rotated, checked free.

A fresh port per measurement keeps one target's TIME_WAIT leftovers away from the next one.
"""

import socket
from collections.abc import Iterator

FIRST, LAST = 24000, 29999  # below net.ipv4.ip_local_port_range (32768-60999)
RANGE_FIRST, RANGE_LAST = 20000, 23999  # where the 1001-port range is published


def bindable(port: int, host: str, kinds: tuple[socket.SocketKind, ...]) -> bool:
    """Free for every kind on host. Without SO_REUSEADDR, so a port still in TIME_WAIT counts
    as taken; `::` is probed dual-stack, so it must be free for IPv4 as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind in kinds:
        with socket.socket(family, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


class PortAllocator:
    def __init__(self) -> None:
        self._next = FIRST

    def _candidates(self) -> Iterator[int]:
        for _ in range(LAST - FIRST + 1):
            port = self._next
            self._next = FIRST if port >= LAST else port + 1
            yield port

    def take(self, host: str = "127.0.0.1") -> int:
        """A port free for both TCP and UDP on host (UDP scenarios map both, like iperf3 needs)."""
        for port in self._candidates():
            if bindable(port, host, (socket.SOCK_STREAM, socket.SOCK_DGRAM)):
                return port
        raise RuntimeError(f"no free port in {FIRST}-{LAST}")


def free_range(count: int) -> int:
    """First port of `count` consecutive TCP ports free on both 0.0.0.0 and [::]."""
    start = RANGE_FIRST
    while start + count - 1 <= RANGE_LAST:
        for port in range(start, start + count):
            if not all(bindable(port, h, (socket.SOCK_STREAM,)) for h in ("0.0.0.0", "::")):
                start = port + 1
                break
        else:
            return start
    raise RuntimeError(f"no {count} free consecutive ports in {RANGE_FIRST}-{RANGE_LAST}")
