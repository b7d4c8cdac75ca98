"""Host port choice and the container proxy's argv."""

import socket

import pytest

from engine.containers.ports import parse_publish
from engine.ports import allocate, proxyproc
from engine.ports.errors import PortInUseError
from tests.conftest import free_port


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


def test_fixed_ports_are_kept_and_free_ones_chosen() -> None:
    wanted = free_port()
    chosen = allocate.allocate(
        [*parse_publish(f"127.0.0.1:{wanted}:80"), *parse_publish("127.0.0.1::81/udp")], set()
    )
    assert chosen[0].host_port == wanted
    assert chosen[1].host_port > 0 and chosen[1].proto == "udp"


def test_a_port_in_use_is_refused_with_dockers_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"Bind for 127.0.0.1:{port} failed: port is"):
            allocate.allocate(parse_publish(f"127.0.0.1:{port}:80"), set())


def test_ranges_skip_taken_ports_and_other_containers_ports() -> None:
    base = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        chosen = allocate.allocate(
            parse_publish(f"127.0.0.1:{base}-{base + 40}:80"), {("127.0.0.1", base + 1, "tcp")}
        )
    assert base + 1 < chosen[0].host_port <= base + 40
    with pytest.raises(PortInUseError, match="no free host port for 80/tcp"):
        allocate.allocate(
            parse_publish(f"127.0.0.1:{base}-{base + 1}:80"),
            {("127.0.0.1", base, "tcp"), ("127.0.0.1", base + 1, "tcp")},
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
    chosen = allocate.allocate(parse_publish(f"127.0.0.1:{port}:80"), set())
    assert chosen[0].host_port == port
