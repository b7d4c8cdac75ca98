"""pyproxy under stress never crashes and never exits silently.

- Connection churn (wrk, one request per connection) and abortive churn (clients that reset):
  the process survives, serves a fresh request afterwards, gives every descriptor back, and
  still exits 0 within 1 s on SIGINT in the middle of the churn. uvloop 0.23.0 aborted the
  process ("double free or corruption") in a Protocol-based relay under exactly this churn;
  these tests keep that hazard covered on every loop and relay.
- Descriptor exhaustion under `prlimit --nofile=64:64` (TCP, TCP under wrk, UDP): docker-proxy
  exits 0 there and leaves the port dead (spec §2.4); pyproxy must keep running, refuse what
  it cannot hold (a refused TCP client reads EOF or a reset, it never hangs), keep serving the
  connections it holds, and serve again once descriptors are free.
- SIGINT and SIGTERM with 1000 open TCP connections or 1000 UDP flows: exit status 0 within
  1 s (spec §10 items 9 and 25).

Every proxy's stderr is captured and must never show a Python traceback.

Each test runs on a fresh /24 of 127.0.0.0/8 (`bed` below, tests.support.loopback): the proxy
listens on .1, its backend is on .2, and the clients that can bind spread their source addresses
over the rest. Tens of thousands of closed connections leave as many TIME_WAIT entries for 60 s;
on shared addresses the next test (or the next run of the suite) drew source ports from the
space they filled and stalled, which failed tests for the machine's recent history instead of
for anything the proxy did. Loads are sized to the ephemeral range the kernel offers.
test_tcp_fd_exhaustion_idle_clients covers a bug this module found: the splice relay dropped
a connection when no pipe could be had at the fd limit (it now copies that chunk instead).
"""

import contextlib
import errno
import itertools
import os
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from tests.conftest import free_port, require_binary
from tests.support.backends import HTTP_BODY, TcpBackend, UdpEcho
from tests.support.loopback import PortSpace, Subnet, connect_from, fresh_subnet, port_space
from tests.support.procfs import fd_kinds, fds_settled, quiet_fds, wait_fds
from tests.support.proxyproc import (
    ProxyProcess,
    hub_pids,
    kill_hubs,
    pyproxy_path,
    tcp_args,
    udp_args,
)

REQUEST_CLOSE = b"GET / HTTP/1.1\r\nHost: stress\r\nConnection: close\r\n\r\n"
REQUEST_KEEP = b"GET / HTTP/1.1\r\nHost: stress\r\n\r\n"

# Churn: wrk rounds of ROUND_SECONDS until TARGET requests (at least MIN_ROUNDS, at most
# CHURN_BUDGET seconds of load); REQUIRED is what the test insists on.
ROUND_SECONDS = 4
MIN_ROUNDS = 2
CHURN_BUDGET = 18.0
TARGET_REQUESTS = 25_000  # at most; Bed.sized keeps it within the ephemeral range
REQUIRED_SHARE = 0.8  # of the target
ABORTS = 8000  # connections reset by their client in the abortive churn test
LOW_NOFILE = 64
LOAD = 1000  # connections or flows held open while the proxy is signalled
EXIT_BOUND = 1.0  # seconds from the signal to the reaped exit (spec: promptly, < 1 s)


# ---------------------------------------------------------------------------- helpers


@dataclass
class Bed:
    """One test's addresses: a fresh /24 of loopback that no other socket on the host uses."""

    net: Subnet
    space: PortSpace
    _clients: Iterator[str] = field(init=False)

    # Connections to one address and port that a test may open within a TIME_WAIT period.
    FLOOR: ClassVar[int] = 4000

    def __post_init__(self) -> None:
        self._clients = self.net.clients()

    @property
    def proxy(self) -> str:
        return self.net.proxy

    @property
    def backend(self) -> str:
        return self.net.backend

    def free_port(self, kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
        return free_port(kind, self.net.proxy)

    def connect(self, port: int, timeout: float | None = 5.0) -> socket.socket:
        """A client connection to the proxy, from the next client address in turn."""
        return connect_from(next(self._clients), (self.proxy, port), timeout)

    def udp_client(self) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((next(self._clients), 0))  # a distinct client address and port: a distinct flow
        s.setblocking(False)
        return s

    def sized(self, wanted: int) -> int:
        """`wanted` connections to one address and port, or what the ephemeral range allows."""
        return min(wanted, self.space.ephemeral * 3 // 4)


@pytest.fixture
def bed() -> Bed:
    """A fresh loopback /24, after checking that the kernel's port space can carry the load."""
    space = port_space()
    report(port_space=space.describe())
    if space.ephemeral < Bed.FLOOR:
        pytest.fail(
            f"this machine cannot carry the stress load, not a proxy failure: {space.describe()}"
            f"; widen net.ipv4.ip_local_port_range to at least {Bed.FLOOR} ports"
        )
    return Bed(fresh_subnet(), space)


def start_proxy(args: Sequence[str], *, nofile: int | None = None) -> ProxyProcess:
    """A standalone pyproxy with captured stderr, optionally under `prlimit --nofile=N:N` (soft
    and hard: pyproxy raises its soft limit to the hard one at startup). Standalone, because
    these tests watch the serving process itself (shared mode is stressed in test_proxy_shared).
    """
    args = [*args, "-mode", "standalone"]
    if nofile is None:
        return ProxyProcess(args, capture_stderr=True).ready()
    prlimit = require_binary("prlimit")
    wrapped = [f"--nofile={nofile}:{nofile}", pyproxy_path(), *args]
    return ProxyProcess(wrapped, binary=prlimit, capture_stderr=True).ready()


def stderr_of(proxy: ProxyProcess) -> str:
    """The proxy's whole stderr; kills it first if it is still running."""
    if proxy.proc.poll() is None:
        proxy.proc.kill()
        proxy.proc.wait(5)
    return proxy.proc.read_stderr()


def assert_alive(proxy: ProxyProcess, when: str) -> None:
    rc = proxy.proc.poll()
    if rc is not None:
        pytest.fail(f"pyproxy exited with status {rc} {when}; stderr:\n{stderr_of(proxy)[-4000:]}")


def stop_cleanly(proxy: ProxyProcess) -> str:
    """SIGINT, exit status 0, and a stderr without tracebacks; returns the stderr."""
    rc = proxy.stop(signal.SIGINT, timeout=5)
    err = proxy.proc.read_stderr()
    assert rc == 0, f"exit status {rc} after SIGINT; stderr:\n{err[-4000:]}"
    assert "Traceback" not in err, err[-4000:]
    assert "relay error" not in err, err[-4000:]  # the relay's last-resort catch-all fired
    return err


def signal_and_time(proxy: ProxyProcess, sig: int) -> tuple[int, float]:
    """Send `sig`; the exit status and the seconds until the process was reaped."""
    started = time.monotonic()
    proxy.proc.send_signal(sig)
    try:
        rc = proxy.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pyproxy ignored {signal.Signals(sig).name} for 10 s under load")
    return rc, time.monotonic() - started


def http_get(bed: Bed, port: int, timeout: float = 5.0) -> bytes:
    """One request on a new connection, read to EOF."""
    with bed.connect(port, timeout) as s:
        s.sendall(REQUEST_CLOSE)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def assert_served(bed: Bed, port: int, when: str) -> None:
    reply = http_get(bed, port)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), f"{when}: {reply[:200]!r}"
    assert reply.endswith(b"\r\n\r\n" + HTTP_BODY), f"{when}: {reply[-200:]!r}"


WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass
class WrkTotals:
    rounds: int = 0
    requests: int = 0
    non_2xx: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rates: list[float] = field(default_factory=list)

    def add(self, out: str) -> None:
        m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", out, re.MULTILINE)
        assert m, f"cannot parse wrk output:\n{out}"
        self.rounds += 1
        self.requests += int(m[1])
        seconds = float(m[2]) * WRK_UNITS[m[3]]
        self.rates.append(int(m[1]) / seconds)
        if m2 := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
            self.non_2xx += int(m2[1])
        if m3 := re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
        ):
            for kind, n in zip(("connect", "read", "write", "timeout"), m3.groups(), strict=True):
                self.errors[kind] += int(n)


def wrk_cmd(wrk: str, host: str, port: int, *, connections: int = 50, seconds: int) -> list[str]:
    """Two threads, one request per connection (the backend closes after each response)."""
    return [
        wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-H", "Connection: close",
        f"http://{host}:{port}/",
    ]  # fmt: skip


def run_wrk(cmd: Sequence[str], seconds: int) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    assert done.returncode == 0, f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def many_fds() -> Iterator[None]:
    """Room in the test process for LOAD clients plus the backend's LOAD accepted sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if want < 3 * LOAD:
        pytest.fail(f"hard RLIMIT_NOFILE {hard} is too low for {LOAD} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def probe(sock: socket.socket, timeout: float = 5.0) -> str:
    """Send one byte through an echo path: 'served', 'refused' (EOF or reset), or 'hang'."""
    sock.settimeout(timeout)
    try:
        sock.sendall(b"x")
        data = sock.recv(16)
    except (ConnectionResetError, BrokenPipeError):
        return "refused"
    except TimeoutError:
        return "hang"
    if data == b"x":
        return "served"
    return "refused" if data == b"" else f"unexpected {data!r}"


def udp_clients(bed: Bed, count: int) -> list[socket.socket]:
    return [bed.udp_client() for _ in range(count)]


_exchanges = itertools.count()


def udp_exchange(
    socks: Sequence[socket.socket],
    address: tuple[str, int],
    *,
    batch: int,
    tries: int,
    wait: float,
) -> set[int]:
    """Send one datagram from each socket through the proxy; the indexes that got the echo.

    Batches keep the proxy's receive buffer from overflowing; unanswered sockets of a batch are
    retried `tries` times (UDP may drop, the proxy too when it has no descriptor left).
    """
    token = next(_exchanges)  # a late echo from an earlier exchange must not count
    answered: set[int] = set()
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    with select.epoll() as ep:
        for s in socks:
            ep.register(s.fileno(), select.EPOLLIN)
        for start in range(0, len(socks), batch):
            group = range(start, min(start + batch, len(socks)))
            for _ in range(tries):
                pending = [i for i in group if i not in answered]
                if not pending:
                    break
                for i in pending:
                    try:
                        socks[i].sendto(b"%d/%d" % (token, i), address)
                    except OSError as e:
                        if e.errno not in (errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS):
                            raise
                deadline = time.monotonic() + wait
                while any(i not in answered for i in group):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    for fd, _ in ep.poll(left):
                        i = by_fd[fd]
                        try:
                            while data := socks[i].recv(64):
                                if data == b"%d/%d" % (token, i):
                                    answered.add(i)
                        except (BlockingIOError, ConnectionRefusedError):
                            pass
    return answered


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


def report(**figures: object) -> None:
    """Figures for the log (visible with -s or in the captured output of a failure)."""
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


# ---------------------------------------------------------------------------- 1. churn


@pytest.mark.slow
def test_connection_churn(bed: Bed, loop_name: str, relay_name: str) -> None:
    """wrk -c50 with `Connection: close`: tens of thousands of connections, none lost."""
    wrk = require_binary("wrk")
    port = bed.free_port()
    with TcpBackend("http", bed.backend) as backend:
        args = [*tcp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-relay", relay_name]) as proxy:
            assert_served(bed, port, "before load")  # the loop is up and the pipe pool primed
            baseline = quiet_fds(proxy.proc.pid)
            totals = WrkTotals()
            target = bed.sized(TARGET_REQUESTS)
            started = time.monotonic()
            while totals.rounds < MIN_ROUNDS or (
                totals.requests < target and time.monotonic() - started < CHURN_BUDGET
            ):
                out = run_wrk(wrk_cmd(wrk, bed.proxy, port, seconds=ROUND_SECONDS), ROUND_SECONDS)
                assert_alive(proxy, f"during wrk round {totals.rounds + 1}")
                totals.add(out)
                assert_served(bed, port, f"after wrk round {totals.rounds}")
                after = fds_settled(proxy.proc.pid, baseline, relay_name)
            report(
                requests=totals.requests,
                rounds=totals.rounds,
                rates=[round(r) for r in totals.rates],
                errors=dict(totals.errors),
                non_2xx=totals.non_2xx,
                backend_requests=backend.requests,
                fds_before=dict(baseline),
                fds_after=dict(after),
            )
            assert totals.requests >= target * REQUIRED_SHARE, totals
            assert totals.non_2xx == 0, totals
            # A backend that closes can at worst cost a read error now and then; a lost or
            # stalled connection through the proxy shows up as connect/write/timeout errors.
            hard = totals.errors["connect"] + totals.errors["write"] + totals.errors["timeout"]
            assert hard <= totals.requests // 1000, totals
            assert totals.errors["read"] <= totals.requests // 100, totals

            # Finally SIGINT in the middle of the churn: exit 0, promptly, no traceback.
            cmd = wrk_cmd(wrk, bed.proxy, port, seconds=20)
            with subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ) as load:
                try:
                    time.sleep(1.5)
                    assert_alive(proxy, "under the final churn")
                    rc, latency = signal_and_time(proxy, signal.SIGINT)
                finally:
                    load.kill()
            err = proxy.proc.read_stderr()
            report(sigint_under_churn=f"{latency:.3f}s", exit_status=rc)
            assert rc == 0, f"exit status {rc} after SIGINT under churn; stderr:\n{err[-4000:]}"
            assert latency < EXIT_BOUND, f"SIGINT under churn took {latency:.3f} s"
            assert "Traceback" not in err, err[-4000:]
            assert "relay error" not in err, err[-4000:]


def abort_connections(bed: Bed, port: int, count: int, failures: list[str]) -> None:
    """Connections that end with RST at different stages of a request.

    A failure names the stage: a connect that times out never reached the proxy's accept
    queue (the kernel's doing), a response that times out is a request the proxy lost.
    """
    linger = struct.pack("ii", 1, 0)
    for i in range(count):
        stage = "connect"
        try:
            with bed.connect(port) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                if i % 3 >= 1:
                    stage = "request"
                    s.sendall(REQUEST_KEEP)
                if i % 3 == 2:
                    stage = "response"
                    if not s.recv(1):
                        failures.append("response: EOF instead of a response")
        except OSError as e:
            failures.append(f"{stage}: {e!r}")


@pytest.mark.slow
def test_abortive_churn(bed: Bed, loop_name: str, relay_name: str) -> None:
    """Clients that reset before, during and after a request leave nothing behind."""
    port = bed.free_port()
    with TcpBackend("http", bed.backend) as backend:
        args = [*tcp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-relay", relay_name]) as proxy:
            assert_served(bed, port, "before load")
            baseline = quiet_fds(proxy.proc.pid)
            failures: list[str] = []
            aborts = bed.sized(ABORTS)
            threads = [
                threading.Thread(target=abort_connections, args=(bed, port, aborts // 4, failures))
                for _ in range(4)
            ]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            elapsed = time.monotonic() - started
            assert_alive(proxy, f"after {aborts} reset connections")
            assert not failures, Counter(failures)
            assert_served(bed, port, "after the resets")
            after = fds_settled(proxy.proc.pid, baseline, relay_name)
            report(
                seconds=round(elapsed, 2),
                backend_accepted=backend.accepted,
                fds_before=dict(baseline),
                fds_after=dict(after),
            )
            stop_cleanly(proxy)


# ---------------------------------------------------------------------------- 2. fd exhaustion


def test_tcp_fd_exhaustion(bed: Bed, loop_name: str, relay_name: str) -> None:
    """At the fd limit extra clients are closed (not left hanging) and the proxy recovers."""
    port = bed.free_port()
    with TcpBackend("echo", bed.backend) as backend:
        args = [*tcp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-relay", relay_name], nofile=LOW_NOFILE) as proxy:
            with bed.connect(port) as warm:
                assert probe(warm) == "served"
            baseline = quiet_fds(proxy.proc.pid)
            clients: list[socket.socket] = []
            outcomes = []
            try:
                for _ in range(LOW_NOFILE):  # each relayed client costs two descriptors
                    s = bed.connect(port)
                    clients.append(s)
                    outcome = probe(s)
                    outcomes.append(outcome)
                    if outcome == "hang":
                        pytest.fail(f"client {len(outcomes)} hangs at the fd limit: {outcomes}")
                assert_alive(proxy, "at the fd limit")
                tally = Counter(outcomes)
                assert set(tally) <= {"served", "refused"}, tally
                capacity = tally["served"]
                assert 0 < capacity < LOW_NOFILE, f"the limit was never reached: {tally}"
                served = [s for s, o in zip(clients, outcomes, strict=True) if o == "served"]
                # Refusing newcomers must not break the connections already relayed.
                still = Counter(probe(s) for s in served)
                assert still == {"served": capacity}, still
                held = fd_kinds(proxy.proc.pid)
            finally:
                for s in clients:
                    s.close()
            after = fds_settled(proxy.proc.pid, baseline, relay_name)
            # Recovery: a new connection is relayed end to end, and the full capacity is back.
            again = [bed.connect(port) for _ in range(capacity)]
            try:
                recovered = Counter(probe(s) for s in again)
            finally:
                for s in again:
                    s.close()
            report(
                capacity=capacity,
                outcomes=dict(tally),
                recovered=dict(recovered),
                fds_baseline=dict(baseline),
                fds_at_limit=dict(held),
                fds_after=dict(after),
            )
            assert recovered == {"served": capacity}, recovered
            assert_alive(proxy, "after recovery")
            stop_cleanly(proxy)


@pytest.mark.slow
def test_churn_at_fd_limit(bed: Bed, loop_name: str, relay_name: str) -> None:
    """wrk -c200 against a proxy that can hold about 25 connections: it refuses, never dies."""
    wrk = require_binary("wrk")
    port = bed.free_port()
    with TcpBackend("http", bed.backend) as backend:
        args = [*tcp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-relay", relay_name], nofile=LOW_NOFILE) as proxy:
            assert_served(bed, port, "before load")
            baseline = quiet_fds(proxy.proc.pid)
            out = run_wrk(wrk_cmd(wrk, bed.proxy, port, connections=200, seconds=3), 3)
            assert_alive(proxy, "after churn at the fd limit")
            totals = WrkTotals()
            totals.add(out)
            after = fds_settled(
                proxy.proc.pid, baseline, relay_name
            )  # the refused ones are all gone
            assert_served(bed, port, "after churn at the fd limit")
            report(
                requests=totals.requests,
                errors=dict(totals.errors),
                fds_before=dict(baseline),
                fds_after=dict(after),
            )
            # Refused clients count as read errors; the rest must have been served normally.
            assert totals.requests >= 1000, totals
            assert totals.non_2xx == 0, totals
            assert totals.errors["timeout"] <= totals.requests // 1000, totals  # never hanging
            stop_cleanly(proxy)


def test_tcp_fd_exhaustion_idle_clients(bed: Bed, loop_name: str, relay_name: str) -> None:
    """Idle clients beyond the fd limit are closed at once; those held are relayed when used.

    Unlike the test above, no byte has crossed the proxy before the limit is reached, so the
    splice relay has no pipe cached when the held connections start talking.
    """
    port = bed.free_port()
    with TcpBackend("echo", bed.backend) as backend:
        args = [*tcp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-relay", relay_name], nofile=LOW_NOFILE) as proxy:
            # The first client stays open and silent: even its EOF would go through splice and
            # leave a pipe in the pool. The baseline is the table without its two sockets.
            clients = [bed.connect(port)]
            try:
                wait_until(lambda: backend.accepted == 1, "the first connection is relayed")
                baseline = quiet_fds(proxy.proc.pid) - Counter(socket=2)
                clients += [bed.connect(port) for _ in range(63)]
                # Every client is either relayed to the backend or closed by the proxy.
                readable: set[int] = set()
                with select.epoll() as ep:
                    by_fd = {s.fileno(): i for i, s in enumerate(clients)}
                    for s in clients:
                        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
                    deadline = time.monotonic() + 10
                    while (
                        len(readable) + backend.open_connections < len(clients)
                        and time.monotonic() < deadline
                    ):
                        readable.update(by_fd[fd] for fd, _ in ep.poll(0.1))
                time.sleep(0.2)  # nothing more is on its way
                held = backend.open_connections
                assert_alive(proxy, "at the fd limit")
                assert 0 < held < len(clients), f"{held} of {len(clients)} relayed"
                assert len(readable) + held == len(clients), (
                    f"{len(clients) - held - len(readable)} clients neither relayed nor closed"
                )
                assert {probe(clients[i], 2) for i in readable} == {"refused"}
                outcomes = [probe(s) for i, s in enumerate(clients) if i not in readable]
                report(held=held, refused=len(readable), outcomes=dict(Counter(outcomes)))
                assert outcomes == ["served"] * held, Counter(outcomes)
            finally:
                for s in clients:
                    s.close()
            fds_settled(proxy.proc.pid, baseline, relay_name)
            with bed.connect(port) as s:
                assert probe(s) == "served"
            stop_cleanly(proxy)


@pytest.mark.slow
def test_udp_fd_exhaustion(bed: Bed, loop_name: str) -> None:
    """UDP at the fd limit: new flows are dropped, not fatal; once flows expire, served again."""
    port = bed.free_port(socket.SOCK_DGRAM)
    with UdpEcho(bed.backend) as backend:
        args = [*udp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-udp-timeout", "1s"], nofile=LOW_NOFILE) as proxy:
            first = udp_clients(bed, 4 * LOW_NOFILE)
            again = udp_clients(bed, 2 * LOW_NOFILE)
            try:
                warm = udp_exchange(first[:1], (bed.proxy, port), batch=1, tries=10, wait=0.2)
                assert warm == {0}, "the proxy never answered"
                # The baseline is the table once that first flow has expired.
                with_flow = quiet_fds(proxy.proc.pid)["socket"]
                baseline = wait_fds(proxy.proc.pid, lambda k: k["socket"] < with_flow)
                assert baseline["socket"] == with_flow - 1, "the first flow never expired"
                # Sent in about 0.5 s, well inside the 1 s timeout, so flows pile up.
                answered = udp_exchange(first, (bed.proxy, port), batch=32, tries=1, wait=0.05)
                assert_alive(proxy, "at the fd limit")
                capacity = len(answered)
                assert 0 < capacity < len(first), f"{capacity} of {len(first)} flows answered"
                # Old flows expire and give their descriptors back...
                after = fds_settled(proxy.proc.pid, baseline, "copy")
                # ... and then new flows are served: some whose first datagram was dropped,
                # then fresh client ports.
                refused = [s for i, s in enumerate(first) if i not in answered][:16]
                second = udp_exchange(
                    [*refused, *again], (bed.proxy, port), batch=16, tries=3, wait=0.2
                )
                assert set(range(len(refused))) <= second, "dropped clients are not served now"
                assert len(second) >= min(capacity, len(refused) + len(again)) - 2, second
                report(
                    capacity=capacity,
                    first_burst=len(first),
                    second_served=len(second),
                    backend_peers=len(backend.peers),
                    fds_baseline=dict(baseline),
                    fds_after=dict(after),
                )
            finally:
                for s in (*first, *again):
                    s.close()
            assert_alive(proxy, "after recovery")
            stop_cleanly(proxy)


# ---------------------------------------------------------------------------- 3. signals

SIGNALS = pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])


@SIGNALS
@pytest.mark.usefixtures("many_fds")
def test_tcp_signal_under_load(bed: Bed, loop_name: str, relay_name: str, sig: int) -> None:
    """With 1000 relayed TCP connections, the signal ends the process with 0 within 1 s."""
    port = bed.free_port()
    with TcpBackend("echo", bed.backend) as backend:
        args = [*tcp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy([*args, "-relay", relay_name]) as proxy:
            clients: list[socket.socket] = []
            try:
                for _ in range(LOAD):
                    s = bed.connect(port, timeout=10)
                    s.sendall(b"x")
                    clients.append(s)
                for s in clients:  # every connection is relayed end to end
                    assert s.recv(1) == b"x"
                held = fd_kinds(proxy.proc.pid)
                assert held["socket"] >= 2 * LOAD, held
                assert backend.open_connections == LOAD
                rc, latency = signal_and_time(proxy, sig)
                # docker-proxy drops established connections: every client reads EOF (or RST).
                closed = 0
                for s in clients:
                    s.settimeout(5)
                    try:
                        closed += s.recv(1) == b""
                    except ConnectionResetError:
                        closed += 1
            finally:
                for s in clients:
                    s.close()
            err = proxy.proc.read_stderr()
            report(sockets_held=held["socket"], exit_status=rc, exit_latency=f"{latency:.3f}s")
            assert rc == 0, f"exit status {rc}; stderr:\n{err[-4000:]}"
            assert latency < EXIT_BOUND, f"{signal.Signals(sig).name} took {latency:.3f} s"
            assert closed == LOAD
            assert "Traceback" not in err, err[-4000:]


@SIGNALS
@pytest.mark.usefixtures("many_fds")
def test_udp_signal_under_load(bed: Bed, loop_name: str, sig: int) -> None:
    """With 1000 UDP flows tracked, the signal ends the process with 0 within 1 s."""
    port = bed.free_port(socket.SOCK_DGRAM)
    with UdpEcho(bed.backend) as backend:
        args = [*udp_args(bed.proxy, port, bed.backend, backend.port), "-loop", loop_name]
        with start_proxy(args) as proxy:
            clients = udp_clients(bed, LOAD)
            try:
                answered = udp_exchange(clients, (bed.proxy, port), batch=100, tries=10, wait=0.3)
                assert len(answered) == LOAD, f"only {len(answered)} flows answered"
                held = fd_kinds(proxy.proc.pid)
                assert held["socket"] >= LOAD, held
                assert len(backend.peers) >= LOAD  # one backend source port per flow
                rc, latency = signal_and_time(proxy, sig)
            finally:
                for s in clients:
                    s.close()
            err = proxy.proc.read_stderr()
            report(sockets_held=held["socket"], exit_status=rc, exit_latency=f"{latency:.3f}s")
            assert rc == 0, f"exit status {rc}; stderr:\n{err[-4000:]}"
            assert latency < EXIT_BOUND, f"{signal.Signals(sig).name} took {latency:.3f} s"
            assert "Traceback" not in err, err[-4000:]


# ---------------------------------------------------------------------------- 4. shared mode


@pytest.mark.slow
def test_shared_hub_churn(bed: Bed, loop_name: str) -> None:
    """The hub under churn: it survives, keeps serving, and gives every descriptor back."""
    wrk = require_binary("wrk")
    group = f"stress-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYPROXY_HUB": group}
    ports = [bed.free_port(), bed.free_port()]
    try:
        with TcpBackend("http", bed.backend) as backend, contextlib.ExitStack() as stack:
            proxies = [
                stack.enter_context(
                    ProxyProcess(
                        [*tcp_args(bed.proxy, p, bed.backend, backend.port), "-loop", loop_name,
                         "-mode", "shared"],
                        env=env,
                    ).ready()
                )
                for p in ports
            ]  # fmt: skip
            (hub,) = hub_pids(group)
            for p in ports:
                assert_served(bed, p, "before load")
            baseline = quiet_fds(hub)
            totals = WrkTotals()
            for _ in range(MIN_ROUNDS):
                totals.add(
                    run_wrk(wrk_cmd(wrk, bed.proxy, ports[0], seconds=ROUND_SECONDS), ROUND_SECONDS)
                )
                assert hub_pids(group) == [hub], "the hub died under churn"
                assert_served(bed, ports[1], "on the other port, after a round")
            report(requests=totals.requests, errors=dict(totals.errors), fds=dict(baseline))
            assert totals.requests >= bed.sized(TARGET_REQUESTS) * REQUIRED_SHARE / 2, totals
            assert totals.non_2xx == 0, totals
            fds_settled(hub, baseline, "auto")  # the hub's default relay
            for proxy in proxies:
                assert proxy.stop() == 0
            for p in ports:
                with pytest.raises(OSError):
                    http_get(bed, p, timeout=1.0)
    finally:
        kill_hubs(group)
