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
READABLE, WRITABLE = IN | ERR | HUP, OUT | ERR | HUP
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

    def read(self) -> None:
        """Move what is readable; EOF or a socket error (a reset, say) ends the direction."""
        pump = self.pump
        try:
            for _ in range(BATCH):
                n = pump.fill()
                if n == 0:
                    self.end()
                    return
                if not pump.flush():
                    self.state = WRITING
                    return
                if n < pump.chunk:
                    return  # most likely drained; epoll says when it is not
        except BlockingIOError:
            return
        except OSError:
            self.end()

    def write(self) -> None:
        """Drain what the destination refused before; back to READING once it took it all."""
        try:
            if self.pump.flush():
                self.state = READING
        except OSError:
            self.end()

    def end(self) -> None:
        """Release the pump; idempotent."""
        if self.state != DONE:
            self.state = DONE
            self.pump.release()


class Relay:
    """A client socket and a backend socket joined both ways.

    With `half_close` (TCP), the end of one direction shuts down writing on its destination, as
    docker-proxy does, so a client's SHUT_WR reaches the backend as EOF while the reply still
    flows back; the sockets close when both directions are done. Without it (SCTP), the first
    direction to end closes both. The backend may still be connecting when the relay starts:
    its first event says whether the connect failed (`on_dial_failed`, then the client reads
    EOF, as when docker-proxy's dial fails).
    """

    __slots__ = (
        "_masks",
        "_on_closed",
        "_reactor",
        "_sides",
        "closed",
        "connected",
        "directions",
        "half_close",
        "on_dial_failed",
        "socks",
    )

    def __init__(
        self,
        reactor: Reactor,
        client: socket.SocketType,
        backend: socket.SocketType,
        pumps: PumpFactory,
        on_closed: Callable[["Relay"], None],
        *,
        half_close: bool = True,
        connected: bool = True,
        on_dial_failed: Callable[[int], None] | None = None,
    ) -> None:
        self._reactor = reactor
        self.connected = connected  # False while the backend's non-blocking connect is pending
        self.on_dial_failed = on_dial_failed
        self.socks = (client, backend)
        self._on_closed = on_closed
        self.half_close = half_close
        self.closed = False
        self._masks = [0, 0]
        up = Direction(CLIENT, BACKEND, pumps(client, backend))
        down = Direction(BACKEND, CLIENT, pumps(backend, client))
        self.directions = (up, down)
        self._sides = ((up, down), (down, up))  # per side: (reads from it, writes to it)

    def start(self) -> None:
        self._update_masks()

    def _on_client_event(self, events: int) -> None:
        self._on_event(CLIENT, events)

    def _on_backend_event(self, events: int) -> None:
        self._on_event(BACKEND, events)

    def _on_event(self, side: int, events: int) -> None:
        if side == BACKEND and not self.connected and not self._check_connect(events):
            return
        # The direction reading from this side, then the one writing to it.
        reader, writer = self._sides[side]
        try:
            changed = False
            if reader.state == READING and events & READABLE:
                reader.read()
                if reader.state != READING:
                    if self._ended(reader):
                        return
                    changed = True
            if writer.state == WRITING and events & WRITABLE:
                writer.write()
                if writer.state != WRITING:
                    if self._ended(writer):
                        return
                    changed = True
            if changed:  # most events move bytes and change nothing: no epoll_ctl then
                self._update_masks()
        except Exception as e:  # a bug must cost one connection, never the process
            _errors.warn("relay", f"relay error, closing the connection: {e!r}")
            self.close()

    def _ended(self, direction: Direction) -> bool:
        """After `direction` changed state: whether that closed the relay."""
        if direction.state == DONE:
            self._direction_done()
        return self.closed

    def _check_connect(self, events: int) -> bool:
        """The first backend event tells whether its connect succeeded; False if it failed."""
        if events & (ERR | HUP):
            err = self.socks[BACKEND].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                if self.on_dial_failed is not None:
                    self.on_dial_failed(err)
                self.close()  # the client reads EOF, as when docker-proxy's dial fails
                return False
        self.connected = True
        return True

    def _direction_done(self) -> None:
        directions = self.directions
        if not self.half_close or (directions[0].state == DONE and directions[1].state == DONE):
            self.close()  # closing sends the FINs: no shutdown calls needed
            return
        # Pass the EOF on (a client's RST becomes a FIN at the backend, as with docker-proxy).
        # docker-proxy also shuts down reading on the source; on Linux that changes nothing the
        # peer can see, so that syscall is saved.
        done = directions[0] if directions[0].state == DONE else directions[1]
        try:
            self.socks[done.dst].shutdown(socket.SHUT_WR)
        except OSError:
            pass  # already reset or disconnected: the other direction will notice

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
                # A fresh bound method each time rather than one kept on self: kept, it would
                # make a reference cycle, and a closed relay must be freed by refcount alone
                # (proxy.loops keeps the cyclic collector out of the hot path).
                handler = self._on_client_event if side == CLIENT else self._on_backend_event
                self._reactor.watch(self.socks[side].fileno(), mask, handler)

    def close(self) -> None:
        """Drop both directions and close both sockets; idempotent."""
        if self.closed:
            return
        self.closed = True
        for d in self.directions:
            d.end()
        for sock in self.socks:
            # Before close, as the fd number will be reused; both sockets are this process's
            # own (accepted or dialled here), so the close itself leaves the epoll set.
            self._reactor.forget(sock.fileno(), closing_sole_copy=True)
            sock.close()
        self._on_closed(self)
