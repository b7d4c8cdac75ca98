"""Small file helpers of the task service: pid files, quiet unlinks, exec stdio targets."""

from __future__ import annotations

import os
import stat


def read_pid_file(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, IsADirectoryError):
        pass


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def open_output(path: str) -> int:
    """A process's stdout or stderr: the path, or /dev/null when there is none."""
    if not path:
        return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    # O_RDWR on a FIFO never blocks waiting for a reader (Linux)
    if _is_fifo(path):
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)


def open_relay_output(path: str) -> int:
    """Where the shim itself copies an exec's terminal output: non-blocking, and write-only, so
    a FIFO whose reader has gone fails (EPIPE) instead of filling up behind a reader of our own.
    ENXIO here means nobody reads the FIFO any more: the engine gave up before the start."""
    if not path:
        return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    if _is_fifo(path):
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    os.set_blocking(fd, False)
    return fd


def open_input(path: str, *, blocking: bool = True) -> int:
    """An exec's stdin: the path (a FIFO the engine writes into), or /dev/null.

    A FIFO is opened non-blocking so that a writer that never came cannot hang the shim's
    single thread; the engine opens its end before the exec, so its EOF is the engine's.
    `blocking` then clears O_NONBLOCK, which the process would otherwise share (it lives on
    the open file description, not the fd)."""
    if not path:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    os.set_blocking(fd, blocking)
    return fd
