"""Our own event loop: the Reactor's epoll set, a timer heap, and a stop flag.

Every socket is already driven by the Reactor, so an asyncio loop only adds a second wait per
wakeup (its own epoll_wait, then ours), a layer of callbacks, and the import of asyncio and
uvloop (about 8 MB of a proxy's 16 MB). The proxies need nothing else from a loop but timers
(`Clock`), so this loop waits on the Reactor's epoll set itself.

SIGINT and SIGTERM stop it through a wakeup pipe in the same set: a Python signal handler only
sets a flag, and an interrupted epoll_wait is retried by Python (PEP 475), so the byte the
C-level handler writes to the pipe is what ends the wait.
"""

import heapq
import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from proxy.log import RateLimited
from proxy.reactor import IN, Reactor

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_errors = RateLimited()


class TimerHandle:
    """One scheduled call; cancelling it leaves it in the heap until its time comes."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class EpollLoop:
    """Runs a Reactor and timers in the calling thread until stop()."""

    def __init__(self, reactor: Reactor) -> None:
        self._reactor = reactor
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._order = itertools.count()  # ties run in the order they were scheduled
        self._stopping = False

    def time(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], object], /) -> TimerHandle:
        handle = TimerHandle(callback)
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._order), handle))
        return handle

    def stop(self) -> None:
        """End run() after the current batch of events and timers."""
        self._stopping = True

    def run(self) -> None:
        """Dispatch events and due timers until stop() is called (from either, or a signal).

        A stop that came before (a signal during start-up) is kept: the loop then never waits.
        """
        dispatch = self._reactor.dispatch
        while not self._stopping:
            dispatch(self._wait_time())
            if self._timers:
                self._run_due_timers()

    def _wait_time(self) -> float:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        if not timers:
            return -1
        return max(timers[0][0] - time.monotonic(), 0.0)

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        timers = self._timers
        # Only what was due on entry: a timer that schedules itself at 0 s cannot starve I/O.
        due = []
        while timers and timers[0][0] <= now:
            due.append(heapq.heappop(timers)[2])
        for handle in due:
            if not handle.cancelled:
                handle.cancelled = True
                try:
                    handle.callback()
                except Exception as e:  # as in asyncio: a failed callback is logged, not fatal
                    _errors.warn("timer", f"timer callback failed: {e!r}")

    @contextmanager
    def stopping_on_signals(self) -> Iterator[None]:
        """While inside, SIGINT and SIGTERM call stop(); the previous handlers come back after."""
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup = signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
        old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        self._reactor.watch(rfd, IN, lambda _events: _drain(rfd))
        try:
            yield
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_wakeup)
            self._reactor.forget(rfd)
            os.close(rfd)
            os.close(wfd)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
