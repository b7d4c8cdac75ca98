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

SPAN = 8000  # ports under the ephemeral range to rotate through; a run uses a few hundred


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


def bindable(port: int, kind: socket.SocketKind, host: str) -> bool:
    """Without SO_REUSEADDR, so a port still in TIME_WAIT counts as taken too; `::` is probed
    dual-stack, so it must be free for IPv4 as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    for port in itertools.islice(candidates(), _LOW - _FIRST):
        if bindable(port, kind, host):
            return port
    raise RuntimeError(f"no free {kind.name} port on {host} under {_LOW}")


def free_port_everywhere(v6: bool) -> int:
    """A TCP port free on 0.0.0.0 and, if `v6`, on [::], for a publish without host IP."""
    for port in itertools.islice(candidates(), _LOW - _FIRST):
        if bindable(port, socket.SOCK_STREAM, "0.0.0.0") and (
            not v6 or bindable(port, socket.SOCK_STREAM, "::")
        ):
            return port
    raise RuntimeError(f"no TCP port free on both 0.0.0.0 and [::] under {_LOW}")
