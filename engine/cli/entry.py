"""The `pyengine` console script: hand the command to the run root's fork server when one
answers, else run it in this process (and start a server for the commands that follow).

A command costs a Python start-up plus its imports, about 80 ms for `run`: more than runc
needs to start the container. Forked from a process that has imported everything already, it
costs a fork. So this module imports only what the hand-over needs; the command's own imports
wait for the fallback. See engine/cli/forkserver.py for the server and why it is not a daemon.

`PYENGINE_FORKSERVER=0` runs every command in its own process, starting no server.
"""

import os
import signal
import socket
import sys

from engine.cli import handover
from engine.defaults import DEFAULT_RUN

# What a terminal or a supervisor sends the command; the worker gets each in turn.
FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGWINCH,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
LOST = 125  # docker's code when the daemon fails the command


def entry() -> None:
    """The console script."""
    argv = sys.argv[1:]
    run_root = os.environ.get("PYENGINE_RUN") or DEFAULT_RUN
    enabled = os.environ.get("PYENGINE_FORKSERVER", "1") not in ("0", "no", "off", "false")
    code = forward(argv, run_root) if enabled else None
    if code is not None:
        # The worker wrote to our descriptors itself; nothing here is buffered or left to
        # clean up, so skip the interpreter's finalization (a few ms per command).
        sys.stderr.flush()
        os._exit(code)
    from engine.cli.app import main  # noqa: PLC0415 - only when no server took it

    code = main(argv)
    if enabled:
        spawn_server(run_root)
    sys.exit(code)


def forward(argv: list[str], run_root: str) -> int | None:
    """Run the command in a worker forked by the server; its exit code, or None when no
    (current) server takes it and the caller should run it itself."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(os.path.join(run_root, handover.SOCKET_NAME))
            _send(sock, argv)
        except (OSError, ValueError):
            return None
        before = {sig: signal.signal(sig, lambda num, _f: _tell(sock, num)) for sig in FORWARDED}
        try:
            reply = _read_line(sock)
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)
    finally:
        sock.close()
    if reply in (handover.STALE, handover.REFUSED):
        return None
    kind, _, number = reply.partition(b" ")
    if kind == b"exit":
        return int(number)
    if kind == b"signal":
        # die as the worker did, so a shell sees the same status
        signum = int(number)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    sys.stderr.write("pyengine: the fork server went away without this command's status\n")
    return LOST


def _send(sock: socket.socket, argv: list[str]) -> None:
    mask = os.umask(0)
    os.umask(mask)
    try:
        cwd = os.getcwd()
    except OSError:  # removed under us: the command runs from /
        cwd = "/"
    req = handover.Request(sys.argv[0], cwd, mask, argv, dict(os.environ))
    data = handover.encode(req)
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
    sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    # Only what is left: once the whole request is out, the server may run the command, report
    # and close before this process is scheduled again, and a send of nothing to a closed
    # socket fails (EPIPE), which would make the caller run the command a second time.
    if sent < len(data):
        sock.sendall(data[sent:])


def _tell(sock: socket.socket, sig: int) -> None:
    try:
        sock.sendall(b"sig %d\n" % sig)
    except OSError:
        pass


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(64)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    # the first line: a worker that reports its own exit is followed by the server's report
    return data.partition(b"\n")[0].strip()


def spawn_server(run_root: str) -> None:
    """Start the run root's fork server in the background (it exits at once if one answers).

    Only where the engine has run before (the run root exists): `pyengine --help` on a fresh
    host starts nothing.
    """
    if not os.path.isdir(run_root) or answers(os.path.join(run_root, handover.SOCKET_NAME)):
        return
    try:
        first = os.fork()
    except OSError:
        return
    if first == 0:
        try:
            # A new session, and not our child: it outlives this command quietly.
            os.setsid()
            if os.fork() == 0:
                os.chdir("/")
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                argv = [sys.executable, "-m", "engine.cli.forkserver", "--run-root", run_root]
                os.execv(sys.executable, argv)
        finally:
            os._exit(0)
    os.waitpid(first, 0)


def answers(path: str) -> bool:
    """Whether something accepts connections on the unix socket `path`."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()
