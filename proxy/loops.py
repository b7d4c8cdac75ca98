"""Event loops by name, and running a server on one until SIGINT or SIGTERM.

`epoll` is our own loop (proxy.epoll_loop); `uvloop` and `asyncio` watch the Reactor's epoll
descriptor as one reader. The heavy imports happen here, after the proxy reported ready, and
only for the loop chosen: the epoll loop imports neither asyncio nor uvloop.
"""

import gc
from collections.abc import Callable

from proxy.base import Clock
from proxy.reactor import Reactor

# start(clock, reactor, stop) begins serving and returns what closes it all once stopped;
# `stop` ends the loop from within (the hub leaves when idle).
Start = Callable[[Clock, Reactor, Callable[[], None]], Callable[[], None]]


# Container allocations between young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def quiet_collector() -> None:
    """Keep the cyclic collector off the per-connection path.

    Connections and flows are freed by refcount (the relay keeps no reference cycle, a unit
    test checks it), yet each allocates a dozen objects: at the default threshold a young
    collection ran every ~60 new connections and cost about 3% of the CPU under connection
    churn. What was built at start-up is frozen out of every collection; cycles, should any
    form, are still collected, only later.
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def run_until_stopped(loop_name: str, start: Start) -> None:
    """Serve on the named loop until SIGINT, SIGTERM or `stop`, then close."""
    quiet_collector()
    reactor = Reactor()
    try:
        if loop_name == "epoll":
            _run_epoll(reactor, start)
        else:
            _run_asyncio(loop_name, reactor, start)
    finally:
        reactor.close()


def _run_epoll(reactor: Reactor, start: Start) -> None:
    from proxy.epoll_loop import EpollLoop  # noqa: PLC0415 - only the chosen loop is imported

    loop = EpollLoop(reactor)
    with loop.stopping_on_signals():
        close = start(loop, reactor, loop.stop)
        try:
            loop.run()
        finally:
            close()


def _run_asyncio(loop_name: str, reactor: Reactor, start: Start) -> None:
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()

        def stop() -> None:
            if not stopped.done():
                stopped.set_result(None)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        loop.add_reader(reactor.fileno(), reactor.dispatch)
        close = start(loop, reactor, stop)
        try:
            await stopped
        finally:
            close()
            loop.remove_reader(reactor.fileno())

    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop_name == "uvloop":
        import uvloop  # noqa: PLC0415

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve())
