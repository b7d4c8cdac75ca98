"""Advisory locks on a file, shared by concurrent processes (the one lock helper of ours).

flock(2) is released by the kernel when its holder dies (kill -9 included), which is what lets
every engine command and CNI call be killed at any moment without leaving a lock behind. netns
is the bottom of the stack, so the helper the engine and bridge share lives here.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator


@contextlib.contextmanager
def flocked(
    path: str | os.PathLike[str], *, shared: bool = False, wait: bool = True, create: bool = True
) -> Iterator[bool]:
    """Hold flock(2) on the file `path` (created if missing); yield True once held.

    With wait=False, yield False at once when another process holds it, or when its directory
    is gone. With create=False a missing directory is not made: waiting raises
    FileNotFoundError (a removed container's directory must never be brought back by its lock).
    """
    if wait and create:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        if wait:
            raise
        yield False
        return
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def hold(path: str | os.PathLike[str]) -> int | None:
    """Take flock(2) on `path` without waiting and keep it: the descriptor that holds it, to
    close when done (a process forked meanwhile must close its copy, or it holds it too), or
    None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
