"""Beyond docker-proxy: many mappings served by one process, one `0\\n` once all listen."""

import socket

import pytest

from tests.integration.conftest import StartProxy
from tests.support.echo import TCPEcho, UDPEcho, recv_exactly
from tests.support.ports import free_range

pytestmark = pytest.mark.parametrize("proxy_mode", ["standalone"])  # -map is one process


def test_port_range_and_protocols_in_one_process(start_proxy: StartProxy) -> None:
    backends = [TCPEcho() for _ in range(3)]
    try:
        # A range maps onto an equal range; container ports here are the echo servers', so
        # three single mappings plus one UDP mapping.
        host = free_range(4)
        specs = [f"127.0.0.1:{host + i}:127.0.0.1:{b.port}" for i, b in enumerate(backends)]
        with UDPEcho() as uecho:
            specs.append(f"127.0.0.1:{host + 3}:127.0.0.1:{uecho.port}/udp")
            args = [arg for spec in specs for arg in ("-map", spec)]
            p = start_proxy(args)
            for i in range(3):
                with socket.create_connection(("127.0.0.1", host + i), timeout=5) as c:
                    c.sendall(b"m%d" % i)
                    assert recv_exactly(c, 2) == b"m%d" % i
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(5)
                u.sendto(b"udp", ("127.0.0.1", host + 3))
                assert u.recvfrom(10) == (b"udp", ("127.0.0.1", host + 3))
            assert p.proc.poll() is None
    finally:
        for b in backends:
            b.close()


def test_range_to_range(start_proxy: StartProxy) -> None:
    host = free_range(20)
    ctr = free_range(20)
    servers = []
    try:
        for i in range(20):
            s = socket.socket()
            s.bind(("127.0.0.1", ctr + i))
            s.listen()
            servers.append(s)
        start_proxy(["-map", f"127.0.0.1:{host}-{host + 19}:127.0.0.1:{ctr}-{ctr + 19}"])
        for i in (0, 7, 19):
            with socket.create_connection(("127.0.0.1", host + i), timeout=5):
                conn, _ = servers[i].accept()
                conn.close()
    finally:
        for s in servers:
            s.close()


def test_one_failing_mapping_fails_the_whole_start(start_proxy: StartProxy) -> None:
    host = free_range(3)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", host + 2))
        holder.listen()
        p = start_proxy(["-map", f"127.0.0.1:{host}-{host + 2}:127.0.0.1:1000-1002"], ready=False)
        assert p.wait_report() == (
            f"1\nlisten tcp4 127.0.0.1:{host + 2}: bind: address already in use".encode()
        )
        assert p.proc.wait(5) == 1
    for port in (host, host + 1):  # the mappings bound before the failure were released
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
