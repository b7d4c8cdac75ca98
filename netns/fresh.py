"""Run a function on a new OS thread, wait for it, and let the thread end.

A thread that entered another namespace must die with it (README.md), so every namespace switch
of this package happens on such a thread.
"""

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def on_fresh_thread(fn: Callable[[], T]) -> T:
    """Return `fn()` run on a new thread; what it raises is raised here."""
    result: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised on the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=work, name="netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
