"""Run one step on a thread while the caller does another (steps that mostly wait on the kernel
or on another process, so the GIL is not what they wait for)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def concurrently(fn: Callable[[str], None], arg: str) -> Iterator[None]:
    """`fn(arg)` on a thread for the duration of the block; joined at its end, and its error (if
    any) raised there, after the block's own work, so neither step is left half done."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fn(arg)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name=f"{getattr(fn, '__name__', 'step')}-{arg[:12]}")
    worker.start()
    try:
        yield
    finally:
        worker.join()
    if failure:
        raise failure[0]
