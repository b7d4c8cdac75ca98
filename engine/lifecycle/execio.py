"""An exec's stdio: FIFOs the shim opens, pumped to and from the caller's streams (its own
stdin, stdout and stderr for the CLI; see engine.lifecycle.execs).

The shim opens the paths itself. Handing it our own /proc/self/fd/1 would give it a second,
independent open of a regular file, whose appends our later writes overwrite; FIFOs of our own
keep the bytes in order, and EOF on them says the process and its children are done.

stdin (`exec -i`) is a FIFO too, whose write end we open before the shim opens its read end:
a reader that finds no writer reads EOF at once. Closing our end is the process's EOF. With a
terminal (`exec -t`) the shim relays the pty, so there is one output and no stderr FIFO.
"""

import os
import select
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from engine.lifecycle.execs import ExecStreams, FdStreams

CHUNK = 65536


def write_no_sigpipe(fd: int, data: bytes) -> int:
    """os.write that reports a reader who has gone as BrokenPipeError, and nothing else.

    pyengine keeps SIGPIPE's default action, so that `pyengine logs x | head` ends quietly; a
    write into the stdin of a process that has exited must not kill the command with it. The
    signal is blocked around the write, and the one the failed write raised is taken."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    try:
        return os.write(fd, data)
    except BrokenPipeError:
        signal.sigtimedwait({signal.SIGPIPE}, 0)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ExecStdio:
    """The FIFOs in a private directory; `pump` copies until the process's output ends."""

    def __init__(self, parent: Path, *, stdin: bool = False, tty: bool = False) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="exec-", dir=parent))
        self.stdin = self.stdout = self.stderr = ""
        self._outputs: dict[int, int] = {}  # our read end -> the stream it carries (1 or 2)
        self._writer = -1
        try:
            self.stdout = self._output("out", 1)
            if not tty:
                self.stderr = self._output("err", 2)
            if stdin:
                self.stdin = self._input("in")
        except BaseException:
            self.close()
            raise

    def _output(self, name: str, target: int) -> str:
        path = str(self.dir / name)
        os.mkfifo(path, 0o600)
        # A non-blocking open of the read end succeeds before any writer exists.
        self._outputs[os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)] = target
        return path

    def _input(self, name: str) -> str:
        path = str(self.dir / name)
        os.mkfifo(path, 0o600)
        # A write-only open needs a reader: a short-lived one of our own stands in for the
        # shim's. Non-blocking, so that a process that never reads cannot stall the output.
        placeholder = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self._writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        finally:
            os.close(placeholder)
        return path

    def __enter__(self) -> "ExecStdio":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._close_writer()
        for fd in self._outputs:
            os.close(fd)
        self._outputs = {}
        shutil.rmtree(self.dir, ignore_errors=True)

    def _close_writer(self) -> None:
        if self._writer >= 0:
            os.close(self._writer)
            self._writer = -1

    def pump(self, streams: ExecStreams | None = None) -> None:
        """Copy the streams' input into the stdin FIFO (if any) and the outputs to the streams
        until every writer of the outputs is gone (call once the process has started). The
        input's EOF closes the process's stdin; the end of its output ends the copy, whatever
        is left unread."""
        streams = FdStreams() if streams is None else streams
        sys.stdout.flush()
        sys.stderr.flush()
        source = streams.input_fd()
        outputs = dict(self._outputs)
        pending = b""  # read from `source`, not yet taken by the FIFO
        if self._writer >= 0 and not _is_open(source):
            self._close_writer()
        while outputs:
            readable = list(outputs)
            if self._writer >= 0 and not pending:
                readable.append(source)
            writable = [self._writer] if pending else []
            ready_r, ready_w, _ = select.select(readable, writable, [])
            if ready_w:
                pending = self._feed(pending)
            for fd in ready_r:
                if fd == source:
                    pending = self._read_source(source)
                elif not _copy_once(fd, outputs[fd], streams):
                    del outputs[fd]
        self._close_writer()

    def _read_source(self, source: int) -> bytes:
        try:
            data = os.read(source, CHUNK)
        except OSError:
            data = b""
        if not data:
            self._close_writer()  # the process reads EOF
            return b""
        return self._feed(data)

    def _feed(self, data: bytes) -> bytes:
        """Write what the FIFO takes now; the rest waits for it to drain."""
        try:
            written = write_no_sigpipe(self._writer, data)
        except BlockingIOError:
            return data
        except OSError:
            # Nobody reads the process's stdin any more: what is left is dropped, as docker does.
            self._close_writer()
            return b""
        return data[written:]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _copy_once(fd: int, stream: int, streams: ExecStreams) -> bool:
    """One read from an output FIFO, delivered whole; False at its EOF."""
    try:
        data = os.read(fd, CHUNK)
    except BlockingIOError:
        return True
    if not data:
        return False
    streams.output(stream, data)
    return True
