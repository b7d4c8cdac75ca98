"""`python -m engine.cli.forkserver --run-root R`: a warm process that forks `pyengine` commands
and `pybridge` (CNI plugin) calls.

Every `pyengine` command used to pay a Python start-up and about 80 ms of imports before doing
any work, and every CNI call of `pybridge` the same for the bridge driver. This process imports
the whole command line and the plugin once; for each command the thin client
(engine/cli/entry.py) connects to <run>/cli.sock and hands over its argv, environment, working
directory, umask and its stdin, stdout and stderr (SCM_RIGHTS); the server forks a worker that
becomes that command, and reports the worker's exit status back.

It is not a daemon in the dockerd sense: it holds no state (the engine's state stays on disk
under its locks, exactly as when a command runs in its own process), it serves nothing but
forks, and killing it at any moment loses nothing: the next command runs in its own process
and starts a new one. The engine therefore stays daemonless. What keeps the worker faithful to
an in-process command:
- the worker dies when its client dies (EOF on the connection: a `kill -9` of the command kills
  the command), and gets every signal the client receives;
- the server retires when the code on disk changes (a fingerprint of engine/, bridge/ and
  netns/), answering "stale" so the client runs the command itself;
- only clients with the server's own uid are served (SO_PEERCRED), and only those in the
  server's own namespaces (a worker runs in the server's: a `pybridge` run by
  `ip netns exec` must act in that network namespace, so it runs in its own process);
- it exits after PYENGINE_FORKSERVER_IDLE seconds without commands (default 1800), and within
  seconds once its socket is gone (its run root was removed) or another server took its place.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from typing import NoReturn

from engine.cli import handover
from engine.cli.entry import answers, run_here
from engine.shimapi.fingerprint import tree_fingerprint

# Modules every command may need, imported before the first fork so workers share them.
PRELOAD = (
    "engine.cli.app",
    "engine.cli.containers",
    "engine.cli.queries",
    "engine.cli.attach",
    "engine.cli.context",
    "engine.cli.images",
    "engine.cli.network",
    "engine.cli.system",
    "engine.lifecycle.adapters",
    "bridge.cni",
    "bridge.cni.commands",
    "bridge.config",
    "nftables",
)
# A worker runs in the server's namespaces; a client in any other is not served.
NAMESPACES = ("net", "mnt", "pid", "ipc", "uts", "user", "cgroup")
DEFAULT_IDLE = 1800.0
LOOK_AGAIN = 5.0  # seconds between checks, while idle, that clients can still reach us


def code_folders() -> list[str]:
    """engine/, bridge/ and netns/: what a worker may import."""
    engine = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    top = os.path.dirname(engine)
    return [engine, os.path.join(top, "bridge"), os.path.join(top, "netns")]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--run-root":
        sys.stderr.write("usage: python -m engine.cli.forkserver --run-root DIR\n")
        return 2
    run_root = os.path.abspath(argv[1])
    path = os.path.join(run_root, handover.SOCKET_NAME)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
    except OSError:
        if answers(path):
            return 0  # one serves already
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        listener.bind(path)
    listener.listen(64)
    pid_file = os.path.join(run_root, handover.PID_NAME)
    with open(pid_file, "w") as f:
        f.write(f"{os.getpid()}\n")
    idle = float(os.environ.get("PYENGINE_FORKSERVER_IDLE") or DEFAULT_IDLE)
    Server(listener, path, pid_file, idle).serve()
    return 0


class Server:
    """The accept loop: one worker per connection, reaped through its pidfd."""

    def __init__(self, listener: socket.socket, path: str, pid_file: str, idle: float) -> None:
        self.listener, self.path, self.pid_file, self.idle = listener, path, pid_file, idle
        self.inode = os.stat(path).st_ino  # to leave alone a socket a successor has bound
        self.poll = select.poll()
        self.workers: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
        self.retiring = False

    def serve(self) -> None:
        for name in PRELOAD:
            importlib.import_module(name)
        self.code = tree_fingerprint(code_folders())
        self.poll.register(self.listener, select.POLLIN)
        idle_since = time.monotonic()
        while self.workers or not self.retiring:
            gc.collect()
            gc.freeze()  # what is imported stays in pages the workers share
            left = self.idle - (time.monotonic() - idle_since)
            events = self.poll.poll(None if self.workers else max(min(LOOK_AGAIN, left), 0) * 1000)
            if self.workers or events:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.idle or not self.reachable():
                break  # idle, or nobody can reach us any more
            for fd, _ in events:
                if fd == self.listener.fileno():
                    with contextlib.suppress(OSError):
                        self.accept()
                elif fd in self.workers:
                    self.reap(fd)
        self.retire()

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        fds: list[int] = []
        try:
            conn.settimeout(5.0)  # a stuck client may not hold up the others for long
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            client, uid, _gid = struct.unpack("3i", creds)
            if uid != os.geteuid() or not _shares_namespaces(client):
                conn.sendall(handover.REFUSED + b"\n")
                return
            try:
                req, fds = _receive(conn)
            except ValueError:
                conn.sendall(handover.REFUSED + b"\n")
                return
            if req is None:
                return  # a probe
            # The code check (about 1 ms of stats) runs while the worker sets itself up; the
            # worker runs nothing of the command before the gate opens.
            gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(gate_w)
                _become(req, fds, conn, self, gate_r)
            os.close(gate_r)
            with open(gate_w, "wb", buffering=0) as gate:
                if tree_fingerprint(code_folders()) != self.code:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    conn.sendall(handover.STALE + b"\n")
                    self.retire()
                    return
                gate.write(b"1")
            pidfd = os.pidfd_open(pid)
            self.workers[pidfd] = (pid, conn)
            self.poll.register(pidfd, select.POLLIN)
            conn = None  # type: ignore[assignment]  # kept until the worker exits
        finally:
            for fd in fds:
                os.close(fd)
            if conn is not None:
                conn.close()

    def reachable(self) -> bool:
        """Whether clients still find this server: its socket was not removed (with its run
        root, say) nor taken over by a successor."""
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def reap(self, pidfd: int) -> None:
        pid, conn = self.workers.pop(pidfd)
        self.poll.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            line = b"signal %d\n" % os.WTERMSIG(status)
        else:
            line = b"exit %d\n" % os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError), conn:
            conn.sendall(line)

    def retire(self) -> None:
        """Stop accepting (the next command starts a fresh server); workers finish first."""
        if self.retiring:
            return
        self.retiring = True
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        with contextlib.suppress(OSError, ValueError), open(self.pid_file) as f:
            if int(f.read()) == os.getpid():
                os.unlink(self.pid_file)
        with contextlib.suppress(KeyError):
            self.poll.unregister(self.listener)
        self.listener.close()


def _shares_namespaces(pid: int) -> bool:
    """Whether process `pid` (a client) lives in every namespace this server lives in."""
    try:
        return all(
            os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/self/ns/{kind}").st_ino
            for kind in NAMESPACES
        )
    except OSError:  # gone, or not visible from here (another pid namespace)
        return False


def _receive(conn: socket.socket) -> tuple[handover.Request | None, list[int]]:
    """The request and its three descriptors; (None, []) when the client sent nothing."""
    header, fds, _flags, _addr = socket.recv_fds(conn, handover.HEADER, 3)
    if not header:
        return None, fds
    while len(header) < handover.HEADER:
        more = conn.recv(handover.HEADER - len(header))
        if not more:
            raise OSError("truncated hand-over request")
        header += more
    body = bytearray()
    want = handover.body_length(header)
    while len(body) < want:
        more = conn.recv(min(want - len(body), 1 << 20))
        if not more:
            raise OSError("truncated hand-over request")
        body += more
    if len(fds) != 3:
        raise ValueError("a hand-over request without stdin, stdout and stderr")
    return handover.decode(bytes(body)), fds


def _become(
    req: handover.Request, fds: list[int], conn: socket.socket, server: Server, gate: int
) -> NoReturn:
    """In the forked worker: turn into the client's command, run it once the server opens the
    gate (its code is current), exit with its code."""
    code = 1
    try:
        for pidfd, (_pid, other) in server.workers.items():
            os.close(pidfd)
            other.close()
        server.listener.close()
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        fds.clear()
        conn.settimeout(None)
        try:
            os.chdir(req.cwd)
        except OSError:
            os.chdir("/")
        os.umask(req.umask)
        os.environ.clear()
        os.environ.update(req.env)
        sys.argv = [req.argv0, *req.argv]
        # `ps` shows the server's command line for a worker; its name at least says what it is
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write(" ".join([req.program, *req.argv[:1]])[:15])
        _reopen_stdio()
        threading.Thread(target=_follow_client, args=(conn,), daemon=True).start()
        if os.read(gate, 1) != b"1":
            os._exit(1)  # stale code: the server answers for us
        os.close(gate)
        code = run_here(req.program, req.argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    # Told now, the client need not wait for this process to be torn down and reaped; the
    # server's own report (sent on reap) then finds it gone, or is the only one if we die.
    with contextlib.suppress(OSError):
        conn.sendall(b"exit %d\n" % code)
    os._exit(code)


def _reopen_stdio() -> None:
    """Streams over the client's descriptors, buffered as Python would have for them."""
    sys.stdin = open(0, closefd=False, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    line = 1 if os.isatty(1) else -1
    sys.stdout = open(1, "w", line, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(  # noqa: SIM115
        2, "w", 1, encoding="utf-8", errors="backslashreplace", closefd=False
    )


def _follow_client(conn: socket.socket) -> None:
    """Deliver the client's signals to this worker; die with the client."""
    pending = b""
    while True:
        try:
            chunk = conn.recv(256)
        except OSError:
            chunk = b""
        if not chunk:
            os.kill(os.getpid(), signal.SIGKILL)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.startswith(b"sig "):
                with contextlib.suppress(ValueError, OSError):
                    os.kill(os.getpid(), int(line[4:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
