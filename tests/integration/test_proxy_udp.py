"""UDP through the real binary on both loops (spec items 7, 14-19)."""

import socket
import time

import pytest

from tests.conftest import free_port
from tests.integration.conftest import StartProxy
from tests.support.echo import UDPEcho
from tests.support.proxyproc import udp_args


def client(host: str = "127.0.0.1", bind: str | None = None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(5)
    if bind:
        s.bind((bind, 0))
    return s


def test_14_one_backend_port_per_client_and_replies_from_the_front(
    start_proxy: StartProxy,
) -> None:
    with UDPEcho() as echo:
        port = free_port(socket.SOCK_DGRAM)
        start_proxy(udp_args("127.0.0.1", port, "127.0.0.1", echo.port))
        clients = [client() for _ in range(3)]
        for i, c in enumerate(clients):
            for _ in range(2):
                c.sendto(b"hi%d" % i, ("127.0.0.1", port))
                data, src = c.recvfrom(100)
                assert data == b"hi%d" % i
                assert src == ("127.0.0.1", port)
            c.close()
        ports = {peer[1] for _, peer in echo.seen}
        assert len(ports) == 3  # each client has its own backend socket


def test_7_listen_fd_with_pktinfo_replies_from_the_address_the_client_used(
    start_proxy: StartProxy,
) -> None:
    """A wildcard-bound socket on fd 4; the client writes to 127.0.0.2, the reply must come
    from 127.0.0.2 (the kernel alone would pick 127.0.0.1)."""
    with UDPEcho() as echo, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as lsock:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.setsockopt(socket.IPPROTO_IP, 8, 1)  # IP_PKTINFO, as dockerd sets it
        lsock.bind(("0.0.0.0", 0))
        port = lsock.getsockname()[1]
        start_proxy(
            [*udp_args("0.0.0.0", port, "127.0.0.1", echo.port), "-use-listen-fd"],
            listen_sock=lsock.fileno(),
        )
        lsock.close()
        with client(bind="127.0.0.1") as c:
            c.sendto(b"pktinfo", ("127.0.0.2", port))
            data, src = c.recvfrom(100)
        assert (data, src) == (b"pktinfo", ("127.0.0.2", port))


def test_7_dual_stack_listen_fd_serves_ipv4_clients(start_proxy: StartProxy) -> None:
    with UDPEcho() as echo, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as lsock:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        lsock.bind(("::", 0))
        port = lsock.getsockname()[1]
        start_proxy(
            [*udp_args("::", port, "127.0.0.1", echo.port), "-use-listen-fd"],
            listen_sock=lsock.fileno(),
        )
        lsock.close()
        with client("127.0.0.1", bind="127.0.0.1") as c4:
            c4.sendto(b"four", ("127.0.0.2", port))
            assert c4.recvfrom(100) == (b"four", ("127.0.0.2", port))
        with client("::1") as c6:
            c6.sendto(b"six", ("::1", port))
            data, src = c6.recvfrom(100)
            assert (data, src[:2]) == (b"six", ("::1", port))


def test_15_largest_datagrams_pass_whole(start_proxy: StartProxy) -> None:
    with UDPEcho("::1") as echo6, UDPEcho() as echo4:
        p4, p6 = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM, "::1")
        start_proxy(
            [
                *udp_args("127.0.0.1", p4, "127.0.0.1", echo4.port),
                "-map",
                f"[::1]:{p6}:[::1]:{echo6.port}/udp",
            ]
        )
        with client() as c:
            big = bytes(range(256)) * 255 + bytes(range(227))  # 65507 bytes, IPv4's maximum
            c.sendto(big, ("127.0.0.1", p4))
            assert c.recvfrom(70000)[0] == big
        with client("::1") as c:
            big6 = bytes(65527)  # IPv6's maximum without jumbograms; Go truncated it to 65507
            c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            c.sendto(big6, ("::1", p6))
            assert len(c.recvfrom(70000)[0]) == 65527


def test_16_zero_length_datagrams_are_forwarded(start_proxy: StartProxy) -> None:
    """A deliberate difference: Go dropped them as a side effect of its copy loop."""
    with UDPEcho() as echo:
        port = free_port(socket.SOCK_DGRAM)
        start_proxy(udp_args("127.0.0.1", port, "127.0.0.1", echo.port))
        with client() as c:
            c.sendto(b"", ("127.0.0.1", port))
            assert c.recvfrom(100) == (b"", ("127.0.0.1", port))


def test_17_idle_flow_expires_and_one_way_flow_is_kept(start_proxy: StartProxy) -> None:
    with UDPEcho() as echo:
        port = free_port(socket.SOCK_DGRAM)
        start_proxy([*udp_args("127.0.0.1", port, "127.0.0.1", echo.port), "-udp-timeout", "1s"])
        with client() as c:
            # Keep sending every 0.3 s for 2.5 s: the flow stays, its backend port is stable.
            for _ in range(9):
                c.sendto(b"k", ("127.0.0.1", port))
                c.recvfrom(10)
                time.sleep(0.3)
            ports = {peer[1] for _, peer in echo.seen}
            assert len(ports) == 1
            time.sleep(2.0)  # idle past the timeout: the entry must be gone
            c.sendto(b"k", ("127.0.0.1", port))
            c.recvfrom(10)
        assert len({peer[1] for _, peer in echo.seen}) == 2


def test_18_backend_down_then_up_loses_nothing_after(start_proxy: StartProxy) -> None:
    backend_port = free_port(socket.SOCK_DGRAM)
    port = free_port(socket.SOCK_DGRAM)
    p = start_proxy(udp_args("127.0.0.1", port, "127.0.0.1", backend_port))
    with client() as c:
        c.settimeout(0.2)
        for _ in range(20):  # each one draws an ICMP port-unreachable
            c.sendto(b"void", ("127.0.0.1", port))
        with pytest.raises(TimeoutError):
            c.recvfrom(10)
        assert p.proc.poll() is None
        with UDPEcho(port=backend_port) as echo:
            c.settimeout(5)
            for i in range(50):
                c.sendto(b"%d" % i, ("127.0.0.1", port))
                assert c.recvfrom(10)[0] == b"%d" % i
            assert len(echo.seen) == 50


def test_19_ipv6_front_ipv4_back_udp(start_proxy: StartProxy) -> None:
    with UDPEcho() as echo:
        port = free_port(socket.SOCK_DGRAM, "::1")
        start_proxy(udp_args("::1", port, "127.0.0.1", echo.port))
        with client("::1") as c:
            c.sendto(b"6to4", ("::1", port))
            data, src = c.recvfrom(10)
        assert (data, src[:2]) == (b"6to4", ("::1", port))
        assert echo.seen[0][1][0] == "127.0.0.1"
