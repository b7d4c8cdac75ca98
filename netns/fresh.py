"""Run a function on a new OS thread, wait for it, and let the thread end.

A thread that entered another namespace must die with it (README.md), so every namespace switch
of this package happens on such a thread. Built on `_thread`: `threading` would cost an import
of its own in every `pybridge` start, and its bookkeeping (names, join, excepthook) is of no use
for a thread that is waited for at once and whose exceptions are re-raised on the caller's.
"""

from __future__ import annotations

import _thread
from collections.abc import Callable

TYPE_CHECKING = False  # typing's, without importing typing: see bridge/README.md
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def on_fresh_thread(fn: Callable[[], T]) -> T:
    """Return `fn()` run on a new thread; what it raises is raised here."""
    result: list[T] = []
    failure: list[BaseException] = []
    done = _thread.allocate_lock()
    done.acquire()

    def work() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised on the caller's thread
            failure.append(exc)
        finally:
            done.release()

    _thread.start_new_thread(work, ())
    done.acquire()
    if failure:
        raise failure[0]
    return result[0]
