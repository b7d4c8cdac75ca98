"""Unused ports for a test to bind, chosen where nothing else will take them first.

A port from `bind(0)` lies in the kernel's ephemeral range, which is also where `connect()`
picks its source ports: between closing the probe and the proxy's bind, any outgoing connection
on the host (the hub dialling a backend, a client of another test) may take it, and the proxy
then reports "address already in use". On CI that made a 12-port stand-in fail to start. So
ports come from just under the ephemeral range, which only explicit binds use, in a rotating
order so one run never hands out the same port twice while it may still be held.
"""

import itertools
import random
import socket
from collections.abc import Iterator
from pathlib import Path

from bench.ports import bindable

SPAN = 8000  # ports under the ephemeral range to rotate through; a run uses a few hundred
BOTH = (socket.SOCK_STREAM, socket.SOCK_DGRAM)


def ephemeral_low() -> int:
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
    return int(text.split()[0])


_LOW = ephemeral_low()
_FIRST = max(1024, _LOW - SPAN)
_TURN = itertools.count(random.randrange(_LOW - _FIRST))


def candidates() -> Iterator[int]:
    """Ports under the ephemeral range, each one once per turn of the rotation."""
    while True:
        yield _FIRST + next(_TURN) % (_LOW - _FIRST)


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    for port in itertools.islice(candidates(), _LOW - _FIRST):
        if bindable(port, host, (kind,)):
            return port
    raise RuntimeError(f"no free {kind.name} port on {host} under {_LOW}")


def free_port_everywhere(v6: bool) -> int:
    """A TCP port free on 0.0.0.0 and, if `v6`, on [::], for a publish without host IP."""
    return free_port(socket.SOCK_STREAM, "::" if v6 else "0.0.0.0")  # `::` covers 0.0.0.0


def free_range(count: int) -> int:
    """A start port whose next `count` ports are free for both TCP and UDP on 127.0.0.1."""
    for start in itertools.islice(candidates(), _LOW - _FIRST):
        ports = range(start, start + count)
        if ports[-1] < _LOW and all(bindable(p, "127.0.0.1", BOTH) for p in ports):
            for _ in ports[1:]:  # the rotation hands the rest of the range to no one else
                next(_TURN)
            return start
    raise RuntimeError(f"no {count} consecutive free ports under {_LOW}")
