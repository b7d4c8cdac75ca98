"""TCP (and SCTP) proxying: accept, dial the backend only then, and relay both ways.

As in docker-proxy: client sockets get TCP_NODELAY and 15 s keepalives, the backend socket only
TCP_NODELAY; a refused or failed dial closes the client normally (it reads EOF) and the proxy
keeps serving. Unlike docker-proxy, running out of descriptors never stops the accept loop.
"""

import errno
import os
import socket
from collections.abc import Callable
from typing import Final

from proxy.base import Clock
from proxy.config import Endpoint
from proxy.log import RateLimited, address_text
from proxy.pumps import PumpFactory
from proxy.reactor import IN, Reactor
from proxy.relay import Relay

ACCEPT_BATCH: Final = 32
OUT_OF_FDS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# How long to stop accepting when even the spare descriptor cannot be had back.
ACCEPT_PAUSE: Final = 0.05


class StreamProxy:
    """Serves one listening stream socket (TCP, or SCTP one-to-one) for one backend."""

    def __init__(
        self,
        listener: socket.socket,
        backend: Endpoint,
        clock: Clock,
        reactor: Reactor,
        pumps: PumpFactory,
        *,
        proto: str = "tcp",
    ) -> None:
        self._reactor = reactor
        self._listener = listener
        self._lfd = listener.fileno()
        self._backend = backend
        self._addr = (backend.ip, backend.port)
        self._clock = clock
        self._pumps = pumps
        self._proto = proto
        self._ipproto = socket.IPPROTO_SCTP if proto == "sctp" else socket.IPPROTO_TCP
        self._half_close = proto == "tcp"  # docker-proxy's SCTP relay never half-closes
        self.relays: set[Relay] = set()
        self._accepting = False
        self._closed = False
        self._warn = RateLimited()
        self._front = address_text(listener.getsockname())
        # The raw accept(2) behind socket.accept(), which wraps each fd in a Python-level
        # socket.socket (an __init__ and two enum conversions): a few microseconds per connection
        # that a bare C socket object, with every method the relay uses, does not cost.
        self._accept_fd: Callable[[], tuple[int, object]] = getattr(listener, "_accept")  # noqa: B009
        self._family = listener.family
        # A descriptor held in reserve: when accept fails for lack of fds, releasing it lets us
        # accept and close the waiting client (it is refused, not left hanging in the backlog).
        self._spare: int | None = _open_spare()

    def __repr__(self) -> str:
        return (
            f"<StreamProxy {self._proto} {self._front} -> {self._backend} "
            f"relays={len(self.relays)}>"
        )

    def start(self) -> None:
        self._accepting = True
        self._reactor.watch(self._lfd, IN, self._on_acceptable)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pause_accepting()
        self._listener.close()
        for relay in list(self.relays):
            relay.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None

    def _pause_accepting(self) -> None:
        if self._accepting:
            self._accepting = False
            self._reactor.forget(self._lfd)

    def _resume_accepting(self) -> None:
        if not self._closed and not self._accepting:
            if self._spare is None:
                self._spare = _open_spare()
            self.start()

    def _on_acceptable(self, events: int) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                fd, _ = self._accept_fd()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in OUT_OF_FDS:
                    self._refuse(e)
                    return
                # ECONNABORTED, EPROTO, EPERM (a firewall): that client is gone, keep serving.
                self._warn.warn("accept", f"accept: {e.strerror}")
                continue
            try:
                client = socket.SocketType(self._family, socket.SOCK_STREAM, self._ipproto, fd)
            except OSError:
                os.close(fd)
                continue
            self._dial(client)

    def _refuse(self, error: OSError) -> None:
        self._warn.warn(
            "fds",
            f"Refusing connections on {self._proto}/{self._front}: accept4: {error.strerror}",
        )
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
            try:
                self._listener.accept()[0].close()
            except OSError:
                pass
            self._spare = _open_spare()
        if self._spare is None:
            self._pause_accepting()
            self._clock.call_later(ACCEPT_PAUSE, self._resume_accepting)

    def _dial(self, client: socket.SocketType) -> None:
        backend = None
        try:
            client.setblocking(False)  # TCP options come from the listener (proxy.listen)
            backend = socket.SocketType(
                self._backend.family,
                socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                self._ipproto,
            )
            if self._proto == "tcp":
                backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = backend.connect_ex(self._addr)
        except OSError as e:
            self._dial_failed(client, backend, e.errno or errno.EIO)
            return
        if err not in (0, errno.EINPROGRESS):
            self._dial_failed(client, backend, err)
            return
        # Relay at once: bytes for a backend still connecting wait in the pump, and a connect
        # that fails surfaces as an error event on the backend (Relay.on_dial_failed).
        relay = Relay(
            self._reactor,
            client,
            backend,
            self._pumps,
            self._relay_closed,
            half_close=self._half_close,
            connected=err == 0,
            on_dial_failed=self._log_dial_failure,
        )
        self.relays.add(relay)
        relay.start()

    def _relay_closed(self, relay: Relay) -> None:
        self.relays.discard(relay)

    def _log_dial_failure(self, err: int) -> None:
        self._warn.warn(
            "dial",
            f"Can't forward traffic to backend {self._proto}/{self._backend}: "
            f"dial {self._proto} {self._backend}: {os.strerror(err).lower()}",
        )

    def _dial_failed(
        self, client: socket.SocketType, backend: socket.SocketType | None, err: int
    ) -> None:
        self._log_dial_failure(err)
        if backend is not None:
            backend.close()
        client.close()  # a normal close: the client reads EOF, as with docker-proxy


def _open_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
