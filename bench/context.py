"""Run-wide settings and the context every scenario receives."""

from dataclasses import dataclass, field, replace

from bench.ports import PortAllocator
from bench.testbed import Testbed

# Ports the backends listen on inside the namespace.
IPERF_PORT = 5201
ECHO_PORT = 7000  # TCP echo and UDP echo
# The TCP echo listens on ECHO_PORT..+ECHO_PORTS-1 and measurements rotate through them. A proxy
# closes its backend side first when the client leaves, so every relayed connection leaves a
# host-side TIME_WAIT towards the backend for 60 s, and tcp_tw_reuse=2 only reuses loopback
# ones: ~28000 ephemeral ports per backend address and port would run out after three 9000-
# connection memory measurements.
ECHO_PORTS = 16
HTTP_PORT = 8080
RANGE_CONTAINER_PORT = 30000  # the 1001-port range maps onto 30000-31000 (nothing listens)


@dataclass(frozen=True)
class Settings:
    rounds: int = 3
    bulk_seconds: float = 3.0
    udp_bulk_seconds: float = 2.5
    udp_datagram: int = 1400
    http_seconds: float = 3.0
    connrate_seconds: float = 2.0
    wrk_connections: int = 50
    pingpong_count: int = 15000
    pingpong_warmup: int = 500
    udp_rr_seconds: float = 2.5
    udp_rr_sockets: int = 8
    udp_rr_window: int = 4
    startup_spawns: int = 5
    # A relayed connection costs at least 2 fds and the hard RLIMIT_NOFILE is 20000: 9000 leaves
    # headroom. docker-proxy (go1.19) holds two splice pipes per connection too (6 fds), so it
    # tops out near 3300: the 3000 level is the largest every target can hold.
    mem_conns: tuple[int, ...] = (1000, 3000, 9000)
    range_ports: int = 1001
    range_rounds: int = 2
    haproxy_threads: int = 2


QUICK = replace(
    Settings(),
    rounds=1,
    bulk_seconds=2.0,
    udp_bulk_seconds=1.5,
    http_seconds=2.0,
    connrate_seconds=1.5,
    pingpong_count=5000,
    pingpong_warmup=200,
    udp_rr_seconds=1.5,
    startup_spawns=3,
    mem_conns=(1000, 3000),
    range_rounds=1,
)


@dataclass
class Context:
    bed: Testbed
    settings: Settings
    workdir: str
    log_path: str
    pyproxy: str
    ports: PortAllocator = field(default_factory=PortAllocator)
    _echo_turn: int = 0

    def echo_port(self) -> int:
        """The next TCP echo port in the namespace (see ECHO_PORTS)."""
        self._echo_turn += 1
        return ECHO_PORT + self._echo_turn % ECHO_PORTS
