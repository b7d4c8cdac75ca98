"""Advisory locks on a directory's `.lock` file, shared by concurrent pyengine processes.

flock(2) is released by the kernel when its holder dies (kill -9 included), which is what lets
every engine command be killed at any moment without leaving a lock behind.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def flocked(directory: Path, *, wait: bool = True, create: bool = True) -> Iterator[bool]:
    """Hold `directory/.lock` exclusively; yield True once held.

    With wait=False, yield False at once when another process holds it, or when the directory
    is gone. With create=False a missing directory raises FileNotFoundError when waiting; a
    removed container's directory must never be brought back by its lock.
    """
    if wait and create:
        directory.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        if wait:
            raise
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
