"""Small, fast loopback backends for proxy tests, each served by one epoll thread.

- `TcpBackend("http")` answers every request with `HTTP/1.1 200 OK` and a Content-Length, keeps
  the connection alive unless the request says `Connection: close`, and then closes after the
  response (FIN, never RST: the whole request has been read first).
- `TcpBackend("echo")` sends back whatever it reads and closes on EOF.
- `UdpEcho` sends every datagram back to its sender and remembers each sender's address.

They live in the pytest process; their loop is plain `select.epoll` because the proxy, not the
backend, is what a test measures, so the backend must stay out of its way even on 2 cores.
"""

import contextlib
import os
import select
import socket
import threading
from typing import Literal

HTTP_BODY = b"ok\n"
HTTP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
RESPONSE_KEEP = HTTP_HEAD % len(HTTP_BODY) + b"\r\n" + HTTP_BODY
RESPONSE_CLOSE = HTTP_HEAD % len(HTTP_BODY) + b"Connection: close\r\n\r\n" + HTTP_BODY
EPOLL_IN = select.EPOLLIN | select.EPOLLRDHUP
EPOLL_OUT = select.EPOLLOUT


class _Conn:
    __slots__ = ("closing", "inbuf", "outbuf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = b""
        self.outbuf = b""
        self.closing = False  # close once outbuf is sent


class TcpBackend:
    """A TCP server on 127.0.0.1 (ephemeral port) running in a daemon thread."""

    def __init__(
        self, mode: Literal["http", "echo"] = "http", host: str = "127.0.0.1", backlog: int = 4096
    ) -> None:
        self.mode = mode
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self.requests = 0
        self._conns: dict[int, _Conn] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name=f"{mode}-backend", daemon=True)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def start(self) -> "TcpBackend":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._thread.join(10)
            assert not self._thread.is_alive(), "backend thread did not stop"
        for conn in self._conns.values():
            conn.sock.close()
        self._conns.clear()
        self.sock.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> "TcpBackend":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        ep = select.epoll()
        lfd = self.sock.fileno()
        ep.register(lfd, select.EPOLLIN)
        ep.register(self._wake_r, select.EPOLLIN)
        try:
            while True:
                for fd, events in ep.poll(1.0):
                    if fd == self._wake_r:
                        return
                    if fd == lfd:
                        self._accept(ep)
                    else:
                        self._service(ep, fd, events)
        finally:
            ep.close()

    def _accept(self, ep: select.epoll) -> None:
        for _ in range(64):
            try:
                sock, _ = self.sock.accept()
            except BlockingIOError:
                return
            except OSError:
                return  # EMFILE and friends: the kernel keeps the client in the backlog
            sock.setblocking(False)
            self.accepted += 1
            self._conns[sock.fileno()] = _Conn(sock)
            ep.register(sock.fileno(), EPOLL_IN)

    def _close(self, ep: select.epoll, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        ep.unregister(fd)
        del self._conns[fd]
        conn.sock.close()

    def _service(self, ep: select.epoll, fd: int, events: int) -> None:
        conn = self._conns[fd]
        if events & EPOLL_OUT:
            if not self._flush(ep, conn):
                return
            if conn.closing:
                self._close(ep, conn)
                return
        if not events & (EPOLL_IN | select.EPOLLERR | select.EPOLLHUP):
            return
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._close(ep, conn)  # reset by the peer
            return
        if not data:
            self._close(ep, conn)
            return
        if self.mode == "echo":
            conn.outbuf += data
        else:
            self._http(conn, data)
        if self._flush(ep, conn) and conn.closing:
            self._close(ep, conn)

    def _http(self, conn: _Conn, data: bytes) -> None:
        conn.inbuf += data
        while not conn.closing:
            head, sep, rest = conn.inbuf.partition(b"\r\n\r\n")
            if not sep:
                return
            conn.inbuf = rest
            self.requests += 1
            close = b"connection: close" in head.lower()
            conn.outbuf += RESPONSE_CLOSE if close else RESPONSE_KEEP
            conn.closing = close

    def _flush(self, ep: select.epoll, conn: _Conn) -> bool:
        """Send what is pending; True once nothing is left (EPOLLOUT is armed otherwise)."""
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except BlockingIOError:
                sent = 0
            except OSError:
                conn.outbuf = b""
                conn.closing = True
                return True
            conn.outbuf = conn.outbuf[sent:]
            ep.modify(conn.sock.fileno(), EPOLL_OUT if conn.outbuf else EPOLL_IN)
        return not conn.outbuf


class UdpEcho:
    """A UDP echo server on 127.0.0.1 in a daemon thread; `peers` holds every sender seen."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.peers: set[tuple[str, int]] = set()
        self.datagrams = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-echo", daemon=True)

    def start(self) -> "UdpEcho":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
            assert not self._thread.is_alive(), "UDP echo thread did not stop"
        self.sock.close()

    def __enter__(self) -> "UdpEcho":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                continue
            self.datagrams += 1
            self.peers.add(peer[:2])
            with contextlib.suppress(OSError):
                self.sock.sendto(data, peer)
