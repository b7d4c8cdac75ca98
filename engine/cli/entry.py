"""The `pyengine` and `pybridge` console scripts: hand the command to the run root's fork server
when one answers, else run it in this process (and start a server for the commands that follow).

A command costs a Python start-up plus its imports, about 80 ms for `run`: more than runc
needs to start the container. Forked from a process that has imported everything already, it
costs a fork. So this module imports only what the hand-over needs; the command's own imports
wait for the fallback. See engine/cli/forkserver.py for the server and why it is not a daemon.

`pybridge` is the CNI plugin (bridge/cni): a runtime execs it for every ADD, DEL and CHECK, so
it pays the same start-up and is served by the same warm process. Its code stays in bridge/;
only its console script lives here, since bridge/ may not import the engine.

`PYENGINE_FORKSERVER=0` runs every command in its own process, starting no server.
"""

import os
import signal
import socket
import sys

from engine.cli import handover
from engine.defaults import default_run_root

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
    """The `pyengine` console script."""
    _enter("pyengine")


def pybridge() -> None:
    """The `pybridge` console script (the CNI plugin)."""
    _enter("pybridge")


def _enter(program: str) -> None:
    argv = sys.argv[1:]
    run_root = default_run_root()
    enabled = os.environ.get("PYENGINE_FORKSERVER", "1") not in ("0", "no", "off", "false")
    code = forward(argv, run_root, program) if enabled else None
    if code is not None:
        # The worker wrote to our descriptors itself; nothing here is buffered or left to
        # clean up, so skip the interpreter's finalization (a few ms per command).
        sys.stderr.flush()
        os._exit(code)
    code = run_here(program, argv)
    if enabled:
        spawn_server(run_root)
    sys.exit(code)


def run_here(program: str, argv: list[str]) -> int:
    """Run `program` in this process (the fallback, and the fork server's worker)."""
    if program == "pybridge":
        from bridge.cni import main as cni_main  # noqa: PLC0415 - only when no server took it

        return cni_main()
    from engine.cli.app import main  # noqa: PLC0415 - only when no server took it

    return main(argv)


def forward(argv: list[str], run_root: str, program: str = "pyengine") -> int | None:
    """Run the command in a worker forked by the server; its exit code, or None when no
    (current) server takes it and the caller should run it itself."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(os.path.join(run_root, handover.SOCKET_NAME))
            _send(sock, program, argv)
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
    message = "the fork server went away without this command's status"
    sys.stderr.write(f"{program}: {message}\n")
    if program == "pybridge":
        # a CNI runtime reads the error from stdout; 11 is the spec's "try again later"
        sys.stdout.write(f'{{"cniVersion": "1.1.0", "code": 11, "msg": "{message}"}}\n')
        sys.stdout.flush()
        return 1
    return LOST


def _send(sock: socket.socket, program: str, argv: list[str]) -> None:
    mask = os.umask(0)
    os.umask(mask)
    try:
        cwd = os.getcwd()
    except OSError:  # removed under us: the command runs from /
        cwd = "/"
    req = handover.Request(
        program, sys.argv[0], cwd=cwd, umask=mask, argv=argv, env=dict(os.environ)
    )
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
