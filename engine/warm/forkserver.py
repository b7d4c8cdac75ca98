"""`python -m engine.warm.forkserver --run-root R`: the warm process that forks `pyengine`
commands and `pybridge` (CNI plugin) calls.

Every `pyengine` command used to pay a Python start-up and about 80 ms of imports before doing
any work, and every CNI call of `pybridge` the same for the bridge driver. This process imports
the command line and the plugin once; for each command the thin client (engine/warm/client.py)
writes one line to <run>/cli.fifo, and the server takes the client's command line,
environment, working directory, umask and stdio from the kernel (see protocol and caller),
forks a worker that becomes that command, and reports the worker's status on the client's pipe.

It is not a daemon in the dockerd sense: it holds no state (the engine's state stays on disk
under its locks, exactly as when a command runs in its own process), it serves nothing but
forks, and killing it at any moment loses nothing: the next command runs in its own process
and starts a new one. The engine therefore stays daemonless. What keeps the worker faithful to
an in-process command:
- the worker dies when its client dies (the server watches the client's pidfd: a `kill -9` of
  the command kills the command), and the client passes its signals on to the worker;
- the server retires when the code on disk changes (a fingerprint of engine/, bridge/ and
  netns/), answering "stale" so the client runs the command itself;
- only clients with the server's own uid are served, and only those in the server's own
  namespaces (a worker runs in the server's: a `pybridge` run by `ip netns exec` must act in
  that network namespace, so it runs in its own process);
- it exits after PYENGINE_FORKSERVER_IDLE seconds without commands (default 1800), and within
  seconds once its FIFO is gone (its run root was removed) or another server took its place.
"""

import contextlib
import gc
import importlib
import os
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import NoReturn

from engine.warm import caller, protocol
from engine.warm.client import serving
from engine.warm.codewatch import CodeWatch
from engine.warm.programs import PRELOAD, run_program
from netns.flock import hold

DEFAULT_IDLE = 1800.0
LOOK_AGAIN = 5.0  # seconds between checks, while idle, that clients can still reach us


def code_folders() -> list[str]:
    """engine/, bridge/ and netns/: what a worker may import."""
    engine = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    top = os.path.dirname(engine)
    return [engine, os.path.join(top, "bridge"), os.path.join(top, "netns")]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--run-root":
        sys.stderr.write("usage: python -m engine.warm.forkserver --run-root DIR\n")
        return 2
    run_root = os.path.abspath(argv[1])
    if serving(run_root):
        return 0  # one serves already
    # One server per run root: of several started at once (commands that ran in their own
    # process each start one), the one that takes this lock serves, the others leave now.
    # Without it the last to write the pid file could be one that then left, and the server
    # that stayed was nameless (a clean-clone run found one left behind so).
    lock = hold(os.path.join(run_root, protocol.LOCK_NAME))
    if lock is None:
        return 0
    if serving(run_root):  # it was serving before we took the lock: it took it earlier
        os.close(lock)
        return 0
    path = os.path.join(run_root, protocol.FIFO_NAME)
    # Made under a name of its own and renamed into place: of two servers starting at once,
    # the last to rename wins, and the other finds its FIFO gone and leaves.
    staging = f"{path}.{os.getpid()}"
    os.mkfifo(staging, 0o600)
    fifo = os.open(staging, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)  # never EOF: we write too
    os.rename(staging, path)
    pid_file = os.path.join(run_root, protocol.PID_NAME)
    with open(pid_file, "w") as f:
        f.write(f"{os.getpid()}\n")
    idle = float(os.environ.get("PYENGINE_FORKSERVER_IDLE") or DEFAULT_IDLE)
    server = Server(fifo, path, pid_file, idle)
    server.lock = lock  # held while it serves; workers close their copy
    server.serve()
    return 0


@dataclass
class Worker:
    """A forked command, its client, and the client's pipe the status goes to."""

    pid: int
    pidfd: int
    client_pidfd: int
    reply_fd: int

    def close(self) -> None:
        for fd in (self.pidfd, self.client_pidfd, self.reply_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Server:
    """The request loop: one worker per request, reaped through its pidfd."""

    def __init__(self, fifo: int, path: str, pid_file: str, idle: float) -> None:
        self.fifo, self.path, self.pid_file, self.idle = fifo, path, pid_file, idle
        self.lock = -1  # the run root's server lock (main), which workers must not keep
        self.inode = os.stat(path).st_ino  # to leave alone a FIFO a successor has made
        self.poll = select.poll()
        self.workers: dict[int, Worker] = {}  # by the worker's pidfd
        self.clients: dict[int, Worker] = {}  # by the client's pidfd
        self.pending = b""
        self.retiring = False
        self.code: CodeWatch | None = None

    def serve(self) -> None:
        self.code = CodeWatch(code_folders())  # before the imports: a change during them counts
        for name in PRELOAD:
            importlib.import_module(name)
        self.poll.register(self.fifo, select.POLLIN)
        if self.code.fd is not None:
            self.poll.register(self.code.fd, select.POLLIN)  # stale: leave before a request
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
                if fd == self.fifo and not self.retiring:
                    self.read_requests()
                elif self.code is not None and fd == self.code.fd and self.code.changed():
                    self.retire()
                elif fd in self.workers:
                    self.reap(self.workers[fd])
                elif fd in self.clients:
                    # the client is gone: so is its command (the worker's exit is reaped next)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.clients[fd].pid, signal.SIGKILL)
        self.retire()

    def read_requests(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.pending += os.read(self.fifo, 1 << 16)
        *lines, self.pending = self.pending.split(b"\n")
        self.pending = self.pending[-protocol.MAX_LINE :]  # never a line this long: garbage
        for line in lines:
            if not self.retiring:
                self.take(line)

    def take(self, line: bytes) -> None:
        """Run one request: nothing of it is left behind when it cannot be served."""
        try:
            program, pid, reply_at, argc = protocol.decode(line)
            client_pidfd = os.pidfd_open(pid)
        except (ValueError, OSError):
            return  # not a request, or its client is gone already: nobody to answer
        reply_fd = -1
        try:
            if not caller.same_user(pid):
                return  # not ours to answer either: its descriptors are none of our business
            reply_fd = os.open(f"/proc/{pid}/fd/{reply_at}", os.O_WRONLY | os.O_CLOEXEC)
            if not caller.same_namespaces(pid):
                _say(reply_fd, protocol.REFUSED)
                return
            try:
                who = caller.take(client_pidfd, pid, argc)
            except (OSError, ValueError):
                _say(reply_fd, protocol.REFUSED)
                return
            self.start(program, who, client_pidfd, reply_fd)
            client_pidfd = reply_fd = -1  # the worker's now
        except OSError:
            pass  # the client left meanwhile
        finally:
            for fd in (client_pidfd, reply_fd):
                if fd >= 0:
                    os.close(fd)

    def start(self, program: str, who: caller.Caller, client_pidfd: int, reply_fd: int) -> None:
        # The code check runs while the worker sets itself up; the worker runs nothing of the
        # command before the gate opens.
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(gate_w)
                os.close(client_pidfd)
                _become(program, who, reply_fd, self, gate_r)
        except BaseException:
            os.close(gate_w)
            who.close()
            raise
        finally:
            os.close(gate_r)
        who.close()
        worker = Worker(pid, os.pidfd_open(pid), client_pidfd, reply_fd)
        with open(gate_w, "wb", buffering=0) as gate:
            if self.code is None or self.code.changed():
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _say(reply_fd, protocol.STALE)
                worker.close()
                self.retire()
                return
            _say(reply_fd, b"%s %d" % (protocol.WORKER, pid))
            gate.write(b"1")
        self.workers[worker.pidfd] = self.clients[worker.client_pidfd] = worker
        self.poll.register(worker.pidfd, select.POLLIN)
        self.poll.register(worker.client_pidfd, select.POLLIN)

    def reachable(self) -> bool:
        """Whether clients still find this server: its FIFO was not removed (with its run
        root, say) nor replaced by a successor's."""
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def reap(self, worker: Worker) -> None:
        del self.workers[worker.pidfd], self.clients[worker.client_pidfd]
        self.poll.unregister(worker.pidfd)
        self.poll.unregister(worker.client_pidfd)
        _, status = os.waitpid(worker.pid, 0)
        if os.WIFSIGNALED(status):
            _say(worker.reply_fd, b"signal %d" % os.WTERMSIG(status))
        else:
            _say(worker.reply_fd, b"exit %d" % os.waitstatus_to_exitcode(status))
        worker.close()

    def retire(self) -> None:
        """Stop taking requests (the next command starts a fresh server); workers finish."""
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
            self.poll.unregister(self.fifo)
        os.close(self.fifo)
        self.fifo = -1
        if self.code is not None and self.code.fd is not None:
            with contextlib.suppress(KeyError):
                self.poll.unregister(self.code.fd)
            self.code.close()


def _say(fd: int, line: bytes) -> None:
    with contextlib.suppress(OSError):  # a client that left has nobody to tell
        os.write(fd, line + b"\n")


def _become(program: str, who: caller.Caller, reply_fd: int, server: Server, gate: int) -> NoReturn:
    """In the forked worker: turn into the client's command, run it once the server opens the
    gate (its code is current), exit with its code."""
    code = 1
    try:
        for worker in server.workers.values():
            worker.close()
        if server.fifo >= 0:
            os.close(server.fifo)
        if server.lock >= 0:
            os.close(server.lock)  # a long `logs -f` must not keep the next server out
        if server.code is not None:
            server.code.close()
        for target, fd in zip((0, 1, 2), who.stdio, strict=True):
            os.dup2(fd, target)
        os.fchdir(who.cwd_fd)
        who.close()
        os.umask(who.umask)
        os.environ.clear()
        os.environ.update(who.env)
        sys.argv = [who.argv0, *who.argv]
        # `ps` shows the server's command line for a worker; its name at least says what it is
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write(" ".join([program, *who.argv[:1]])[:15])
        _reopen_stdio()
        if os.read(gate, 1) != b"1":
            os._exit(1)  # stale code: the server answers for us
        os.close(gate)
        code = run_program(program, list(who.argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    # Told now, the client need not wait for this process to be torn down and reaped; the
    # server's own report (sent on reap) then comes second, or is the only one if we die.
    _say(reply_fd, b"exit %d" % code)
    os._exit(code)


def _reopen_stdio() -> None:
    """Streams over the client's descriptors, buffered as Python would have for them."""
    sys.stdin = open(0, closefd=False, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    line = 1 if os.isatty(1) else -1
    sys.stdout = open(1, "w", line, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(  # noqa: SIM115
        2, "w", 1, encoding="utf-8", errors="backslashreplace", closefd=False
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
