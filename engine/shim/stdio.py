"""The init process's stdio: pipes (or the pty master) drained into the log and attach clients."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from engine.runtime.console import read_master, resize
from engine.shim.logfile import JsonFileLog
from engine.shim.loop import READ, Loop
from engine.shimapi.errors import InvalidArgumentError


class InitIO:
    """Owns the shim's ends; `child_fds()` are the runtime's 0/1/2 for `create`."""

    __slots__ = (
        "_child",
        "_devnull",
        "_loop",
        "_on_data",
        "_on_eof",
        "_readers",
        "log",
        "master",
        "stdin_w",
    )

    def __init__(
        self,
        loop: Loop,
        log: JsonFileLog | None,
        on_data: Callable[[str, bytes], None],
        on_eof: Callable[[], None],
    ) -> None:
        self._loop = loop
        self.log = log
        self._on_data = on_data
        self._on_eof = on_eof
        self._readers: dict[int, str] = {}
        self._child: list[int] = []
        self._devnull = -1
        self.stdin_w = -1
        self.master = -1

    @property
    def done(self) -> bool:
        return not self._readers

    def _null(self) -> int:
        if self._devnull < 0:
            self._devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        return self._devnull

    def child_fds(self, *, stdin: bool, terminal: bool) -> tuple[int, int, int]:
        """Pipes for the container (without a terminal); /dev/null where nothing is wanted."""
        if terminal:
            return (self._null(), self._null(), self._null())
        fds: list[int] = []
        if stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            self.stdin_w = w
            os.set_blocking(w, False)
            self._child.append(r)
            fds.append(r)
        else:
            fds.append(self._null())
        for name in ("stdout", "stderr"):
            r, w = os.pipe2(os.O_CLOEXEC)
            self._readers[r] = name
            self._child.append(w)
            fds.append(w)
        return (fds[0], fds[1], fds[2])

    def started(self) -> None:
        """The runtime holds the container's ends now: drop ours, start draining."""
        for fd in self._child:
            os.close(fd)
        self._child = []
        if self._devnull >= 0:
            os.close(self._devnull)
            self._devnull = -1
        for fd in self._readers:
            os.set_blocking(fd, False)
            self._loop.add(fd, READ, self._reader(fd))

    def set_master(self, master: int) -> None:
        os.set_blocking(master, False)
        self.master = master
        self._readers[master] = "stdout"

    def _reader(self, fd: int) -> Callable[[int], None]:
        def on_ready(_events: int) -> None:
            self.drain(fd)

        return on_ready

    def drain(self, fd: int) -> None:
        stream = self._readers.get(fd)
        if stream is None:
            return
        while True:
            try:
                data = read_master(fd) if fd == self.master else os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                self._eof(fd, stream)
                return
            if self.log is not None:
                self.log.write(stream, data)
            self._on_data(stream, data)

    def drain_all(self) -> None:
        for fd in list(self._readers):
            self.drain(fd)

    def _eof(self, fd: int, stream: str) -> None:
        self._loop.remove(fd)
        del self._readers[fd]
        if fd != self.master:
            os.close(fd)
        if self.log is not None:
            self.log.flush(stream)
        if not self._readers:
            self._on_eof()

    def write_stdin(self, data: bytes) -> int:
        fd = self.master if self.master >= 0 else self.stdin_w
        if fd < 0:
            raise InvalidArgumentError("the task was created without stdin")
        try:
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise InvalidArgumentError("stdin is closed: the reader is gone") from None
            raise

    def close_stdin(self) -> None:
        if self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = -1
        elif self.master >= 0:
            os.write(self.master, b"\x04")  # a terminal has no half-close: send ^D

    def resize(self, rows: int, cols: int) -> None:
        if self.master < 0:
            raise InvalidArgumentError("the task has no terminal")
        resize(self.master, rows, cols)

    def close(self) -> None:
        """Release everything (a failed create, or the end of the shim)."""
        for fd in self._child:
            os.close(fd)
        self._child = []
        for fd in list(self._readers):
            self._loop.remove(fd)
            if fd != self.master:
                os.close(fd)
        self._readers.clear()
        if self.master >= 0:
            os.close(self.master)
        self.master = -1
        for fd in (self.stdin_w, self._devnull):
            if fd >= 0:
                os.close(fd)
        self.stdin_w = self._devnull = -1
        if self.log is not None:
            self.log.close()
