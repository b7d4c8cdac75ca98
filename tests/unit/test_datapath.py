"""The data path in-process: Relay, pumps and Reactor over socketpairs, on asyncio's loops.

(Our own epoll loop runs the same Reactor; tests/unit/test_epoll_loop.py drives it.)
"""

import asyncio
import gc
import os
import socket
import struct
from collections.abc import Callable

import pytest
import uvloop

from proxy.listen import IP_PKTINFO
from proxy.pumps import BULK_READ, COPY_CHUNK, PUMPS, AutoPump, PipePool
from proxy.reactor import IN, Reactor
from proxy.relay import DONE, Relay
from proxy.udp import reply_cmsg
from tests.conftest import free_port

ASYNCIO_LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


@pytest.fixture(params=sorted(ASYNCIO_LOOPS))
def asyncio_loop(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    return ASYNCIO_LOOPS[str(request.param)]


def _attached_reactor(loop: asyncio.AbstractEventLoop) -> Reactor:
    """A Reactor watched by the loop, as proxy.loops attaches it."""
    reactor = Reactor()
    loop.add_reader(reactor.fileno(), reactor.dispatch)
    return reactor


def _detach(loop: asyncio.AbstractEventLoop, reactor: Reactor) -> None:
    loop.remove_reader(reactor.fileno())
    reactor.close()


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _recv(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    out = b""
    while len(out) < size:
        chunk = await loop.sock_recv(sock, size - len(out))
        if not chunk:
            break
        out += chunk
    return out


@pytest.mark.parametrize("pump", sorted(PUMPS))
def test_relay_half_close_and_release(
    asyncio_loop: Callable[[], asyncio.AbstractEventLoop], pump: str
) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        reactor = _attached_reactor(loop)
        client_far, client = _pair()
        backend, backend_far = _pair()
        closed: list[Relay] = []
        relay = Relay(reactor, client, backend, PUMPS[pump](), closed.append)
        relay.start()
        payload = os.urandom(3 << 20)
        send = loop.create_task(loop.sock_sendall(client_far, payload))
        assert await _recv(backend_far, len(payload)) == payload
        await send
        client_far.shutdown(socket.SHUT_WR)
        assert await _recv(backend_far, 1) == b""  # EOF reached the backend
        await loop.sock_sendall(backend_far, b"late reply")
        assert await _recv(client_far, 10) == b"late reply"  # the other way still flows
        assert not closed
        backend_far.shutdown(socket.SHUT_WR)
        assert await _recv(client_far, 1) == b""
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.01)
        assert closed == [relay]
        assert all(d.state == DONE for d in relay.directions)
        assert client.fileno() == -1
        assert backend.fileno() == -1
        assert len(reactor) == 0  # nothing left registered
        _detach(loop, reactor)
        client_far.close()
        backend_far.close()

    with asyncio.Runner(loop_factory=asyncio_loop) as runner:
        runner.run(body())


def _spliced(pump: AutoPump) -> bool:
    return pump.spliced  # a call, so the checker does not pin the property after one assert


def test_auto_pump_copies_small_messages_and_splices_bulk() -> None:
    src_far, src = _pair()
    dst, dst_far = _pair()
    pump = AutoPump(src, dst, bytearray(COPY_CHUNK), PipePool())
    src_far.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert pump.fill() == 18 and pump.flush()
    assert not _spliced(pump) and dst_far.recv(100) == b"GET / HTTP/1.1\r\n\r\n"
    bulk = os.urandom(BULK_READ)
    src_far.sendall(bulk)
    assert pump.fill() == BULK_READ and pump.flush()
    assert _spliced(pump)
    src_far.sendall(b"after")
    assert pump.fill() == 5 and pump.flush()
    got = b""
    while len(got) < BULK_READ + 5:
        got += dst_far.recv(1 << 20)
    assert got == bulk + b"after"  # order kept across the switch
    pump.release()
    for s in (src_far, src, dst, dst_far):
        s.close()


def test_pipe_pool_reuses_and_caps() -> None:
    pool = PipePool(max_idle=2)
    pipes = [pool.take() for _ in range(4)]
    assert len({p[0] for p in pipes}) == 4
    for p in pipes:
        pool.give(p)
    again = pool.take()
    assert again in pipes[:2]  # reused, not new
    with pytest.raises(OSError):
        os.fstat(pipes[3][0])  # beyond max_idle, closed
    pool.give(again)
    pool.close()
    for p in pipes[:2]:
        with pytest.raises(OSError):
            os.fstat(p[0])


def test_reactor_delivers_errors_and_forgets(
    asyncio_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    """An error condition (POLLERR) still reaches the handler, on uvloop too."""

    async def body() -> None:
        loop = asyncio.get_running_loop()
        reactor = _attached_reactor(loop)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setblocking(False)
        port = free_port(socket.SOCK_DGRAM)
        u.connect(("127.0.0.1", port))  # nobody listens: ICMP errors arrive
        seen: list[object] = []

        def on_event(events: int) -> None:
            try:
                seen.append(u.recv(10))
            except OSError as e:
                seen.append(type(e))

        reactor.watch(u.fileno(), IN, on_event)
        for _ in range(3):
            try:
                u.send(b"x")
            except ConnectionRefusedError:
                pass
            await asyncio.sleep(0.05)
        assert seen.count(ConnectionRefusedError) >= 2, seen
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as backend:
            backend.bind(("127.0.0.1", port))
            for _ in range(2):
                try:
                    u.send(b"y")
                    break
                except ConnectionRefusedError:
                    continue
            _, peer = backend.recvfrom(10)
            backend.sendto(b"reply", peer)
            await asyncio.sleep(0.05)
        assert b"reply" in seen  # still watched after the errors
        reactor.forget(u.fileno())
        reactor.forget(u.fileno())  # absence-tolerant
        assert len(reactor) == 0
        u.close()
        _detach(loop, reactor)

    with asyncio.Runner(loop_factory=asyncio_loop) as runner:
        runner.run(body())


def test_reply_cmsg_ipv4_and_ipv6() -> None:
    v4 = struct.pack("=i4s4s", 3, socket.inet_aton("10.0.0.1"), socket.inet_aton("127.0.0.2"))
    assert reply_cmsg([(socket.IPPROTO_IP, IP_PKTINFO, v4)]) == [
        (
            socket.IPPROTO_IP,
            IP_PKTINFO,
            struct.pack("=i4s4s", 0, socket.inet_aton("127.0.0.2"), bytes(4)),
        )
    ]
    v6 = socket.inet_pton(socket.AF_INET6, "fe80::1") + struct.pack("=i", 7)
    assert reply_cmsg([(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, v6)]) == [
        (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, v6)
    ]
    assert reply_cmsg([]) == []


def test_a_closed_relay_is_freed_by_refcount_alone() -> None:
    """proxy.loops keeps the cyclic collector off the hot path: a relay must hold no cycle."""
    reactor = Reactor()
    client_far, client = _pair()
    backend, backend_far = _pair()
    gc.collect()
    gc.disable()
    try:
        closes: list[int] = []  # as StreamProxy's callback, it must not keep the relay
        relay = Relay(reactor, client, backend, PUMPS["splice"](), lambda r: closes.append(1))
        relay.start()
        client_far.sendall(b"x")
        reactor.dispatch(1.0)  # one event through the handlers, so they are built and called
        assert backend_far.recv(1) == b"x"
        relay.close()
        assert closes == [1]
        del relay
        assert gc.collect() == 0  # nothing was left for the collector to find
    finally:
        gc.enable()
        reactor.close()
        client_far.close()
        backend_far.close()
