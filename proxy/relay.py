"""A relayed stream connection: two directions between two non-blocking sockets.

The relay drives raw descriptors through the Reactor and never builds asyncio transports:
uvloop 0.23 aborted the whole process ("double free or corruption") when a pair of transports
called `write_eof()` from `eof_received()` under connection churn. With no transports that path
does not exist, and the same code runs on uvloop and asyncio.

Each direction is a small state machine:

    READING --(destination would block)--> WRITING --(drained)--> READING
       \\______________(EOF or error)______________/--> DONE

Backpressure is the state itself: a direction that cannot write stops reading. The relay turns
both directions' states into one epoll mask per socket.
"""

import socket
from collections.abc import Callable

from proxy.base import Pump
from proxy.log import RateLimited
from proxy.pumps import PumpFactory
from proxy.reactor import ERR, HUP, IN, OUT, Reactor

READING, WRITING, DONE = 0, 1, 2
# Reads per readiness event before yielding to other connections.
BATCH = 8
CLIENT, BACKEND = 0, 1

_errors = RateLimited()


class Direction:
    """One way of a relay: read socket `src`, write socket `dst` (indexes into the pair)."""

    __slots__ = ("dst", "pump", "src", "state")

    def __init__(self, src: int, dst: int, pump: Pump) -> None:
        self.src = src
        self.dst = dst
        self.pump = pump
        self.state = READING

    def read(self) -> OSError | None:
        """Move what is readable; return the error that ended the direction, if any."""
        pump = self.pump
        try:
            for _ in range(BATCH):
                n = pump.fill()
                if n == 0:
                    self.end()
                    return None
                if not pump.flush():
                    self.state = WRITING
                    return None
                if n < pump.chunk:
                    return None  # most likely drained; epoll says when it is not
        except BlockingIOError:
            return None
        except OSError as e:
            self.end()
            return e
        return None

    def write(self) -> OSError | None:
        try:
            if self.pump.flush():
                self.state = READING
        except OSError as e:
            self.end()
            return e
        return None

    def end(self) -> None:
        """Release the pump; idempotent."""
        if self.state != DONE:
            self.state = DONE
            self.pump.release()


class Relay:
    """A client socket and a backend socket joined both ways.

    With `half_close` (TCP), the end of one direction shuts down reading on its source and
    writing on its destination, as docker-proxy does, so a client's SHUT_WR reaches the backend
    as EOF while the reply still flows back; the sockets close when both directions are done.
    Without it (SCTP), the first direction to end closes both.
    """

    __slots__ = (
        "_handlers",
        "_masks",
        "_on_closed",
        "_reactor",
        "closed",
        "directions",
        "half_close",
        "socks",
    )

    def __init__(
        self,
        reactor: Reactor,
        client: socket.socket,
        backend: socket.socket,
        pumps: PumpFactory,
        on_closed: Callable[["Relay"], None],
        *,
        half_close: bool = True,
    ) -> None:
        self._reactor = reactor
        self.socks = (client, backend)
        self._on_closed = on_closed
        self.half_close = half_close
        self.closed = False
        self._masks = [0, 0]
        self._handlers = (self._on_client_event, self._on_backend_event)
        self.directions = (
            Direction(CLIENT, BACKEND, pumps(client, backend)),
            Direction(BACKEND, CLIENT, pumps(backend, client)),
        )

    def start(self) -> None:
        self._update_masks()

    def _on_client_event(self, events: int) -> None:
        self._on_event(CLIENT, events)

    def _on_backend_event(self, events: int) -> None:
        self._on_event(BACKEND, events)

    def _on_event(self, side: int, events: int) -> None:
        try:
            for d in self.directions:
                if d.state == READING and d.src == side and events & (IN | ERR | HUP):
                    self._after(d, d.read())
                elif d.state == WRITING and d.dst == side and events & (OUT | ERR | HUP):
                    self._after(d, d.write())
                if self.closed:
                    return
            self._update_masks()
        except Exception as e:  # a bug must cost one connection, never the process
            _errors.warn("relay", f"relay error, closing the connection: {e!r}")
            self.close()

    def _after(self, direction: Direction, error: OSError | None) -> None:
        if direction.state != DONE:
            return
        if not self.half_close:
            self.close()
            return
        src, dst = self.socks[direction.src], self.socks[direction.dst]
        for sock, how in ((src, socket.SHUT_RD), (dst, socket.SHUT_WR)):
            try:
                sock.shutdown(how)
            except OSError:
                pass  # already reset or disconnected: the other direction will notice
        if all(d.state == DONE for d in self.directions):
            self.close()

    def _update_masks(self) -> None:
        for side in (CLIENT, BACKEND):
            mask = 0
            for d in self.directions:
                if d.state == READING and d.src == side:
                    mask |= IN
                elif d.state == WRITING and d.dst == side:
                    mask |= OUT
            if mask != self._masks[side]:
                self._masks[side] = mask
                self._reactor.watch(self.socks[side].fileno(), mask, self._handlers[side])

    def close(self) -> None:
        """Drop both directions and close both sockets; idempotent."""
        if self.closed:
            return
        self.closed = True
        for d in self.directions:
            d.end()
        for sock in self.socks:
            self._reactor.forget(sock.fileno())  # before close: the fd number will be reused
            sock.close()
        self._on_closed(self)
