"""Shared mode, the invocation's side: hand the bound listener to the hub, then wait as a shell.

dockerd starts one proxy process per published port and IP family: a 101-port range is 202
processes. A Python interpreter each would cost tens of megabytes apiece, so in shared mode an
invocation binds (or adopts) its socket exactly as in standalone mode, passes it over a unix
socket to one hub process per user and loop, reports `0\\n` once the hub serves it, and then
execs a few-hundred-kilobyte `/bin/sh` that stands in for the proxy towards dockerd:

- SIGINT or SIGTERM: the shell tells the hub to stop serving the port, waits for the hub's
  answer (so the port is free when dockerd sees the exit), and exits 0;
- if the hub dies, its end of the connection closes and the shell execs a standalone pyproxy
  on the same listening socket, which it kept: one crash never takes the ports down.

Everything here runs before readiness, so it imports only builtin modules (see proxy.record).
"""

from __future__ import annotations

import _socket
import fcntl
import os
import stat
import sys
import zlib

from proxy import __version__
from proxy.errors import ProxyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from proxy.config import ProxyConfig

REPLY_TIMEOUT = 5.0
READY_FD, LISTENER_FD, HUB_FD = 3, 4, 5
# With several mappings (-map), listener i > 0 waits on fd HUB_FD + i: the shell's own
# redirections only reach single-digit fds, so the hub's stays at 5 and the rest sit above it.


def listener_fd(index: int) -> int:
    """Where the stand-in keeps mapping `index`'s listener (and a fallback adopts it from)."""
    return LISTENER_FD if index == 0 else HUB_FD + index


def is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


# The shell runs as `$0 -c SCRIPT $0 ARGS...` with the invocation's own $0 and arguments, so
# `ps` shows what dockerd started. The shell, not Python, reports readiness, once its trap is
# set: exec resets signal handlers, and a SIGINT sent in between would kill it with a non-zero
# status. Falling back, -use-listen-fd goes first because Go-style parsing stops at the first
# non-flag word; -mode last so it wins over an explicit one where parsing reaches it.
# The wait must be race-free. dash runs a trap only between commands or when a blocking call
# returns EINTR, and its `read` checks for a caught signal before read(2) starts to block: a
# stop that lands in between waited for the hub to speak, which it never does (a stop right
# after readiness hung one time in twenty). dash's `wait` blocks in sigsuspend, which has no
# such window, so a child reads the hub's connection (EOF: the hub died) and the shell waits
# for it. The trap ends that reader before it asks the hub to stop, so that the reader cannot
# take the hub's answer. With SIGKILL: a fresh child still runs the shell's own handlers until
# it resets them, and a SIGTERM landing then was swallowed (the trap's `wait` hung). A stop can
# also come before the reader exists: `$!` is empty then, and must not reach `kill`, whose
# usage error aborts the rest of the trap in dash.
WAITER_TRAP = (
    'trap \'[ -z "$!" ] || { kill -9 $! 2>/dev/null; wait $! 2>/dev/null; }; '
    f"echo stop >&{HUB_FD}; read -r _ <&{HUB_FD}; exit 0' INT TERM\n"
)
WAITER_READY = f"printf '0\\n' >&{READY_FD}; exec {READY_FD}>&-\n"
# The reader closes the listeners it inherited, so that only the stand-in and the hub hold a
# port (`ss -p` shows them, as dockerd's tests do): with `exec`, since a redirection on a command
# would keep a saved copy. Redirections reach single-digit fds only, so with more than five
# mappings the rest stay open in the reader until it exits with the stand-in.
WAITER_WAIT = f"""\
{{{{ exec{{closes}}; read -r _ <&{HUB_FD}; }}}} &
wait $!
exec {HUB_FD}<&-
exec {{python}} -m proxy -use-listen-fd "$@" -mode=standalone
"""


class HandoffError(ProxyError):
    """The hub could not take the mapping; the caller serves it standalone instead."""


def hub_address(loop: str) -> bytes:
    """The hub's abstract unix socket: one per user, loop, installed pyproxy and PYPROXY_HUB.

    Abstract names live in the network namespace, so each namespace gets its own hub.
    PYPROXY_HUB (in dockerd's environment) gives one daemon a hub of its own.
    """
    group = os.environ.get("PYPROXY_HUB", "")
    tag = f"{os.getuid()}|{loop}|{sys.executable}|{__version__}|{group}".encode()
    return b"\0pyproxy-hub-%08x" % zlib.crc32(tag)


def connect(address: bytes) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        return None
    return sock


def start_hub(loop: str) -> None:
    """Spawn a hub and wait until it listens (it forks away once its socket is bound)."""
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


def register(config: ProxyConfig, listeners: list[_socket.socket]) -> _socket.socket:
    """Give every listener to the hub, starting one if needed; return the connection to keep.

    One `register` message per mapping, each with its socket, answered `ok` once served; the
    hub drops all of them when the connection ends or says `stop`.
    """
    address = hub_address(config.loop)
    hub = connect(address)
    if hub is None:
        start_hub(config.loop)
        hub = connect(address)
        if hub is None:
            raise HandoffError("no hub is listening")
    try:
        hub.settimeout(REPLY_TIMEOUT)
        for mapping, listener in zip(config.mappings, listeners, strict=True):
            message = ("register " + " ".join(config.args_for(mapping)) + "\n").encode()
            fd = listener.fileno().to_bytes(4, sys.byteorder)
            hub.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd)])
            reply = hub.recv(4096)
            if reply != b"ok\n":
                raise HandoffError(
                    f"hub refused the mapping: {reply.decode(errors='replace').strip()}"
                )
    except OSError as e:
        hub.close()
        raise HandoffError(f"hub: {e}") from None
    except HandoffError:
        hub.close()  # the hub drops what it took so far with the connection
        raise
    return hub


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def become_waiter(
    hub: _socket.socket,
    listeners: list[_socket.socket],
    ready_fd: int | None,
    args: list[str],
) -> None:
    """Exec the stand-in shell: readiness pipe on fd 3, listeners on 4 and 6.., hub on 5."""
    hub.setblocking(True)  # the timeout set O_NONBLOCK, and the shell's `read` needs blocking
    sources = [(hub.fileno(), HUB_FD)]
    sources += [(sock.fileno(), listener_fd(i)) for i, sock in enumerate(listeners)]
    if ready_fd is not None:
        sources.append((ready_fd, READY_FD))
    # Stage everything above the targets first, so placing one cannot clobber another.
    floor = max(target for _, target in sources) + 1
    staged = [(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor), target) for fd, target in sources]
    for fd, target in staged:
        os.dup2(fd, target)  # dup2 clears close-on-exec on the target
        os.close(fd)
    script = (
        WAITER_TRAP
        + (WAITER_READY if ready_fd is not None else "")
        + WAITER_WAIT.format(
            python=_quote(sys.executable),
            closes="".join(
                f" {fd}<&-" for fd in map(listener_fd, range(len(listeners))) if fd < 10
            ),
        )
    )
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "pyproxy"
    os.execv("/bin/sh", [argv0, "-c", script, argv0, *args])


def bind_hub(loop: str) -> _socket.socket | None:
    """The hub's control socket, or None when another hub already holds the address."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.bind(hub_address(loop))
        sock.listen(4096)
    except OSError:
        sock.close()
        return None
    return sock
