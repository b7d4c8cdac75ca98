"""The seams between the serving loop and the per-protocol proxies."""

from typing import Protocol


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
