"""An exec's terminal: the pty master that runc hands over, relayed by the shim.

On a terminal a process has one output (stdout and stderr are the same slave) and one input.
The shim keeps the master, as containerd's shim does, so the exec outlives its engine command:
master → the exec's stdout target, and the exec's stdin FIFO (if any) → master. Everything is
non-blocking on the shim's one thread, with back-pressure instead of unbounded buffers: while
a side cannot take more, the other side is not read, and the kernel's buffers fill up.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from engine.runtime.console import read_master, resize
from engine.shim.loop import READ, WRITE, Loop
from engine.shimapi.errors import InvalidArgumentError

# A terminal has no half-close: EOF on the exec's stdin is sent as ^D (VEOF), as for `run -t`.
EOT = b"\x04"
CHUNK = 65536


class ExecTerminal:
    """The relay of one exec's pty; it closes its descriptors itself once the slave is gone."""

    __slots__ = ("_in", "_loop", "_out", "_watched", "master", "stdin", "stdout")

    def __init__(self, loop: Loop, master: int, *, stdout: int, stdin: int = -1) -> None:
        self._loop = loop
        self.master = master
        self.stdout = stdout  # -1 once the reader has gone: output is then read and dropped
        self.stdin = stdin
        self._in = b""  # read from stdin, not yet taken by the master
        self._out = b""  # read from the master, not yet taken by stdout
        self._watched: dict[int, int] = {}
        for fd in (master, stdout, stdin):
            if fd >= 0:
                os.set_blocking(fd, False)
        self._watch()

    @property
    def done(self) -> bool:
        return self.master < 0

    def resize(self, rows: int, cols: int) -> None:
        if self.master < 0:
            raise InvalidArgumentError("the exec's terminal is closed")
        resize(self.master, rows, cols)

    # -- readiness -------------------------------------------------------------------------
    def _watch(self) -> None:
        """Ask the loop for exactly what can make progress now. A descriptor with nothing to
        wait for is left out entirely: a hung-up one would otherwise wake the loop forever."""
        wanted: dict[int, int] = {}
        if self.master >= 0:
            events = (0 if self._out else READ) | (WRITE if self._in else 0)
            if events:
                wanted[self.master] = events
        if self._out and self.stdout >= 0:
            wanted[self.stdout] = WRITE
        if self.stdin >= 0 and not self._in:
            wanted[self.stdin] = READ
        for fd in set(self._watched) - set(wanted):
            self._loop.remove(fd)
        for fd, events in wanted.items():
            if self._watched.get(fd) != events:
                self._loop.add(fd, events, self._ready(fd))
        self._watched = wanted

    def _ready(self, fd: int) -> Callable[[int], None]:
        def on_events(_events: int) -> None:
            if fd == self.master:
                self._feed_master()
                if not self._out:
                    self._read_master()
            elif fd == self.stdout:
                self._flush_out()
            elif fd == self.stdin:
                self._read_stdin()
            self._finish_or_watch()

        return on_events

    # -- master → stdout -------------------------------------------------------------------
    def _read_master(self) -> None:
        try:
            data = read_master(self.master, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_master()
            return
        self._out = data
        self._flush_out()

    def _flush_out(self) -> None:
        if self.stdout < 0:
            self._out = b""
            return
        try:
            written = os.write(self.stdout, self._out)
        except BlockingIOError:
            return
        except OSError:
            # The reader has gone (the engine command died): keep the process from blocking
            # on a full terminal by reading on and dropping what it writes.
            self._close_fd("stdout")
            self._out = b""
            return
        self._out = self._out[written:]

    # -- stdin → master --------------------------------------------------------------------
    def _read_stdin(self) -> None:
        try:
            data = os.read(self.stdin, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_fd("stdin")
            data = EOT
        self._in += data
        self._feed_master()

    def _feed_master(self) -> None:
        if not self._in or self.master < 0:
            return
        try:
            written = os.write(self.master, self._in)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._in)  # the slave side is gone: nobody will read it
        self._in = self._in[written:]

    # -- the end ---------------------------------------------------------------------------
    def _close_master(self) -> None:
        """EOF (EIO) on the master: every holder of the slave has closed it."""
        self._loop.remove(self.master)
        self._watched.pop(self.master, None)
        os.close(self.master)
        self.master = -1
        self._in = b""
        if self.stdin >= 0:
            self._close_fd("stdin")

    def _finish_or_watch(self) -> None:
        if self.master < 0 and not self._out:
            self.close()  # the FIFO's EOF tells the engine the output is complete
            return
        self._watch()

    def _close_fd(self, name: str) -> None:
        fd = getattr(self, name)
        if fd >= 0:
            self._loop.remove(fd)
            self._watched.pop(fd, None)
            os.close(fd)
            setattr(self, name, -1)

    def close(self) -> None:
        """Release everything now: the exec is deleted, or what is left was read."""
        for name in ("master", "stdout", "stdin"):
            self._close_fd(name)
        self._in = self._out = b""
        self._watched = {}
