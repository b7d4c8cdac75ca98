"""Front-end sockets: bind them as docker-proxy does, or adopt the one dockerd passed on fd 4.

Error texts copy Go's (`listen tcp4 127.0.0.1:5000: bind: address already in use`) because
dockerd shows them to users verbatim.
"""

import errno
import os
import socket
import stat

from proxy.config import Mapping
from proxy.errors import ListenError

IP_PKTINFO = 8  # Linux value; Python 3.11's socket module lacks the constant
LISTEN_FD = 4
KEEPALIVE_SECONDS = 15
# The kernel caps the backlog at net.core.somaxconn, which is what Go asks for.
BACKLOG = 65535


def go_strerror(err: OSError) -> str:
    """Go's text for an errno: the C library's, starting lower-case."""
    text = os.strerror(err.errno) if err.errno else str(err)
    return text[:1].lower() + text[1:]


def _kind(proto: str) -> tuple[int, int]:
    if proto == "udp":
        return socket.SOCK_DGRAM, socket.IPPROTO_UDP
    if proto == "sctp":
        return socket.SOCK_STREAM, socket.IPPROTO_SCTP
    return socket.SOCK_STREAM, socket.IPPROTO_TCP


def set_accepted_options(sock: socket.socket) -> None:
    """Go's defaults for accepted TCP connections, set on the listener, which they inherit.

    Once here instead of four syscalls per connection, and before readiness: a connection
    completed in the backlog meanwhile is cloned from the listener as it was then.
    """
    for level, option, value in (
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_SECONDS),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_SECONDS),
    ):
        sock.setsockopt(level, option, value)


WILDCARDS = ("0.0.0.0", "::")


def is_wildcard(sock: socket.socket) -> bool:
    """Bound to every address: a reply must name its source (pktinfo), else it is the bound one."""
    return sock.getsockname()[0] in WILDCARDS


def enable_pktinfo(sock: socket.socket) -> None:
    """Ask for the destination address of each datagram, so replies can leave from it."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)


def open_listener(mapping: Mapping) -> socket.socket:
    """Bind (and for stream protocols, listen on) the mapping's host address."""
    host = mapping.host
    net = f"{mapping.proto}{6 if host.family == socket.AF_INET6 else 4}"
    kind, proto = _kind(mapping.proto)
    try:
        sock = socket.socket(host.family, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, proto)
    except OSError as e:
        if mapping.proto == "sctp" and e.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT):
            raise ListenError("protocol not supported") from None
        raise ListenError(f"listen {net} {host}: socket: {go_strerror(e)}") from None
    try:
        if host.family == socket.AF_INET6:
            # Go listens v6-only on "::"; an IPv4 client must not reach a v6 mapping.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if proto == socket.IPPROTO_TCP:
                set_accepted_options(sock)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if host.ip in WILDCARDS:
                enable_pktinfo(sock)
        if not 0 <= host.port <= 65535:
            raise ListenError(
                f"listen {net} {host}: bind: invalid argument (port {host.port} is outside 0-65535)"
            )
        try:
            sock.bind((host.ip, host.port))
        except OSError as e:
            raise ListenError(f"listen {net} {host}: bind: {go_strerror(e)}") from None
        if kind == socket.SOCK_STREAM:
            try:
                sock.listen(BACKLOG)
            except OSError as e:
                raise ListenError(f"listen {net} {host}: listen: {go_strerror(e)}") from None
    except BaseException:
        sock.close()
        raise
    return sock


def adopt_listener(mapping: Mapping, fd: int = LISTEN_FD) -> socket.socket:
    """Take over the socket dockerd bound (and for TCP, listens on) and passed as fd 4.

    It is never bound again: dockerd installed its NAT rules for exactly this socket. Any
    family is accepted, including a dual-stack "::" socket that also serves IPv4 clients.
    """
    prefix = "unexpected socket type for listener fd"
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        raise ListenError(f"{prefix}: fd {fd} is not open") from None
    if not stat.S_ISSOCK(mode):
        raise ListenError(f"{prefix}: fd {fd} is not a socket")
    sock = socket.socket(fileno=fd)
    kind, proto = _kind(mapping.proto)
    got_proto = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    if (
        sock.type != kind
        or got_proto != proto
        or sock.family
        not in (
            socket.AF_INET,
            socket.AF_INET6,
        )
    ):
        sock.detach()
        raise ListenError(
            f"{prefix}: want an {mapping.proto} socket, got family {sock.family}, "
            f"type {sock.type}, protocol {got_proto}"
        )
    if kind == socket.SOCK_STREAM and not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ListenError(f"{prefix}: the {mapping.proto} socket is not listening")
    if proto == socket.IPPROTO_TCP:
        set_accepted_options(sock)
    if kind == socket.SOCK_DGRAM:
        if sock.getsockname()[1] == 0:
            sock.detach()
            raise ListenError(f"{prefix}: the udp socket is not bound")
        if is_wildcard(sock):
            enable_pktinfo(sock)
    sock.setblocking(False)
    os.set_inheritable(sock.fileno(), False)
    return sock
