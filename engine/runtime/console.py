"""The `--console-socket` hand-off: runc connects to a path socket and sends the pty master."""

from __future__ import annotations

import array
import errno
import fcntl
import os
import socket
import struct
import termios


class ConsoleSocket:
    """A listening unix path socket that receives exactly one fd (the pty master)."""

    __slots__ = ("path", "sock")

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(path)
            self.sock.listen(1)
        except OSError:
            self.sock.close()
            raise

    def receive_master(self, timeout: float = 10.0) -> int:
        """Accept runc's connection and return the fd it sent (SCM_RIGHTS)."""
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        try:
            conn.settimeout(timeout)
            size = socket.CMSG_SPACE(array.array("i").itemsize)
            _, ancdata, _, _ = conn.recvmsg(4096, size)
        finally:
            conn.close()
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                if fds:
                    return int(fds[0])
        raise OSError(errno.EPROTO, "console socket: no file descriptor received")

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def resize(master: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ on the master: the container sees the new size (and SIGWINCH)."""
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_master(master: int, size: int = 65536) -> bytes:
    """One read; b"" at EOF, including EIO, which a master reports once the slave side closed."""
    try:
        return os.read(master, size)
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise
