"""The two ways a relay direction moves bytes: splice(2) through a pipe, or copy through memory.

Both hold nothing while a connection is idle: the splice pump borrows a pipe from a shared pool
only while bytes are in flight, and the copy pump reads into one shared scratch buffer and keeps
a private copy only of what the destination would not take yet.
"""

import fcntl
import os
import socket
from collections.abc import Callable

from proxy.base import Pump

SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
PIPE_SIZE = 256 * 1024
COPY_CHUNK = 256 * 1024
# A read at least this large means a bulk flow (see AutoPump).
BULK_READ = 32 * 1024
# Idle pipes a pool keeps: a cache bounded in descriptors, not a leak.
MAX_IDLE_PIPES = 64

PumpFactory = Callable[[socket.SocketType, socket.SocketType], Pump]


class PipePool:
    """Idle pipes kept for reuse, so a connection costs no pipe fds between bursts."""

    __slots__ = ("_free", "_max_idle", "_size")

    def __init__(self, max_idle: int = MAX_IDLE_PIPES, size: int = PIPE_SIZE) -> None:
        self._free: list[tuple[int, int]] = []
        self._max_idle = max_idle
        self._size = size

    def take(self) -> tuple[int, int]:
        if self._free:
            return self._free.pop()
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, self._size)
        except OSError:
            pass  # keep the default 64 KiB when the size is refused (pipe-user-pages limits)
        return r, w

    def give(self, pipe: tuple[int, int]) -> None:
        """Return an empty pipe."""
        if len(self._free) < self._max_idle:
            self._free.append(pipe)
        else:
            close_pipe(pipe)

    def close(self) -> None:
        while self._free:
            close_pipe(self._free.pop())


def close_pipe(pipe: tuple[int, int]) -> None:
    os.close(pipe[0])
    os.close(pipe[1])


class SplicePump:
    """Zero-copy: socket -> pipe -> socket with splice(2), as Go's io.Copy does on Linux.

    When no pipe can be had (the process is out of descriptors), it copies that chunk through
    memory instead of failing the connection, as Go falls back to a plain copy.
    """

    __slots__ = ("_copied", "_dst", "_pending", "_pipe", "_pool", "_src", "chunk")

    def __init__(self, src: socket.SocketType, dst: socket.SocketType, pool: PipePool) -> None:
        self._src = src.fileno()
        self._dst = dst.fileno()
        self._pool = pool
        self._pipe: tuple[int, int] | None = None
        self._pending = 0
        self._copied: memoryview | None = None
        self.chunk = PIPE_SIZE

    def fill(self) -> int:
        if self._pipe is None:
            try:
                self._pipe = self._pool.take()
            except OSError:
                data = os.read(self._src, COPY_CHUNK)
                self._copied = memoryview(data)
                return len(data)
        try:
            # Flags passed by position: parsing the keyword costs more than the rest of the call.
            n = os.splice(self._src, self._pipe[1], self.chunk, None, None, SPLICE_FLAGS)
        except BlockingIOError:
            if not self._pending:
                self._pool.give(self._pipe)
                self._pipe = None
            raise
        self._pending += n
        return n

    def flush(self) -> bool:
        while self._copied is not None:
            try:
                sent = os.write(self._dst, self._copied)
            except BlockingIOError:
                return False
            self._copied = self._copied[sent:] if sent < len(self._copied) else None
        pipe = self._pipe
        if pipe is None:
            return True
        while self._pending:
            try:
                self._pending -= os.splice(
                    pipe[0], self._dst, self._pending, None, None, SPLICE_FLAGS
                )
            except BlockingIOError:
                return False
        self._pool.give(pipe)
        self._pipe = None
        return True

    def release(self) -> None:
        self._copied = None
        pipe, self._pipe = self._pipe, None
        if pipe is None:
            return
        if self._pending:
            close_pipe(pipe)  # bytes nobody will read: never hand a dirty pipe to another flow
        else:
            self._pool.give(pipe)


class CopyPump:
    """Portable: recv_into a shared scratch buffer, send, keep only an unsent tail."""

    __slots__ = ("_dst", "_held", "_scratch", "_src", "_taken", "chunk")

    def __init__(self, src: socket.SocketType, dst: socket.SocketType, scratch: bytearray) -> None:
        self._src = src
        self._dst = dst
        self._scratch = scratch
        self._taken = 0  # bytes of the scratch buffer that belong to this pump until flushed
        self._held: memoryview | None = None
        self.chunk = len(scratch)

    def fill(self) -> int:
        self._taken = n = self._src.recv_into(self._scratch)
        return n

    def flush(self) -> bool:
        if self._taken:
            # The scratch buffer is shared: whatever is not sent now must be copied out.
            data = memoryview(self._scratch)[: self._taken]
            self._taken = 0
            try:
                sent = self._dst.send(data)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return True
            self._held = memoryview(bytes(data[sent:]))
            return False
        while self._held is not None:
            try:
                sent = self._dst.send(self._held)
            except BlockingIOError:
                return False
            self._held = self._held[sent:] if sent < len(self._held) else None
        return True

    def release(self) -> None:
        self._held = None
        self._taken = 0


class AutoPump:
    """Copy while messages are small, splice once a flow turns out to be bulk.

    A request/response flow (HTTP, RPC) moves a few KB at a time, where recv/send beats two
    splices through a pipe; a bulk flow moves full socket buffers, where splice saves copying
    every byte through user space. One large read marks the direction as bulk for good, as
    HAProxy's splice-auto does. The switch happens only when nothing is held, so order is kept.
    """

    __slots__ = ("_bulk", "_copy", "_dst", "_pool", "_splice", "_src", "chunk")

    def __init__(
        self, src: socket.SocketType, dst: socket.SocketType, scratch: bytearray, pool: PipePool
    ) -> None:
        self._copy = CopyPump(src, dst, scratch)
        self._splice: SplicePump | None = None
        self._src = src
        self._dst = dst
        self._pool = pool
        self._bulk = False
        self.chunk = len(scratch)

    @property
    def spliced(self) -> bool:
        """Whether this direction has turned out bulk and moves through a pipe now."""
        return self._splice is not None

    def fill(self) -> int:
        if self._splice is not None:
            return self._splice.fill()
        n = self._copy.fill()
        if n >= BULK_READ:
            self._bulk = True
        return n

    def flush(self) -> bool:
        if self._splice is not None:
            return self._splice.flush()
        if not self._copy.flush():
            return False
        if self._bulk:
            self._splice = SplicePump(self._src, self._dst, self._pool)
            self._splice.chunk = self.chunk
        return True

    def release(self) -> None:
        self._copy.release()
        if self._splice is not None:
            self._splice.release()


def auto_pumps(max_idle_pipes: int = MAX_IDLE_PIPES) -> PumpFactory:
    """A factory of auto pumps sharing one scratch buffer and one pipe pool."""
    scratch = bytearray(COPY_CHUNK)
    pool = PipePool(max_idle_pipes)
    return lambda src, dst: AutoPump(src, dst, scratch, pool)


def splice_pumps(max_idle_pipes: int = MAX_IDLE_PIPES) -> PumpFactory:
    """A factory of splice pumps sharing one pipe pool."""
    pool = PipePool(max_idle_pipes)
    return lambda src, dst: SplicePump(src, dst, pool)


def copy_pumps() -> PumpFactory:
    """A factory of copy pumps sharing one scratch buffer (the loop is single-threaded)."""
    scratch = bytearray(COPY_CHUNK)
    return lambda src, dst: CopyPump(src, dst, scratch)


PUMPS: dict[str, Callable[[], PumpFactory]] = {
    "splice": splice_pumps,
    "copy": copy_pumps,
    "auto": auto_pumps,
}
