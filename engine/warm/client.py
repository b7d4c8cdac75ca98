"""The client's side of the hand-over (see protocol): give this process's command to the run
root's warm process, wait for its status; start a warm process for the next command.

Imported by the console scripts before anything else of ours, so it imports `os`, `select`
and `sys` only: with them a client costs the interpreter's start-up and little more.
"""

import os
import select
import sys

from engine.warm import protocol


class WorkerLostError(Exception):
    """The worker took the command and vanished without its status."""


class _Answers:
    """The lines the server and its worker write on the client's pipe."""

    def __init__(self, read_fd: int, server_pidfd: int) -> None:
        self.read_fd, self.pending = read_fd, b""
        self.poller = select.poll()
        self.poller.register(read_fd, select.POLLIN)
        self.poller.register(server_pidfd, select.POLLIN)
        self.server_pidfd: int | None = server_pidfd

    def next(self) -> bytes | None:
        """The next line; None at EOF, or when the server died before a worker took over."""
        while b"\n" not in self.pending:
            ready = {fd for fd, _ in self.poller.poll()}
            if self.read_fd in ready:
                chunk = os.read(self.read_fd, 256)
                if not chunk:
                    return None
                self.pending += chunk
            elif self.server_pidfd in ready:
                return None  # nothing was written before it died: no worker runs the command
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def forget_server(self) -> None:
        """From now on only EOF ends the wait: the worker holds the pipe, the server may go."""
        if self.server_pidfd is not None:
            self.poller.unregister(self.server_pidfd)
            self.server_pidfd = None


class Handover:
    """A command a worker of the warm process runs for this process."""

    def __init__(self, worker: int, answers: _Answers, read_fd: int) -> None:
        self.worker = worker  # its pid: the client's signals are for it
        self._answers, self._read_fd = answers, read_fd

    def wait(self) -> int:
        """The command's exit code, or minus the signal's number if it died of one."""
        try:
            status = self._answers.next()
        finally:
            os.close(self._read_fd)
        kind, _, number = (status or b"").partition(b" ")
        if kind == b"exit":
            return int(number)
        if kind == b"signal":
            return -int(number)
        raise WorkerLostError("the fork server went away without this command's status")


def hand_over(run_root: str, program: str, argc: int | None = None) -> Handover | None:
    """Give this process's command (the last `argc` words of its command line, by default
    len(sys.argv)) to the run root's warm process: the worker that runs it, or None when no
    current server takes it and the caller runs it itself."""
    fifo = _open_fifo(run_root)
    if fifo is None:
        return None
    try:
        if os.fstat(fifo).st_uid != os.geteuid():
            return None  # another user's server: it would not answer us
        try:
            with open(os.path.join(run_root, protocol.PID_NAME), "rb") as f:
                server = os.pidfd_open(int(f.read()))
        except (OSError, ValueError):
            return None
        try:
            return _request(fifo, server, program, len(sys.argv) if argc is None else argc)
        finally:
            os.close(server)
    finally:
        os.close(fifo)


def _request(fifo: int, server: int, program: str, argc: int) -> Handover | None:
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        if write_fd < 3:
            return None  # stdin, stdout or stderr is closed: nothing to lend
        try:
            os.write(fifo, protocol.encode(program, os.getpid(), write_fd, argc))
        except OSError:  # EAGAIN: a server that stopped reading; EPIPE: one that just left
            return None
        answers = _Answers(read_fd, server)
        kind, _, number = (answers.next() or b"").partition(b" ")
        if kind != protocol.WORKER:
            return None  # stale, refused, or gone before it took the command
        answers.forget_server()  # EOF from now on means the worker and the server are gone
        handover, read_fd = Handover(int(number), answers, read_fd), -1
        return handover
    finally:
        os.close(write_fd)
        if read_fd >= 0:
            os.close(read_fd)


def _open_fifo(run_root: str) -> int | None:
    """The run root's FIFO for writing, if a warm process reads it."""
    try:
        path = os.path.join(run_root, protocol.FIFO_NAME)
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # ENXIO: nobody reads it (no server); ENOENT: none ever started here
        return None


def serving(run_root: str) -> bool:
    """Whether a warm process reads the run root's FIFO."""
    fifo = _open_fifo(run_root)
    if fifo is None:
        return False
    os.close(fifo)
    return True


def spawn_server(run_root: str) -> None:
    """Start the run root's warm process in the background (it exits at once if one serves).

    Only where the engine has run before (the run root exists): `pyengine --help` on a fresh
    host starts nothing.
    """
    if not os.path.isdir(run_root) or serving(run_root):
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
                argv = [sys.executable, "-m", "engine.warm.forkserver", "--run-root", run_root]
                os.execv(sys.executable, argv)
        finally:
            os._exit(0)
    os.waitpid(first, 0)
