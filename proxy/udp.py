"""UDP proxying with per-client connection tracking, as docker-proxy v28+ does it.

Each client (address, port) gets its own connected backend socket, so the backend sees one
source port per client. Replies leave the listening socket from the address the client sent
to (IP_PKTINFO / IPV6_PKTINFO), which matters on a wildcard bind. A flow is forgotten after
`timeout` seconds with no datagram in either direction (v28.0.2 semantics: a one-way client
keeps its backend port).

Deliberate differences from docker-proxy: zero-length datagrams are forwarded (Go dropped them
as an accident of its copy loop), IPv6 datagrams up to 65527 bytes pass whole (Go truncated
at 65507), and running out of descriptors drops datagrams instead of ending the process.
"""

import errno
import socket
import struct
from typing import Final

from proxy.base import Clock, Timer
from proxy.config import Endpoint
from proxy.listen import IP_PKTINFO, is_wildcard
from proxy.log import RateLimited, address_text
from proxy.reactor import IN, Reactor

BUFSIZE: Final = 65536  # larger than any UDP payload (65507 over IPv4, 65527 over IPv6)
BATCH: Final = 32
ANCILLARY_SIZE: Final = socket.CMSG_SPACE(20)  # room for in6_pktinfo (in_pktinfo is 12 bytes)


class Flow:
    """One client's conntrack entry: its backend socket and the address it wrote to."""

    __slots__ = ("client", "cmsg", "fd", "last", "sock")

    def __init__(
        self, client: tuple[object, ...], sock: socket.socket, cmsg: list[tuple[int, int, bytes]]
    ) -> None:
        self.client = client
        self.sock = sock
        self.fd = sock.fileno()
        self.cmsg = cmsg
        self.last = 0.0


def reply_cmsg(ancdata: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """The cmsg that makes a reply leave from the destination address of a received datagram."""
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            _ifindex, _spec_dst, addr = struct.unpack_from("=i4s4s", data)
            return [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=i4s4s", 0, addr, b"\0" * 4))]
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 20:
            # Keep the interface index: a link-local destination is only valid on its link.
            return [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, bytes(data[:20]))]
    return []  # no pktinfo on this socket: the kernel picks the source, as docker-proxy did


class UDPProxy:
    """Serves one bound UDP socket for one backend address."""

    def __init__(
        self,
        listener: socket.socket,
        backend: Endpoint,
        clock: Clock,
        reactor: Reactor,
        timeout: float = 90.0,
    ) -> None:
        self._reactor = reactor
        self._listener = listener
        self._lfd = listener.fileno()
        self._backend = backend
        self._addr = (backend.ip, backend.port)
        self._clock = clock
        self.timeout = timeout
        self.flows: dict[tuple[object, ...], Flow] = {}
        self._buf = bytearray(BUFSIZE)
        self._view = memoryview(self._buf)
        self._sweeper: Timer | None = None
        self._closed = False
        self._warn = RateLimited()
        self._front = address_text(listener.getsockname())
        # Bound to one address, the listener replies from it by itself: plain recvfrom then,
        # with no ancillary data to ask for or parse.
        self._wildcard = is_wildcard(listener)

    def __repr__(self) -> str:
        return f"<UDPProxy {self._front} -> {self._backend} flows={len(self.flows)}>"

    def start(self) -> None:
        self._reactor.watch(self._lfd, IN, self._on_datagram)
        self._schedule_sweep()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._reactor.forget(self._lfd)
        self._listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for flow in list(self.flows.values()):
            self._drop(flow)

    def _schedule_sweep(self) -> None:
        interval = min(max(self.timeout / 4, 0.05), 5.0)
        self._sweeper = self._clock.call_later(interval, self._sweep)

    def _sweep(self) -> None:
        deadline = self._clock.time() - self.timeout
        for flow in [f for f in self.flows.values() if f.last <= deadline]:
            self._drop(flow)
        self._schedule_sweep()

    def _drop(self, flow: Flow) -> None:
        del self.flows[flow.client]
        self._reactor.forget(flow.fd)
        flow.sock.close()

    def _on_datagram(self, events: int) -> None:
        view = self._view
        wildcard = self._wildcard
        now = self._clock.time()  # once per batch: the idle timeout needs no finer clock
        for _ in range(BATCH):
            try:
                if wildcard:
                    n, ancdata, flags, client = self._listener.recvmsg_into([view], ANCILLARY_SIZE)
                else:
                    n, client = self._listener.recvfrom_into(view)
                    ancdata, flags = [], 0  # BUFSIZE exceeds any UDP payload: never truncated
            except BlockingIOError:
                return
            except OSError as e:
                # A UDP listener has no connection to lose: log and keep serving.
                self._warn.warn("recv", f"udp/{self._front}: recv: {e}")
                return
            if flags & socket.MSG_TRUNC:
                self._warn.warn("trunc", f"dropped a datagram larger than {BUFSIZE} bytes")
                continue
            flow = self.flows.get(client)
            if flow is None:
                flow = self._open_flow(client, ancdata)
                if flow is None:
                    continue
            flow.last = now
            data = view[:n]
            try:
                flow.sock.send(data)
            except OSError as e:
                self._send_failed(flow, data, e)

    def _open_flow(
        self, client: tuple[object, ...], ancdata: list[tuple[int, int, bytes]]
    ) -> Flow | None:
        try:
            sock = socket.socket(
                self._backend.family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
            )
        except OSError as e:
            self._warn.warn("fds", f"Can't proxy a datagram to udp/{self._backend}: {e.strerror}")
            return None
        try:
            sock.connect(self._addr)
        except OSError as e:
            sock.close()
            self._warn.warn("dial", f"Can't proxy a datagram to udp/{self._backend}: {e.strerror}")
            return None
        flow = Flow(client, sock, reply_cmsg(ancdata))
        self.flows[client] = flow
        self._reactor.watch(flow.fd, IN, lambda events: self._on_reply(flow))
        return flow

    def _send_failed(self, flow: Flow, data: memoryview, error: OSError) -> None:
        """The uncommon end of a send to the backend."""
        if isinstance(error, ConnectionRefusedError):
            # A stale ICMP port-unreachable from an earlier datagram is reported here, not
            # about this one: send again once, as docker-proxy v29.5 does.
            try:
                flow.sock.send(data)
                return
            except (ConnectionRefusedError, BlockingIOError):
                return
            except OSError as e:
                error = e
        elif isinstance(error, BlockingIOError):
            return  # the socket buffer is full: UDP may drop, and so do we
        self._warn.warn("send", f"Can't proxy a datagram to udp/{self._backend}: {error}")

    def _on_reply(self, flow: Flow) -> None:
        if flow.sock.fileno() < 0:
            return  # dropped earlier in this batch
        view = self._view
        now = self._clock.time()
        for _ in range(BATCH):
            try:
                n = flow.sock.recv_into(view)
            except BlockingIOError:
                return
            except ConnectionRefusedError:
                continue  # ICMP port-unreachable: the backend is not up yet, keep the flow
            except OSError as e:
                self._warn.warn("reply", f"udp/{self._backend}: recv: {e}")
                self._drop(flow)
                return
            flow.last = now
            try:
                if flow.cmsg:
                    self._listener.sendmsg([view[:n]], flow.cmsg, 0, flow.client)
                else:
                    self._listener.sendto(view[:n], flow.client)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOBUFS):
                    self._warn.warn("sendmsg", f"udp reply to {flow.client}: {e}")
