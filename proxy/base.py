"""The seams between the serving loop and the per-protocol proxies."""

from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A scheduled call that can be called off."""

    def cancel(self) -> None:
        """Do not run the call; harmless once it ran."""


class Clock(Protocol):
    """What the proxies need from an event loop besides I/O (which the Reactor owns).

    asyncio's loops (uvloop's too) satisfy it as they are, and so does proxy.epoll_loop.
    """

    def time(self) -> float:
        """Monotonic seconds."""

    def call_later(self, delay: float, callback: Callable[[], object], /) -> Timer:
        """Run `callback` once, `delay` seconds from now."""


class Proxy(Protocol):
    """One mapping being served: a listening socket relayed to one backend address.

    Constructors take an already-bound socket, so construction cannot fail on bind and tests
    can hand in any loopback listener.
    """

    def start(self) -> None:
        """Begin serving; everything after this is driven by loop callbacks."""

    def close(self) -> None:
        """Stop serving: close the listener and every connection or flow. Idempotent."""


class Pump(Protocol):
    """Moves bytes one way between two non-blocking sockets, for one direction of a relay."""

    chunk: int

    def fill(self) -> int:
        """Take bytes from the source; 0 means EOF; raises BlockingIOError when none wait."""

    def flush(self) -> bool:
        """Write what fill() took to the destination; False if it would block with bytes left."""

    def release(self) -> None:
        """Give back what the pump holds (pipes, buffers); called once, when the direction ends."""
