"""Shared mode's stand-in: the few-hundred-kilobyte `/bin/sh` an invocation execs once the hub
serves its ports, which stands in for the proxy towards dockerd.

- SIGINT or SIGTERM: the shell tells the hub to stop serving the ports, waits for the hub's
  answer (so the ports are free when dockerd sees the exit), and exits 0;
- if the hub dies, the answer pipe reads EOF and the shell execs a standalone pyproxy, on the
  listening sockets it kept when dockerd passed them (-use-listen-fd): one crash never takes
  those ports down. Ports the hub bound itself are bound again.

Runs before readiness, so it imports `fcntl`, `os` and `sys` only (and `signal` when a stop
signal was ignored at our start, which a shell could not undo).
"""

import fcntl
import os
import sys

READY_FD, LISTENER_FD, ANSWER_FD, COMMAND_FD = 3, 4, 5, 6
# The hub answers on ANSWER_FD (EOF: it died) and takes "stop" on COMMAND_FD. With several
# mappings (-map), listener i > 0 waits on fd COMMAND_FD + i: the shell's own redirections only
# reach single-digit fds, so the pipes stay at 5 and 6 and the rest sit above them.


def listener_fd(index: int) -> int:
    """Where an invocation keeps mapping `index`'s listener (and a fallback adopts it from)."""
    return LISTENER_FD if index == 0 else COMMAND_FD + index


# The shell runs as `$0 -c SCRIPT $0 ARGS...` with the invocation's own $0 and arguments, so
# `ps` shows what dockerd started. The shell, not Python, reports readiness, once its trap is
# set: a SIGINT sent before would kill it with a non-zero status. SIGUSR1 is ignored, as Go
# ignores it. Falling back, -use-listen-fd goes first because Go-style parsing stops at the
# first non-flag word; -mode last so it wins over an explicit one where parsing reaches it.
# The wait must be race-free. dash runs a trap only between commands or when a blocking call
# returns EINTR, and its `read` checks for a caught signal before read(2) starts to block: a
# stop that lands in between waited for the hub to speak, which it never does (a stop right
# after readiness hung one time in twenty). dash's `wait` blocks in sigsuspend, which has no
# such window, so a child reads the answer pipe (EOF: the hub died) and the shell waits for
# it. The trap ends that reader before it asks the hub to stop, so that the reader cannot take
# the hub's answer. With SIGKILL: a fresh child still runs the shell's own handlers until it
# resets them, and a SIGTERM landing then was swallowed (the trap's `wait` hung). A stop can
# also come before the reader exists: `$!` is empty then, and must not reach `kill`, whose
# usage error aborts the rest of the trap in dash.
TRAP = (
    "trap '' USR1\n"
    'trap \'[ -z "$!" ] || { kill -9 $! 2>/dev/null; wait $! 2>/dev/null; }; '
    f"echo stop >&{COMMAND_FD}; read -r _ <&{ANSWER_FD}; exit 0' INT TERM\n"
)
READY = f"printf '0\\n' >&{READY_FD}; exec {READY_FD}>&-\n"
# The reader closes the listeners and the command pipe it inherited, so that only the stand-in
# and the hub hold a port (`ss -p` shows them, as dockerd's tests do): with `exec`, since a
# redirection on a command would keep a saved copy. Redirections reach single-digit fds only,
# so with more than two mappings the rest stay open in the reader until it exits.
WAIT = f"""\
{{{{ exec{{closes}}; read -r _ <&{ANSWER_FD}; }}}} &
wait $!
exec {ANSWER_FD}<&- {COMMAND_FD}>&-
exec {{python}} -m proxy{{adopt}} "$@" -mode=standalone
"""


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def become_stand_in(
    answer_fd: int, command_fd: int, listeners: list[int], ready_fd: int | None
) -> None:
    """Exec the stand-in: readiness pipe on fd 3, the hub's pipes on 5 and 6, and the kept
    listeners (none when the hub bound the ports) on 4 and 7..."""
    sources = [(answer_fd, ANSWER_FD), (command_fd, COMMAND_FD)]
    sources += [(fd, listener_fd(i)) for i, fd in enumerate(listeners)]
    if ready_fd is not None:
        sources.append((ready_fd, READY_FD))
    # Stage everything above the targets first, so placing one cannot clobber another.
    floor = max(target for _, target in sources) + 1
    staged = [(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor), target) for fd, target in sources]
    for fd, target in staged:
        os.dup2(fd, target)  # dup2 clears close-on-exec on the target
        os.close(fd)
    kept = [listener_fd(i) for i in range(len(listeners))]
    script = (
        TRAP
        + (READY if ready_fd is not None else "")
        + WAIT.format(
            python=_quote(sys.executable),
            closes="".join(f" {fd}<&-" for fd in kept if fd < 10) + f" {COMMAND_FD}>&-",
            adopt=" -use-listen-fd" if listeners else "",
        )
    )
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "pyproxy"
    _unignore_stop_signals()
    os.execv("/bin/sh", [argv0, "-c", script, argv0, *sys.argv[1:]])


STOP_SIGNALS = (2, 15)  # SIGINT, SIGTERM: what dockerd stops a proxy with


def _unignore_stop_signals() -> None:
    """Give the shell SIGINT and SIGTERM at their defaults if we started with them ignored.

    A background job of a non-interactive shell (`dockerd &` in a script, a CI runner) starts
    with SIGINT ignored, and POSIX shells cannot trap a signal ignored on entry: the stand-in
    would never stop. docker-proxy stops anyway (Go's signal.Notify un-ignores), so we do too.
    The kernel's own account (/proc/self/status) decides, so the usual case imports nothing.
    """
    with open("/proc/self/status", "rb") as f:
        ignored = next((int(ln.split()[1], 16) for ln in f if ln.startswith(b"SigIgn:")), 0)
    if any(ignored & (1 << (sig - 1)) for sig in STOP_SIGNALS):
        import signal  # noqa: PLC0415 - only in this rare case, before readiness

        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
