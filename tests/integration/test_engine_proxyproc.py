"""The engine's per-container pyproxy: real process, real sockets, detached, stopped by handle."""

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.containers.ports import PortBinding
from engine.ports import allocate, proxyproc
from engine.ports.errors import PortInUseError
from tests.conftest import free_port
from tests.support.echo import TCPEcho, UDPEcho
from tests.support.proxyproc import hub_pids, kill_hubs


def pyproxy() -> str:
    return str(Path(sys.executable).with_name("pyproxy"))


@pytest.fixture(autouse=True)
def hub_group() -> Iterator[str]:
    """The pyproxy hub these tests' proxies share, killed at the end."""
    name = f"test-engine-{uuid.uuid4().hex[:8]}"
    yield name
    kill_hubs(name)


def roundtrip_tcp(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
        return data


def test_one_process_serves_every_binding_and_stops_by_handle(
    tmp_path: Path, hub_group: str
) -> None:
    tcp, udp = TCPEcho(), UDPEcho()
    a, b = free_port(), free_port(socket.SOCK_DGRAM)
    bindings = [
        PortBinding(tcp.port, "tcp", "127.0.0.1", a),
        PortBinding(udp.port, "udp", "127.0.0.1", b),
    ]
    handle = proxyproc.start(
        pyproxy(), bindings, "127.0.0.1", tmp_path / "proxy.log", hub_group=hub_group
    )
    try:
        assert proxyproc.is_running(handle)
        assert len(hub_pids(hub_group)) == 1  # the ports are served by the shared hub
        # A session of its own: it outlives the engine command and its terminal.
        assert os.getsid(handle.pid) == handle.pid
        assert roundtrip_tcp(a, b"hello") == b"hello"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.sendto(b"ping", ("127.0.0.1", b))
            assert u.recvfrom(100)[0] == b"ping"
    finally:
        proxyproc.stop(handle)
        tcp.close()
        udp.close()
    assert not proxyproc.is_running(handle)
    with pytest.raises(ChildProcessError):
        os.waitpid(handle.pid, os.WNOHANG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", a))  # the port is free again


def test_a_taken_port_is_reported_and_no_process_is_left(tmp_path: Path, hub_group: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = set(os.listdir("/proc"))
        with pytest.raises(PortInUseError, match="address already in use"):
            proxyproc.start(
                pyproxy(), [PortBinding(80, "tcp", "127.0.0.1", port)], "127.0.0.1",
                tmp_path / "proxy.log", hub_group=hub_group,
            )  # fmt: skip
    started = {p for p in set(os.listdir("/proc")) - before if p.isdigit()}
    leftover = [p for p in started if Path(f"/proc/{p}/cmdline").exists()
                and b"pyproxy" in Path(f"/proc/{p}/cmdline").read_bytes()]  # fmt: skip
    assert leftover == []


def test_stop_leaves_a_stranger_with_a_recycled_pid_alone(tmp_path: Path, hub_group: str) -> None:
    tcp = TCPEcho()
    port = free_port()
    handle = proxyproc.start(
        pyproxy(), [PortBinding(tcp.port, "tcp", "127.0.0.1", port)], "127.0.0.1",
        tmp_path / "proxy.log", hub_group=hub_group,
    )  # fmt: skip
    try:
        wrong = proxyproc.ProxyHandle(handle.pid, handle.start_time + 1)
        assert not proxyproc.is_running(wrong)
        proxyproc.stop(wrong)
        assert proxyproc.is_running(handle)
    finally:
        proxyproc.stop(handle)
        tcp.close()
    assert not proxyproc.is_running(handle)


def test_the_ports_the_engine_bound_are_the_ones_the_proxy_serves(
    tmp_path: Path, hub_group: str
) -> None:
    """-use-listen-fd: pyproxy adopts the engine's sockets, each for its own mapping."""
    backends = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]
    udp = UDPEcho()
    wanted = [
        *(PortBinding(b.getsockname()[1], "tcp", "127.0.0.1", 0) for b in backends),
        PortBinding(udp.port, "udp", "127.0.0.1", 0),
    ]
    ports = allocate.allocate(wanted, set(), ipv6=False)
    launch = proxyproc.ProxyLaunch(
        pyproxy(), tuple(ports.bindings), "127.0.0.1", str(tmp_path / "proxy.log"),
        hub_group=hub_group,
    )  # fmt: skip
    with ports:
        handle = proxyproc.launch(launch, ports.sockets)
    try:
        argv = Path(f"/proc/{handle.pid}/cmdline").read_bytes().split(b"\0")
        assert b"-use-listen-fd" in argv
        for binding, backend in zip(ports.bindings, backends, strict=False):
            with pytest.raises(OSError):  # still held: by the proxy now
                socket.create_server(("127.0.0.1", binding.host_port))
            with socket.create_connection(("127.0.0.1", binding.host_port), timeout=5):
                backend.settimeout(5)
                conn, _ = backend.accept()  # this port's backend, not another's
                conn.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.sendto(b"ping", ("127.0.0.1", ports.bindings[3].host_port))
            assert u.recvfrom(100)[0] == b"ping"
    finally:
        proxyproc.stop(handle)
        for backend in backends:
            backend.close()
        udp.close()
