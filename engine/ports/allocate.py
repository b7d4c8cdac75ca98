"""Host ports for `-p 80` and `-p 8000-8010:80`: a free port the kernel agrees is free.

Docker keeps its own allocation table and also binds the port through docker-proxy; we ask the
kernel directly (a trial bind), which also sees ports taken by processes that are not ours.
"""

import socket
from collections.abc import Iterable

from engine.containers.ports import PortBinding
from engine.ports.errors import PortInUseError

_KIND = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM, "sctp": socket.SOCK_STREAM}


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _can_bind(ip: str, port: int, proto: str) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, _KIND[proto]) as s:
        # As the proxy will bind (and Go's listeners do): connections of an earlier user of the
        # port lingering in TIME_WAIT must not make a free port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((ip or "0.0.0.0", port))
        except OSError:
            return False
        return port != 0


def _candidates(binding: PortBinding, taken: set[tuple[str, int, str]]) -> Iterable[int]:
    if binding.host_port:
        yield binding.host_port
        return
    low, high = binding.host_range or _ephemeral_range()
    for port in range(low, high + 1):
        if (binding.host_ip, port, binding.proto) not in taken:
            yield port


def allocate(
    bindings: Iterable[PortBinding], taken: set[tuple[str, int, str]]
) -> list[PortBinding]:
    """Bindings with every host port chosen; `taken` holds what other containers published."""
    chosen: list[PortBinding] = []
    for b in bindings:
        for port in _candidates(b, taken):
            if (b.host_ip, port, b.proto) not in taken and _can_bind(b.host_ip, port, b.proto):
                chosen.append(
                    PortBinding(b.container_port, b.proto, b.host_ip, port, host_range=None)
                )
                taken.add((b.host_ip, port, b.proto))
                break
        else:
            where = f"{b.host_ip or '0.0.0.0'}:{b.host_port or '*'}"
            raise PortInUseError(
                f"Bind for {where} failed: port is already allocated"
                if b.host_port
                else f"no free host port for {b.key()} in the range"
            )
    return chosen
