"""Fresh loopback addresses for load tests, and the port space they draw on.

Every TCP connection that closes leaves a TIME_WAIT entry behind for 60 s, keyed by its
four-tuple. A stress test opens tens of thousands of connections between two addresses; run it
right after another (or after the previous run of the suite) with the same addresses and it
draws source ports from a space its predecessors filled, so connects stall and tests fail for
reasons that have nothing to do with the proxy. The machine's recent history must not decide a
test's outcome, so each load test takes a /24 of its own inside 127.0.0.0/8 that no socket on
the host uses: the proxy listens on `.1`, backends sit on `.2` and up, and clients that can bind
before they connect spread over `.10` and up. Loopback answers for the whole /8 with no set-up.

`port_space()` reads what the kernel offers (the ephemeral range, TIME_WAIT entries and their
cap) so a test sizes its load to it and reports a starved machine as such.
"""

import itertools
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procfs import tcp_entries

# <linux/in.h>: choose the source port at connect(), by four-tuple, not at bind() by address and
# port alone (Python 3.11's socket module does not name it).
IP_BIND_ADDRESS_NO_PORT = 24
BACKEND_HOSTS = 4  # .2 to .5
CLIENT_HOSTS = range(10, 250)


@dataclass(frozen=True)
class Subnet:
    """A /24 in 127.0.0.0/8 for one test: the proxy's, the backends' and the clients' addresses."""

    prefix: str  # "127.A.B"

    @property
    def proxy(self) -> str:
        return f"{self.prefix}.1"

    @property
    def backends(self) -> list[str]:
        return [f"{self.prefix}.{2 + i}" for i in range(BACKEND_HOSTS)]

    @property
    def backend(self) -> str:
        return self.backends[0]

    def clients(self) -> Iterator[str]:
        """Client source addresses, round robin."""
        return (f"{self.prefix}.{host}" for host in itertools.cycle(CLIENT_HOSTS))

    def __contains__(self, address: str) -> bool:
        return address.rsplit(".", 1)[0] == self.prefix


def fresh_subnet() -> Subnet:
    """A random /24 of 127.0.0.0/8 (never 127.0.0.0/24) that no TCP socket on the host touches,
    TIME-WAIT entries included."""
    for _ in range(100):
        net = Subnet(f"127.{random.randrange(1, 255)}.{random.randrange(0, 256)}")
        cidr = f"{net.prefix}.0/24"
        if not tcp_entries("state", "all", "(", "src", cidr, "or", "dst", cidr, ")"):
            return net
    raise RuntimeError("no unused /24 in 127.0.0.0/8")


def connect_from(
    source: str, destination: tuple[str, int], timeout: float | None = 5.0
) -> socket.socket:
    """A TCP connection from `source` (port chosen by the kernel at connect, by four-tuple)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect(destination)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(frozen=True)
class PortSpace:
    """What the kernel offers connect(): the ephemeral range and the TIME_WAIT entries in it."""

    low: int
    high: int
    time_wait: int
    max_time_wait: int

    @property
    def ephemeral(self) -> int:
        return self.high - self.low + 1

    def describe(self) -> str:
        return (
            f"ephemeral ports {self.low}-{self.high} ({self.ephemeral}), "
            f"{self.time_wait} TCP sockets in TIME_WAIT (cap {self.max_time_wait})"
        )

    def connections_per_destination(self) -> int:
        """How many connections to one address and port fit in the range at once: a closed one
        holds its port for 60 s (TIME_WAIT) and loopback reuses it only after 1 s, so a test
        that stays within the range never waits for the kernel, whatever it did before."""
        return self.ephemeral


def port_space() -> PortSpace:
    low, high = (int(x) for x in _sysctl("net/ipv4/ip_local_port_range").split())
    time_wait = 0
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            time_wait = int(fields[fields.index("tw") + 1])
    return PortSpace(low, high, time_wait, int(_sysctl("net/ipv4/tcp_max_tw_buckets")))


def _sysctl(name: str) -> str:
    return Path("/proc/sys", name).read_text().strip()
