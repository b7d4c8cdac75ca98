"""TCP data path through the real binary, on both loops and both relays (spec items 11-13, 19)."""

import hashlib
import os
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import free_port
from tests.integration.conftest import StartProxy
from tests.support.echo import TCPEcho, recv_all, recv_exactly
from tests.support.procfs import fds_settled, quiet_fds
from tests.support.proxyproc import tcp_args


def test_11_half_close_keeps_the_reply_path(start_proxy: StartProxy, relay_name: str) -> None:
    def reply_after_eof(conn: socket.socket) -> None:
        conn.sendall(b"reply-after-eof")

    with TCPEcho(on_eof=reply_after_eof) as echo:
        port = free_port()
        start_proxy([*tcp_args("127.0.0.1", port, "127.0.0.1", echo.port), "-relay", relay_name])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"request")
            c.shutdown(socket.SHUT_WR)  # the backend must read EOF, and still be heard
            assert recv_all(c) == b"requestreply-after-eof"
        assert echo.wait_endings(1) == ["eof"]


def _transfer(port: int, size: int, seed: int) -> tuple[str, str]:
    """Send `size` random bytes while reading the echo; return both digests."""
    data = os.urandom(size) if seed % 2 else bytes(range(256)) * (size // 256)
    sent = hashlib.sha256(data).hexdigest()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:

        def write() -> None:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)

        writer = threading.Thread(target=write)
        writer.start()
        got = recv_all(c)
        writer.join()
    return sent, hashlib.sha256(got).hexdigest()


def test_12_bulk_integrity_many_at_once(start_proxy: StartProxy, relay_name: str) -> None:
    with TCPEcho() as echo:
        port = free_port()
        start_proxy([*tcp_args("127.0.0.1", port, "127.0.0.1", echo.port), "-relay", relay_name])
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: _transfer(port, 4 << 20, i), range(8)))
        for sent, received in results:
            assert sent == received


def test_12_slow_reader_backpressure(start_proxy: StartProxy, relay_name: str) -> None:
    """A client that stops reading must stall the backend, not grow the proxy's memory."""
    payload = os.urandom(1 << 20)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = free_port()
        p = start_proxy(
            [*tcp_args("127.0.0.1", port, "127.0.0.1", srv.getsockname()[1]), "-relay", relay_name]
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            backend, _ = srv.accept()
            with backend:
                backend.settimeout(0.5)
                pushed = 0
                try:
                    while pushed < 256 << 20:
                        pushed += backend.send(payload)
                except TimeoutError:
                    pass
                assert pushed < 256 << 20  # the whole path filled up and pushed back
                rss_kib = _rss_kib(p.proc.pid)
                assert rss_kib < 100_000, f"proxy grew to {rss_kib} KiB under a stalled reader"
                backend.shutdown(socket.SHUT_WR)
                received = recv_all(c)
        assert len(received) == pushed


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_13_client_reset_becomes_fin_at_backend(start_proxy: StartProxy, relay_name: str) -> None:
    with TCPEcho() as echo:
        port = free_port()
        start_proxy([*tcp_args("127.0.0.1", port, "127.0.0.1", echo.port), "-relay", relay_name])
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"x")
        assert recv_exactly(c, 1) == b"x"
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
        assert echo.wait_endings(1) == ["eof"]


def test_19_ipv6_front_ipv4_back(start_proxy: StartProxy) -> None:
    with TCPEcho() as echo:
        port = free_port(host="::1")
        start_proxy(tcp_args("::1", port, "127.0.0.1", echo.port))
        with socket.create_connection(("::1", port), timeout=5) as c:
            c.sendall(b"six-to-four")
            assert recv_exactly(c, 11) == b"six-to-four"
        assert echo.peers[0][0] == "127.0.0.1"


def test_keepalive_and_nodelay_on_client_socket(start_proxy: StartProxy) -> None:
    """docker-proxy's accepted sockets carry Go's defaults; ss shows the keepalive timer."""
    with TCPEcho() as echo:
        port = free_port()
        start_proxy(tcp_args("127.0.0.1", port, "127.0.0.1", echo.port))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"k")
            assert recv_exactly(c, 1) == b"k"
            deadline = time.monotonic() + 5
            found = False
            while not found and time.monotonic() < deadline:
                out = subprocess.run(
                    ["ss", "-tnoH", "state", "established", f"( sport = :{port} )"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                found = "keepalive" in out
            assert found, out


@pytest.mark.parametrize("proxy_mode", ["standalone"])  # counts the serving process's fds
def test_backend_resets_release_everything(start_proxy: StartProxy, relay_name: str) -> None:
    """Backend RSTs (the case uvloop's per-fd poll handles lose) must close both sides."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(512)
        port = free_port()
        p = start_proxy(
            [*tcp_args("127.0.0.1", port, "127.0.0.1", srv.getsockname()[1]), "-relay", relay_name]
        )
        assert roundtrip_raw(port, srv) == b"hello"
        baseline = quiet_fds(p.proc.pid)
        clients = []
        for _ in range(100):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"x" * 100_000)  # leave unread data in flight, then reset
            b, _ = srv.accept()
            b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            b.close()
            clients.append(c)
        for c in clients:
            try:
                assert c.recv(1) == b""
            except ConnectionResetError:
                pass
            c.close()
        fds_settled(p.proc.pid, baseline, relay_name)  # idle splice pipes may stay pooled
        assert roundtrip_raw(port, srv) == b"hello"


def roundtrip_raw(port: int, srv: socket.socket) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        b, _ = srv.accept()
        with b:
            c.sendall(b"hello")
            data = recv_exactly(b, 5)
            b.sendall(data)
            return recv_exactly(c, 5)
