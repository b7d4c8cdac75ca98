"""Small file helpers of the task service: pid files, quiet unlinks, exec output targets."""

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


def open_output(path: str) -> int:
    if not path:
        return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    # O_RDWR on a FIFO never blocks waiting for a reader (Linux)
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
