"""The harness's own clients, the same for every target: TCP ping-pong, UDP request/response,
and a connection holder that opens N verified TCP connections and keeps them open."""

import errno
import select
import socket
import time
from dataclasses import dataclass

Addr = tuple[str, int]


class LoadError(RuntimeError):
    pass


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class PingPong:
    p50_us: float
    p99_us: float
    mean_us: float
    count: int


def pingpong(addr: Addr, count: int, warmup: int, size: int = 64) -> PingPong:
    """One connection, `size` bytes out, the same back, `count` timed round trips."""
    payload = b"p" * size
    with socket.create_connection(addr, timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        send, recv_into = s.sendall, s.recv_into
        buf = bytearray(size)
        view = memoryview(buf)
        clock = time.perf_counter_ns
        rtts: list[float] = []
        for i in range(warmup + count):
            t0 = clock()
            send(payload)
            got = 0
            while got < size:
                n = recv_into(view[got:])
                if not n:
                    raise LoadError(f"connection closed after {i} round trips")
                got += n
            if i >= warmup:
                rtts.append((clock() - t0) / 1000)
    rtts.sort()
    return PingPong(percentile(rtts, 50), percentile(rtts, 99), sum(rtts) / len(rtts), len(rtts))


def udp_request_response(
    addr: Addr,
    sockets: int,
    window: int,
    seconds: float,
    *,
    size: int = 64,
    warmup: float = 0.2,
) -> float:
    """Responses per second: `sockets` connected UDP sockets, each keeping `window` requests
    in flight; a socket silent for 100 ms (a lost datagram) gets its window refilled."""
    payload = b"u" * size
    socks = []
    ep = select.epoll()
    try:
        for _ in range(sockets):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.connect(addr)
            s.setblocking(False)
            ep.register(s.fileno(), select.EPOLLIN)
        by_fd = {s.fileno(): s for s in socks}
        last = dict.fromkeys(by_fd, time.monotonic())

        def fill(s: socket.socket) -> None:
            for _ in range(window):
                try:
                    s.send(payload)
                except OSError:
                    return

        for s in socks:
            fill(s)
        start = time.monotonic()
        count_from, end = start + warmup, start + warmup + seconds
        counted = 0
        now = start
        while now < end:
            for fd, _ev in ep.poll(0.02):
                s = by_fd[fd]
                got = 0
                while True:
                    try:
                        s.recv(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # ECONNREFUSED from an ICMP error: try again later
                        break
                    got += 1
                    try:
                        s.send(payload)
                    except OSError:
                        pass
                if got:
                    last[fd] = now
                    if now >= count_from:
                        counted += got
            now = time.monotonic()
            for fd, s in by_fd.items():
                if now - last[fd] > 0.1:
                    last[fd] = now
                    fill(s)
        return counted / seconds
    finally:
        ep.close()
        for s in socks:
            s.close()


def open_connections(
    addr: Addr, count: int, *, already: int = 0, window: int = 8, timeout: float = 120.0
) -> list[socket.socket]:
    """Open `count` TCP connections, each verified end to end by a 1-byte echo, at most `window`
    in progress at once (socat's default backlog is 5). On failure, closes them and raises.
    `already` only numbers the connections in error messages (others opened before)."""
    done: list[socket.socket] = []
    pending: dict[int, tuple[socket.socket, bool]] = {}  # fd -> (sock, byte sent)
    ep = select.epoll()
    deadline = time.monotonic() + timeout
    try:
        while len(done) < count:
            while len(pending) < window and len(done) + len(pending) < count:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex(addr)
                if err not in (0, errno.EINPROGRESS):
                    s.close()
                    reason = errno.errorcode.get(err, str(err))
                    raise LoadError(f"{reason} after {already + len(done)} connections")
                pending[s.fileno()] = (s, False)
                ep.register(s.fileno(), select.EPOLLOUT)
            if time.monotonic() > deadline:
                raise LoadError(f"only {already + len(done)} connections after {timeout:g}s")
            for fd, ev in ep.poll(1.0):
                s, sent = pending[fd]
                if not sent:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err or ev & (select.EPOLLERR | select.EPOLLHUP):
                        reason = errno.errorcode.get(err, str(err))
                        raise LoadError(f"{reason} after {already + len(done)} connections")
                    s.send(b"x")
                    pending[fd] = (s, True)
                    ep.modify(fd, select.EPOLLIN)
                    continue
                try:
                    data = s.recv(16)
                except OSError as e:
                    raise LoadError(f"{e.strerror} after {already + len(done)} connections") from e
                if data != b"x":
                    raise LoadError(f"closed by the target after {already + len(done)} connections")
                ep.unregister(fd)
                del pending[fd]
                done.append(s)
        return done
    except BaseException:
        close_all(done)
        close_all([s for s, _ in pending.values()])
        raise
    finally:
        ep.close()


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()
    socks.clear()
