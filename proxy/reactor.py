"""Our own epoll set: every socket's events, dispatched by descriptor.

Our own loop (proxy.epoll_loop) waits on it directly; asyncio and uvloop watch it through its
single descriptor (proxy.loops).

Why not `loop.add_reader` per socket: uvloop implements it with libuv's uv_poll, which stops
watching a descriptor for good as soon as the kernel flags an error on it (POLLERR). A TCP
reset, a refused non-blocking connect or a UDP ICMP error would then leave a connection or a
flow deaf forever. Here every event, errors included, reaches our handlers, and the data path
runs the same code on uvloop and asyncio. It also keeps per-event dispatch to a dict lookup.

Registrations are level-triggered; a descriptor whose mask drops to 0 is removed from the set,
otherwise a hung-up socket would report EPOLLHUP in a busy loop. Handlers must tolerate
spurious readiness (all sockets are non-blocking), because a descriptor closed and reused
within one batch can receive its predecessor's event.
"""

import select
from collections.abc import Callable

from proxy.log import RateLimited

IN, OUT = select.EPOLLIN, select.EPOLLOUT
ERR, HUP = select.EPOLLERR, select.EPOLLHUP
BATCH = 256

Handler = Callable[[int], None]

_errors = RateLimited()


class Reactor:
    """fd -> (event mask, handler(events)); dispatched from one loop reader."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._masks: dict[int, int] = {}
        self._handlers: dict[int, Handler] = {}

    def __len__(self) -> int:
        return len(self._masks)

    def watch(self, fd: int, mask: int, handler: Handler) -> None:
        """Watch fd for `mask` (0 stops watching) and route its events to `handler`."""
        current = self._masks.get(fd)
        if mask == 0:
            if current is not None:
                self.forget(fd)
            return
        if current is None:
            try:
                self._epoll.register(fd, mask)
            except FileExistsError:
                # A stale entry for a reused fd number whose socket lives on elsewhere: a
                # forget(closing_sole_copy=True) used where it did not hold. Take it over.
                self._epoll.modify(fd, mask)
        elif current != mask:
            self._epoll.modify(fd, mask)
        self._masks[fd] = mask
        self._handlers[fd] = handler

    def forget(self, fd: int, *, closing_sole_copy: bool = False) -> None:
        """Stop watching fd; call it before closing the descriptor. Absence is fine.

        `closing_sole_copy`: the caller closes fd next and no other descriptor, in this or
        another process, refers to the same socket, so the kernel drops it from the epoll set
        by itself and the epoll_ctl call is saved (two per relayed connection). Never for a
        socket received from or shared with another process, such as a listener.
        """
        if self._masks.pop(fd, None) is not None:
            del self._handlers[fd]
            if closing_sole_copy:
                return
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass  # already closed elsewhere: the kernel dropped it from the set

    def fileno(self) -> int:
        """The epoll descriptor, readable when any watched descriptor has an event."""
        return self._epoll.fileno()

    def dispatch(self, timeout: float = 0) -> None:
        """Wait up to `timeout` seconds (-1: until an event) and run the handlers of what came."""
        handlers = self._handlers
        for fd, events in self._epoll.poll(timeout, BATCH):
            handler = handlers.get(fd)
            if handler is None:
                continue
            try:
                handler(events)
            except Exception as e:  # a bug must cost one connection at most, never the loop
                _errors.warn("handler", f"event handler for fd {fd} failed: {e!r}")

    def close(self) -> None:
        self._epoll.close()
        self._masks.clear()
        self._handlers.clear()
