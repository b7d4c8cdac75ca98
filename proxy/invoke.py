"""Shared mode, the invocation's side: hand this process's ports to the hub, then become the
stand-in (proxy.standin).

dockerd starts one proxy process per published port and IP family, and waits for each to be
ready: a 101-port range is 202 processes, one after another. So an invocation in shared mode
does no proxy work at all. It writes one line to the hub's FIFO naming its pid and two pipes it
made, and the hub, a warm process that has the whole proxy imported, takes the rest from the
kernel: the command line from /proc/PID/cmdline, the listening sockets dockerd passed with
`-use-listen-fd` (or binds them itself) and the pipes with pidfd_getfd(2). It answers `ok N`
once it serves every port (N: how many listeners it took from us, which we keep for a
fallback), or `ok 0 FD...` naming the sockets it bound, of which we take copies the same way:
either way the stand-in holds its ports, as the docker-proxy it replaces did; `local` when the
invocation should run itself (standalone mode, -h, -v, a bad flag: the in-process path reports
those exactly), `loop NAME` when another loop's hub should serve it, or `error MESSAGE` for a
port it cannot serve. This runs before readiness, so it imports `os`, `select`, `sys` and `zlib`
only.
"""

import os
import select
import sys
import zlib

from proxy import __version__
from proxy.standin import become_stand_in, listener_fd

VERSION = b"pyproxy-hand-over-1"
REPLY_TIMEOUT = 5.0
DEFAULT_LOOP = "epoll"
MAX_LINE = 512  # under PIPE_BUF: one atomic write per request


def hub_dir() -> str:
    """Where hubs keep their FIFOs: /run/pyproxy for root, /tmp/pyproxy-UID for others."""
    uid = os.geteuid()
    return "/run/pyproxy" if uid == 0 else f"/tmp/pyproxy-{uid}"


def hub_paths(loop: str) -> tuple[str, str]:
    """The FIFO and pid file of the hub for this user, network namespace, loop, installed
    pyproxy and PYPROXY_HUB (in dockerd's environment: one daemon gets a hub of its own).
    A hub proxies in its own network namespace, so each namespace gets its own."""
    netns = os.stat("/proc/self/ns/net").st_ino
    group = os.environ.get("PYPROXY_HUB", "")
    tag = zlib.crc32(f"{os.geteuid()}|{sys.executable}|{__version__}|{group}".encode())
    base = os.path.join(hub_dir(), f"hub-{netns:x}-{tag:08x}-{loop}")
    return f"{base}.fifo", f"{base}.pid"


def wants_hub(argv: list[str], has_pipe: bool) -> bool:
    """Whether to ask a hub: PYPROXY_MODE=shared, or auto with a parent waiting on fd 3, or a
    `-mode shared` flag (seen roughly here; the hub parses the flags for real and answers
    `local` when they mean standalone)."""
    mode = os.environ.get("PYPROXY_MODE", "auto")
    return mode == "shared" or (mode == "auto" and has_pipe) or _flag(argv, "mode") == "shared"


def _flag(argv: list[str], name: str) -> str | None:
    """The last value of `-name v`, `-name=v`, `--name v` or `--name=v` in argv, if any (the
    last repeat wins, as in Go)."""
    found = None
    for i, word in enumerate(argv):
        for prefix in (f"-{name}", f"--{name}"):
            if word == prefix and i + 1 < len(argv):
                found = argv[i + 1]
            elif word.startswith(prefix + "="):
                found = word[len(prefix) + 1 :]
    return found


def encode(pid: int, argc: int, answer_fd: int, command_fd: int, has_pipe: bool) -> bytes:
    """The request: `argc` is len(sys.argv), the tail of the command line that is ours."""
    return b"%s %d %d %d %d %d\n" % (VERSION, pid, argc, answer_fd, command_fd, has_pipe)


def decode(line: bytes) -> tuple[int, int, int, int, bool]:
    """(pid, argc, answer_fd, command_fd, has_pipe); ValueError if it is not a request."""
    fields = line.split()
    if len(fields) != 6 or fields[0] != VERSION:
        raise ValueError("not a pyproxy hand-over request")
    pid, argc, answer_fd, command_fd, has_pipe = (int(f) for f in fields[1:])
    if pid <= 0 or argc < 1 or min(answer_fd, command_fd) < 0 or has_pipe not in (0, 1):
        raise ValueError("a request with a bad pid, argument count or descriptor")
    return pid, argc, answer_fd, command_fd, bool(has_pipe)


def hand_over(ready_fd: int | None) -> str | None:
    """Have a hub serve this process's ports and exec the stand-in (no return); or return None
    (run in this process) or the message of a port the hub could not serve."""
    loop = _flag(sys.argv[1:], "loop") or DEFAULT_LOOP
    for _ in range(2):  # the hub of the loop we guessed may name another
        answer = _ask(loop, ready_fd)
        if answer is None or answer == b"local":
            return None
        kind, _, rest = answer.partition(b" ")
        if kind == b"loop":
            loop = rest.decode(errors="replace")
            continue
        if kind == b"error":
            return rest.decode(errors="replace")
        return None  # not an answer we know: serve it ourselves
    return None


def _ask(loop: str, ready_fd: int | None) -> bytes | None:
    """One request to the loop's hub (started if none serves); its answer, or None."""
    fifo_path, pid_path = hub_paths(loop)
    fifo = _open_fifo(fifo_path)
    if fifo is None:
        start_hub(loop)
        fifo = _open_fifo(fifo_path)
        if fifo is None:
            return None
    try:
        try:
            with open(pid_path, "rb") as f:
                hub = os.pidfd_open(int(f.read()))
        except (OSError, ValueError):
            return None
        try:
            return _request(fifo, hub, ready_fd)
        finally:
            os.close(hub)
    finally:
        os.close(fifo)


def serving(fifo_path: str) -> bool:
    """Whether a hub of ours reads this FIFO."""
    fd = _open_fifo(fifo_path)
    if fd is None:
        return False
    os.close(fd)
    return True


def _open_fifo(path: str) -> int | None:
    """The hub's FIFO for writing, if a hub of ours reads it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # ENXIO: nobody reads it (its hub died); ENOENT: none started
        return None
    if os.fstat(fd).st_uid != os.geteuid():
        os.close(fd)
        return None
    return fd


def _request(fifo: int, hub: int, ready_fd: int | None) -> bytes | None:
    answer_r, answer_w = os.pipe2(os.O_CLOEXEC)
    command_r, command_w = os.pipe2(os.O_CLOEXEC)
    ours = [answer_r, answer_w, command_r, command_w]
    try:
        line = encode(os.getpid(), len(sys.argv), answer_w, command_r, ready_fd is not None)
        try:
            os.write(fifo, line)
        except OSError:  # EAGAIN: a hub that stopped reading; EPIPE: one that just left
            return None
        answer = _first_line(answer_r, hub)
        if answer is None or not answer.startswith(b"ok"):
            return answer
        # Served: the hub holds its ends now (ours of them close with the exec).
        held, *bound = answer.split()[1:]
        listeners = [listener_fd(i) for i in range(int(held))]
        if bound:
            listeners = _take_listeners(hub, [int(fd) for fd in bound])
        become_stand_in(answer_r, command_w, listeners, ready_fd)
        raise AssertionError("unreachable: the stand-in replaced this process")
    finally:
        for fd in ours:
            os.close(fd)


def _take_listeners(hub: int, fds: list[int]) -> list[int]:
    """Copies of the ports the hub bound for us, so that the stand-in holds its ports as the
    docker-proxy it replaces did (and falls back on them); none if the hub refuses them."""
    from proxy.pidfd import pidfd_getfd  # noqa: PLC0415 - ctypes, on this path only

    taken: list[int] = []
    try:
        for fd in fds:
            taken.append(pidfd_getfd(hub, fd))
    except OSError:
        for fd in taken:
            os.close(fd)
        return []
    return taken


def _first_line(fd: int, hub: int) -> bytes | None:
    """The hub's first answer; None if it dies or says nothing within REPLY_TIMEOUT."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(hub, select.POLLIN)
    data = b""
    while b"\n" not in data:
        ready = {f for f, _ in poller.poll(REPLY_TIMEOUT * 1000)}
        if fd in ready:
            chunk = os.read(fd, MAX_LINE)
            if not chunk:
                return None
            data += chunk
        else:
            return None  # the hub died, or said nothing in time
    return data.partition(b"\n")[0]


def start_hub(loop: str) -> None:
    """Spawn a hub and wait until it reads its FIFO (it forks away once the FIFO is there)."""
    devnull = os.devnull
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "proxy", "-hub", "-loop", loop],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
        ],
        setsid=True,
    )
    os.waitpid(pid, 0)
