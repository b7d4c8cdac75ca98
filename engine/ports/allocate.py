"""Host ports for `-p 80`, `-p 8080:80` and `-p 8000-8010:80`: chosen by binding them, and the
sockets that bound them are the ones that serve.

Each host port is checked once, by the kernel: the engine binds (and for stream protocols
listens on) the host address itself, keeps that socket, and hands it to pyproxy with
`-use-listen-fd`, as dockerd has done for docker-proxy since Docker 25. A bind that only
probed and closed left a window in which another process could take the port before pyproxy
bound it again. Other containers' published ports count as taken too (`taken`), so a port whose
container's proxy is down for a moment is not given away.
"""

import errno
import resource
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from engine.containers.ports import PortBinding
from engine.ports.errors import PortError, PortInUseError
from engine.ports.proxyproc import proxy_order, with_ipv6_wildcards

_KIND = {
    "tcp": (socket.SOCK_STREAM, socket.IPPROTO_TCP),
    "udp": (socket.SOCK_DGRAM, socket.IPPROTO_UDP),
    "sctp": (socket.SOCK_STREAM, socket.IPPROTO_SCTP),
}


@dataclass
class HostPorts:
    """The chosen bindings and the sockets that serve them.

    `served` is `bindings` plus the `[::]` twin of each wildcard when the host has IPv6, in the
    order pyproxy expands its `-map` flags (`proxy_order`); `sockets[i]` serves `served[i]`.
    The sockets are the caller's to close once pyproxy holds its copies.
    """

    bindings: list[PortBinding] = field(default_factory=list)
    served: list[PortBinding] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def __enter__(self) -> "HostPorts":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _listen(ip: str, port: int, proto: str) -> socket.socket | None:
    """A socket bound to ip:port (listening, for stream protocols); None when it is taken."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    kind, number = _KIND[proto]
    try:
        sock = socket.socket(family, kind, number)
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT):
            raise PortError(f"cannot publish {proto} ports: protocol not supported") from None
        raise PortError(f"cannot publish {proto} ports: {exc.strerror}") from None
    try:
        # As pyproxy and Go's listeners do: connections of an earlier user of the port that
        # linger in TIME_WAIT must not make a free port look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((ip or "0.0.0.0", port))
        if kind == socket.SOCK_STREAM:
            sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        return None
    return sock


def _candidates(binding: PortBinding, taken: set[tuple[str, int, str]]) -> Iterator[int]:
    if binding.host_port:
        yield binding.host_port
        return
    low, high = binding.host_range or _ephemeral_range()
    for port in range(low, high + 1):
        if (binding.host_ip, port, binding.proto) not in taken:
            yield port


def _claim(binding: PortBinding, port: int, ipv6: bool) -> list[socket.socket] | None:
    """The sockets for `binding` on `port`: one, or two for a wildcard on an IPv6 host (both
    families must be free, as Docker binds 0.0.0.0 and [::])."""
    first = _listen(binding.host_ip, port, binding.proto)
    if first is None:
        return None
    if not (ipv6 and not binding.host_ip):
        return [first]
    twin = _listen("::", port, binding.proto)
    if twin is None:
        first.close()
        return None
    return [first, twin]


def ensure_fd_room(count: int) -> None:
    """Raise the soft open-file limit to the hard one when `count` more descriptors may not fit
    (a 1001-port range on both families is 2002 sockets; the default soft limit is 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and count + 64 > soft and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def allocate(
    bindings: Iterable[PortBinding], taken: set[tuple[str, int, str]], *, ipv6: bool
) -> HostPorts:
    """Choose every host port by binding it; `taken` holds what other containers published.
    All or nothing: on an error every socket bound so far is closed."""
    wanted = list(bindings)
    ensure_fd_room(2 * len(wanted))
    chosen: list[PortBinding] = []
    held: dict[tuple[str, int, str], socket.socket] = {}
    try:
        for b in wanted:
            for port in _candidates(b, taken):
                if (b.host_ip, port, b.proto) in taken:
                    continue
                socks = _claim(b, port, ipv6)
                if socks is None:
                    continue
                binding = PortBinding(b.container_port, b.proto, b.host_ip, port, host_range=None)
                chosen.append(binding)
                held[(b.host_ip, port, b.proto)] = socks[0]
                if len(socks) == 2:
                    held[("::", port, b.proto)] = socks[1]
                taken.add((b.host_ip, port, b.proto))
                break
            else:
                where = f"{b.host_ip or '0.0.0.0'}:{b.host_port or '*'}"
                raise PortInUseError(
                    f"Bind for {where} failed: port is already allocated"
                    if b.host_port
                    else f"no free host port for {b.key()} in the range"
                )
    except BaseException:
        for sock in held.values():
            sock.close()
        raise
    served = proxy_order(with_ipv6_wildcards(chosen) if ipv6 else chosen)
    sockets = [held[(b.host_ip, b.host_port, b.proto)] for b in served]
    return HostPorts(chosen, served, sockets)
