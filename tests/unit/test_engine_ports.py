"""Host port choice and the container proxy's argv."""

import socket

import pytest

from engine.containers.ports import PortBinding, parse_publish
from engine.ports import allocate, proxyproc
from engine.ports.errors import PortInUseError
from proxy.config import parse_mapping_spec
from tests.conftest import free_port, require


def test_map_args_fold_ranges_and_bracket_ipv6() -> None:
    bindings = [
        *parse_publish("127.0.0.1:20000-21000:20000-21000"),
        *parse_publish("[::1]:8080:80/udp"),
        *parse_publish("9000:90"),
    ]
    assert proxyproc.map_args(bindings, "10.242.0.2") == [
        "-map", "0.0.0.0:9000:10.242.0.2:90/tcp",
        "-map", "127.0.0.1:20000-21000:10.242.0.2:20000-21000/tcp",
        "-map", "[::1]:8080:10.242.0.2:80/udp",
    ]  # fmt: skip


def _chosen(*specs: str, taken: set[tuple[str, int, str]] | None = None) -> list[PortBinding]:
    """The bindings `allocate` picks (its sockets closed at once)."""
    bindings = [b for spec in specs for b in parse_publish(spec)]
    with allocate.allocate(bindings, set() if taken is None else taken, ipv6=False) as got:
        return got.bindings


def test_fixed_ports_are_kept_and_free_ones_chosen() -> None:
    wanted = free_port()
    chosen = _chosen(f"127.0.0.1:{wanted}:80", "127.0.0.1::81/udp")
    assert chosen[0].host_port == wanted
    assert chosen[1].host_port > 0 and chosen[1].proto == "udp"


def test_a_port_in_use_is_refused_with_dockers_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"Bind for 127.0.0.1:{port} failed: port is"):
            _chosen(f"127.0.0.1:{port}:80")


def test_ranges_skip_taken_ports_and_other_containers_ports() -> None:
    base = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        chosen = _chosen(f"127.0.0.1:{base}-{base + 40}:80", taken={("127.0.0.1", base + 1, "tcp")})
    assert base + 1 < chosen[0].host_port <= base + 40
    with pytest.raises(PortInUseError, match="no free host port for 80/tcp"):
        _chosen(
            f"127.0.0.1:{base}-{base + 1}:80",
            taken={("127.0.0.1", base, "tcp"), ("127.0.0.1", base + 1, "tcp")},
        )


def test_handles_round_trip() -> None:
    handle = proxyproc.ProxyHandle(123, 456)
    assert proxyproc.ProxyHandle.parse(handle.text()) == handle
    assert not proxyproc.is_running(proxyproc.ProxyHandle(2**22 + 7, 1))


def test_wildcards_are_served_on_both_families() -> None:
    bindings = [*parse_publish("8080:80"), *parse_publish("127.0.0.1:9090:90/udp")]
    both = proxyproc.with_ipv6_wildcards(bindings)
    assert [(b.host_ip, b.host_port, b.proto) for b in both] == [
        ("", 8080, "tcp"),
        ("127.0.0.1", 9090, "udp"),
        ("::", 8080, "tcp"),
    ]
    assert "[::]:8080:10.0.0.2:80/tcp" in proxyproc.map_args(both, "10.0.0.2")


def test_a_port_whose_last_connection_lingers_in_time_wait_is_free() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    assert _chosen(f"127.0.0.1:{port}:80")[0].host_port == port


def _bind_fails(ip: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, kind) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            other.bind((ip, port))
        except OSError:
            return True
        return False


def test_a_chosen_port_stays_held_until_the_proxy_has_it() -> None:
    """The check is the bind: between the choice and the proxy nobody can take the port."""
    got = allocate.allocate(parse_publish("127.0.0.1::80"), set(), ipv6=False)
    port = got.bindings[0].host_port
    assert _bind_fails("127.0.0.1", port)
    (sock,) = got.sockets
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)  # pyproxy adopts it as is
    got.close()
    assert not _bind_fails("127.0.0.1", port)


def test_a_failed_allocation_leaves_no_port_held() -> None:
    free = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with pytest.raises(PortInUseError):
            _chosen(f"127.0.0.1:{free}:80", f"127.0.0.1:{busy}:81")
    assert not _bind_fails("127.0.0.1", free)  # the first one's socket was closed


def test_sockets_come_in_the_order_pyproxy_expands_its_maps() -> None:
    """pyproxy adopts listener i for its mapping i (-use-listen-fd): a wrong order would relay
    one host port to another's container port."""
    require(proxyproc.host_ipv6(), "the host has no IPv6")
    base = free_port()
    specs = [f"127.0.0.1:{base + 5}:90/udp", f"127.0.0.1:{base}-{base + 2}:80-82", "[::1]::70"]
    bindings = [b for spec in specs for b in parse_publish(spec)]
    with allocate.allocate(bindings, set(), ipv6=True) as got:
        args = proxyproc.map_args(got.served, "10.0.0.2")
        mappings = [m for spec in args[1::2] for m in parse_mapping_spec(spec, "tcp")]
        assert len(mappings) == len(got.sockets) == 5
        for mapping, sock in zip(mappings, got.sockets, strict=True):
            host, port = sock.getsockname()[:2]
            assert (host, port) == (mapping.host.ip, mapping.host.port)
            kind = socket.SOCK_DGRAM if mapping.proto == "udp" else socket.SOCK_STREAM
            assert sock.type == kind


def test_a_wildcard_on_an_ipv6_host_holds_both_families() -> None:
    require(proxyproc.host_ipv6(), "the host has no IPv6")
    with allocate.allocate(parse_publish("80"), set(), ipv6=True) as got:
        port = got.bindings[0].host_port
        assert [b.host_ip for b in got.served] == ["", "::"]
        families = sorted(s.family for s in got.sockets)
        assert families == [socket.AF_INET, socket.AF_INET6]
        assert _bind_fails("0.0.0.0", port) and _bind_fails("::", port)
