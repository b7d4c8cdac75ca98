"""One lifecycle change at a time per container, across processes."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from netns.flock import flocked


@contextlib.contextmanager
def container_lock(container_dir: Path) -> Iterator[None]:
    """Hold the container's lock; it is released if the holder dies (kill -9 included).

    The directory must exist (the store made it): FileNotFoundError once it is removed.
    """
    with flocked(container_dir / ".lock", create=False):
        yield


def try_container_lock(container_dir: Path) -> contextlib.AbstractContextManager[bool]:
    """Take the lock if it is free; yields whether we hold it (listings must not block)."""
    return flocked(container_dir / ".lock", wait=False)
