"""Our own loop: timers in order, cancel, a failing callback, signals, and a relay on it."""

import os
import signal
import socket
import threading
import time

from proxy.epoll_loop import EpollLoop
from proxy.pumps import splice_pumps
from proxy.reactor import IN, Reactor
from proxy.relay import Relay


def test_timers_run_in_order_and_cancelled_ones_do_not() -> None:
    reactor = Reactor()
    loop = EpollLoop(reactor)
    ran: list[str] = []
    loop.call_later(0.03, lambda: ran.append("late"))
    loop.call_later(0.01, lambda: ran.append("early"))
    loop.call_later(0.01, lambda: ran.append("early, second"))  # same time: scheduling order
    loop.call_later(0.02, lambda: ran.append("cancelled")).cancel()
    loop.call_later(0.04, loop.stop)
    started = loop.time()
    loop.run()
    assert ran == ["early", "early, second", "late"]
    assert loop.time() - started >= 0.04  # it waited for the timers instead of returning early
    reactor.close()


def test_a_failing_callback_is_logged_and_the_loop_goes_on() -> None:
    reactor = Reactor()
    loop = EpollLoop(reactor)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("bug")

    loop.call_later(0, fail)
    loop.call_later(0.01, lambda: ran.append("after"))
    loop.call_later(0.02, loop.stop)
    loop.run()
    assert ran == ["after"]
    reactor.close()


def test_sigterm_stops_the_loop_and_restores_the_handlers() -> None:
    reactor = Reactor()
    loop = EpollLoop(reactor)
    before = signal.getsignal(signal.SIGTERM)
    # From another thread, while the main thread blocks in epoll_wait with no timer pending:
    # only the wakeup pipe can end that wait.
    killer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM))
    with loop.stopping_on_signals():
        assert len(reactor) == 1  # the wakeup pipe
        killer.start()
        loop.run()
    killer.join()
    assert signal.getsignal(signal.SIGTERM) is before
    assert len(reactor) == 0
    reactor.close()


def test_events_reach_handlers_and_a_relay_runs_on_it() -> None:
    reactor = Reactor()
    loop = EpollLoop(reactor)
    client_far, client = socket.socketpair()
    backend, backend_far = socket.socketpair()
    for s in (client, backend, client_far, backend_far):
        s.setblocking(False)
    closed: list[Relay] = []
    relay = Relay(reactor, client, backend, splice_pumps(), closed.append)
    relay.start()
    received = bytearray()
    payload = os.urandom(1 << 20)

    def on_backend_far(events: int) -> None:
        try:
            while chunk := backend_far.recv(1 << 16):
                received.extend(chunk)
        except BlockingIOError:
            return
        reactor.forget(backend_far.fileno())  # EOF: the client's shutdown was passed on
        loop.stop()

    reactor.watch(backend_far.fileno(), IN, on_backend_far)
    sender = threading.Thread(target=_send_all_then_shut, args=(client_far, payload))
    sender.start()
    loop.call_later(10, loop.stop)  # a guard: the test fails on the assert, it never hangs
    started = time.monotonic()
    loop.run()
    sender.join()
    assert bytes(received) == payload
    assert time.monotonic() - started < 10
    relay.close()
    assert closed == [relay]
    for s in (client_far, backend_far):
        s.close()
    reactor.close()


def _send_all_then_shut(sock: socket.socket, payload: bytes) -> None:
    sock.setblocking(True)
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)


def test_a_stop_before_run_is_kept() -> None:
    """A signal during start-up stops the loop before it ever waits."""
    reactor = Reactor()
    loop = EpollLoop(reactor)
    loop.stop()
    loop.call_later(1.0, loop.stop)  # a guard: without it, a lost stop would hang the test
    started = loop.time()
    loop.run()
    assert loop.time() - started < 0.5
    reactor.close()
