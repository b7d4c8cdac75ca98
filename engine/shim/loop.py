"""A minimal epoll loop: fd callbacks, timers and signals through a wakeup pipe.

asyncio costs several MB per process; the shim needs readiness on a handful of fds.
"""

from __future__ import annotations

import heapq
import os
import select
import signal
import sys
import time
from collections.abc import Callable

READ = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
WRITE = select.EPOLLOUT


class Loop:
    """Single-threaded: every callback runs to completion before the next event."""

    __slots__ = ("_ep", "_fds", "_seq", "_signal_cb", "_timers", "_wake_r", "running")

    def __init__(self) -> None:
        self._ep = select.epoll()
        self._fds: dict[int, Callable[[int], None]] = {}
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._wake_r = -1
        self._signal_cb: Callable[[], None] | None = None
        self.running = False

    def add(self, fd: int, events: int, cb: Callable[[int], None]) -> None:
        if fd in self._fds:
            self._ep.modify(fd, events)
        else:
            self._ep.register(fd, events)
        self._fds[fd] = cb

    def modify(self, fd: int, events: int) -> None:
        if fd in self._fds:
            self._ep.modify(fd, events)

    def remove(self, fd: int) -> None:
        if self._fds.pop(fd, None) is not None:
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):
                pass

    def call_later(self, delay: float, cb: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, self._seq, cb))

    def on_signals(self, signals: tuple[int, ...], cb: Callable[[], None]) -> None:
        """cb runs in the loop (not in the handler) after any of `signals` arrived."""
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_r = r
        self._signal_cb = cb
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for sig in signals:
            signal.signal(sig, _noop)
        self.add(r, READ, self._drain_wakeup)

    def _drain_wakeup(self, _events: int) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        if self._signal_cb is not None:
            self._signal_cb()

    def run(self) -> None:
        self.running = True
        while self.running:
            timeout = -1.0
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for fd, events in self._ep.poll(timeout):
                cb = self._fds.get(fd)
                if cb is not None:
                    self._guard(cb, events)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                self._guard(heapq.heappop(self._timers)[2])

    @staticmethod
    def _guard(cb: Callable[..., None], *args: int) -> None:
        """A failing callback (a full disk under the log, say) is logged, never fatal: the
        shim going down would orphan the container and lose its exit status."""
        try:
            cb(*args)
        except Exception as exc:
            sys.stderr.write(f"pyshim: {type(exc).__name__}: {exc}\n")

    def stop(self) -> None:
        self.running = False


def _noop(_sig: int, _frame: object) -> None:
    """A Python handler, so the C handler writes to the wakeup fd."""
