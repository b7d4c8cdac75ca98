"""One lifecycle change at a time per container, across processes (flock on a file)."""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def container_lock(container_dir: Path) -> Iterator[None]:
    """Hold the container's lock; it is released if the holder dies (kill -9 included)."""
    container_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(container_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_container_lock(container_dir: Path) -> Iterator[bool]:
    """Take the lock if it is free; yield whether we hold it (listings must not block)."""
    try:
        fd = os.open(container_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
