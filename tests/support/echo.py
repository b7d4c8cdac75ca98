"""Loopback backends for proxy tests: TCP and UDP echo servers that record what they saw."""

import contextlib
import socket
import threading
import time
from collections.abc import Callable


class TCPEcho:
    """Echoes each connection until EOF, then half-closes; records peers and how each ended.

    `on_eof` (optional) runs after the client's EOF and before closing, so a test can reply
    after a half-close.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        on_eof: Callable[[socket.socket], None] | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(1024)
        self.port: int = self.sock.getsockname()[1]
        self.peers: list[tuple[str, int]] = []
        self.endings: list[str] = []
        self._on_eof = on_eof
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.peers.append(peer[:2])
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        ending = "eof"
        try:
            while data := conn.recv(1 << 20):
                conn.sendall(data)
            if self._on_eof:
                self._on_eof(conn)
            conn.shutdown(socket.SHUT_WR)
        except OSError as e:
            ending = type(e).__name__
        finally:
            with self._lock:
                self.endings.append(ending)
            conn.close()

    def wait_endings(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.endings) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.endings)

    def close(self) -> None:
        _wake_and_join(self.sock, self._acceptor)
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()

    def __enter__(self) -> "TCPEcho":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UDPEcho:
    """Echoes every datagram to its sender and records (payload length, sender) pairs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, port))
        self.port: int = self.sock.getsockname()[1]
        self.seen: list[tuple[int, tuple[str, int]]] = []
        self._closing = False
        self._server = threading.Thread(target=self._serve, daemon=True)
        self._server.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(70000)
                if self._closing:
                    return
                self.seen.append((len(data), peer[:2]))
                self.sock.sendto(data, peer)
            except OSError:
                return

    def close(self) -> None:
        self._closing = True
        _wake_and_join(self.sock, self._server)

    def __enter__(self) -> "UDPEcho":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wake_and_join(sock: socket.socket, thread: threading.Thread) -> None:
    """Stop a thread blocked in accept or recvfrom on `sock`, then close it.

    close() alone wakes neither: the blocked call keeps the socket (and its port) alive, and
    a blocked accept keeps a reserved fd number that a later dup2 onto it fails on with EBUSY.
    After a few hundred echo servers, one test process hit exactly that in spawn's staging.
    shutdown() wakes both on Linux (on an unbound-peer UDP socket it reports ENOTCONN, and
    still wakes the reader).
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    thread.join(5)
    sock.close()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(1 << 20, size - len(chunks)))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks)


def recv_all(sock: socket.socket) -> bytes:
    chunks = bytearray()
    while chunk := sock.recv(1 << 20):
        chunks += chunk
    return bytes(chunks)
