"""Connections to the published ports: who holds them, when they accept, when they close."""

import socket
import struct
import sys
import time

from bench.engine.progress import Progress


def sockets_on(first: int, count: int, states: tuple[str, ...] = ("0A",)) -> set[int]:
    """Local TCP ports in [first, first+count) with a socket in one of `states` (0A: LISTEN,
    06: TIME_WAIT), any address, this namespace."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] in states and first <= port < first + count:
                found.add(port)
    return found


def wait_free(first: int, count: int, progress: Progress, timeout: float = 120) -> None:
    """Wait until no socket listens on the range (another user of the host may hold a port for
    a while) and no TIME_WAIT sits on it: pyengine's trial bind (no SO_REUSEADDR) refuses a
    port in TIME_WAIT as "already allocated", Docker does not (see bench/README.md)."""
    deadline = time.monotonic() + timeout
    while busy := sockets_on(first, count, ("0A", "06")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"ports {sorted(busy)[:5]} stay in use by another process")
        listen = sockets_on(first, count)
        what = f"listening on {sorted(listen)[:5]}" if listen else f"TIME_WAIT on {len(busy)}"
        print(f"[{progress.scenario}] waiting for the ports: {what}", file=sys.stderr)
        time.sleep(5)


def probe(port: int) -> bool:
    """One connection to 127.0.0.1:port, closed with a reset so no TIME_WAIT is left."""
    with socket.socket() as s:
        s.settimeout(1.0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_ports(first: int, count: int, timeout: float = 120) -> tuple[float, int]:
    """Connect to 127.0.0.1:first..first+count-1 until each accepted once; (end time, misses)."""
    pending = list(range(first, first + count))
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [port for port in pending if not probe(port)]
        if pending:
            time.sleep(0.01)
    return time.perf_counter(), len(pending)


def http_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


def wait_ports_closed(first: int, count: int, timeout: float = 30) -> tuple[float, int]:
    deadline = time.monotonic() + timeout
    while True:
        still = sum(probe(port) for port in range(first, first + count))
        if not still or time.monotonic() > deadline:
            return time.perf_counter(), still
        time.sleep(0.1)
