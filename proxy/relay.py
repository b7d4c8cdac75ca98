"""A relayed stream connection: two directions between two non-blocking sockets.

The relay drives raw descriptors through `add_reader`/`add_writer` and never builds asyncio
transports. uvloop 0.23 aborted the whole process ("double free or corruption") when a pair of
transports called `write_eof()` from `eof_received()` under connection churn; with no transports
that path does not exist, and the same code runs unchanged on uvloop and asyncio.

Each direction is a small state machine:

    READING --(destination would block)--> WRITING --(drained)--> READING
       \\______________(EOF or error)______________/--> DONE

Backpressure is the state itself: a direction that cannot write stops reading.
"""

import asyncio
import socket
from collections.abc import Callable

from proxy.base import Pump
from proxy.log import RateLimited
from proxy.pumps import PumpFactory

READING, WRITING, DONE = 0, 1, 2
# Reads per readiness callback before yielding to other connections.
BATCH = 8

_errors = RateLimited()


class Direction:
    """One way of a relay: read `src`, write `dst` through a pump."""

    __slots__ = ("_dst_fd", "_loop", "_relay", "_src_fd", "pump", "state")

    def __init__(
        self, relay: "Relay", loop: asyncio.AbstractEventLoop, src: int, dst: int, pump: Pump
    ) -> None:
        self._relay = relay
        self._loop = loop
        self._src_fd = src
        self._dst_fd = dst
        self.pump = pump
        self.state = READING

    def start(self) -> None:
        self._loop.add_reader(self._src_fd, self._on_readable)

    def _on_readable(self) -> None:
        pump = self.pump
        try:
            for _ in range(BATCH):
                n = pump.fill()
                if n == 0:
                    self.finish()
                    return
                if not pump.flush():
                    self.state = WRITING
                    self._loop.remove_reader(self._src_fd)
                    self._loop.add_writer(self._dst_fd, self._on_writable)
                    return
                if n < pump.chunk:
                    return  # the socket is most likely drained; let epoll say when it is not
        except BlockingIOError:
            return
        except OSError as e:
            self.finish(e)
        except Exception as e:  # a bug must cost one connection, never the process
            _errors.warn("relay", f"relay error, closing the connection: {e!r}")
            self._relay.close()

    def _on_writable(self) -> None:
        try:
            drained = self.pump.flush()
        except OSError as e:
            self.finish(e)
            return
        except Exception as e:
            _errors.warn("relay", f"relay error, closing the connection: {e!r}")
            self._relay.close()
            return
        if drained:
            self.state = READING
            self._loop.remove_writer(self._dst_fd)
            self._loop.add_reader(self._src_fd, self._on_readable)

    def stop(self) -> None:
        """Unregister from the loop and release the pump; idempotent."""
        if self.state == READING:
            self._loop.remove_reader(self._src_fd)
        elif self.state == WRITING:
            self._loop.remove_writer(self._dst_fd)
        if self.state != DONE:
            self.state = DONE
            self.pump.release()

    def finish(self, error: OSError | None = None) -> None:
        self.stop()
        self._relay.direction_done(self, error)


class Relay:
    """A client socket and a backend socket joined both ways.

    With `half_close` (TCP), the end of one direction shuts down reading on its source and
    writing on its destination, as docker-proxy does, so a client's SHUT_WR reaches the backend
    as EOF while the reply still flows back; the sockets close when both directions are done.
    Without it (SCTP), the first direction to end closes both.
    """

    __slots__ = ("_on_closed", "_socks", "closed", "directions", "half_close")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: socket.socket,
        backend: socket.socket,
        pumps: PumpFactory,
        on_closed: Callable[["Relay"], None],
        *,
        half_close: bool = True,
    ) -> None:
        self._socks = (client, backend)
        self._on_closed = on_closed
        self.half_close = half_close
        self.closed = False
        cfd, bfd = client.fileno(), backend.fileno()
        self.directions = (
            Direction(self, loop, cfd, bfd, pumps(client, backend)),
            Direction(self, loop, bfd, cfd, pumps(backend, client)),
        )

    def start(self) -> None:
        for d in self.directions:
            d.start()

    def direction_done(self, direction: Direction, error: OSError | None) -> None:
        if not self.half_close:
            self.close()
            return
        src, dst = (
            self._socks if direction is self.directions[0] else (self._socks[1], self._socks[0])
        )
        for sock, how in ((src, socket.SHUT_RD), (dst, socket.SHUT_WR)):
            try:
                sock.shutdown(how)
            except OSError:
                pass  # already reset or disconnected: the other direction will notice
        if all(d.state == DONE for d in self.directions):
            self.close()

    def close(self) -> None:
        """Drop both directions and close both sockets; idempotent."""
        if self.closed:
            return
        self.closed = True
        for d in self.directions:
            d.stop()  # unregister before close: a reused fd number must not inherit a callback
        for sock in self._socks:
            sock.close()
        self._on_closed(self)
