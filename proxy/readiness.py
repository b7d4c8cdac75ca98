"""fd 3: the parent's readiness pipe (`0\\n` when serving, `1\\n<message>` on failure)."""

import os
import stat

READY = b"0\n"
FAILED = b"1\n"


class ReadyPipe:
    """The write end of the parent's pipe on fd 3, if the parent passed one.

    It must be inspected before the process opens any descriptor: without a parent pipe, fd 3
    is free and the next socket would land there; docker-proxy then closed its own listener as
    "the pipe". Only a FIFO is taken as the pipe, so a stray inherited fd 3 is left alone.
    """

    __slots__ = ("fd",)

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    @classmethod
    def inherit(cls, fd: int = 3) -> "ReadyPipe":
        """Adopt fd 3 if it is an open pipe; otherwise report nowhere."""
        try:
            is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
        except OSError:
            return cls(None)
        if not is_pipe:
            return cls(None)
        os.set_inheritable(fd, False)  # never leak it into a child
        return cls(fd)

    def ready(self) -> None:
        """Report success: exactly `0\\n` in one write (dockerd reads 2 bytes once)."""
        self._send(READY)

    def fail(self, message: str) -> None:
        """Report a startup failure: `1\\n` and the message, no trailing newline."""
        self._send(FAILED + message.encode("utf-8", "replace"))

    def hand_over(self) -> int | None:
        """Give the pipe to whoever reports instead (the shared-mode stand-in shell)."""
        fd, self.fd = self.fd, None
        return fd

    def _send(self, data: bytes) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            os.write(fd, data)
        except OSError:
            pass  # the parent stopped listening; there is nobody left to tell
        finally:
            os.close(fd)
