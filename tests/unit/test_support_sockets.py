"""The stress tests' judge of leftover sockets (tests.support.procfs) and their loopback beds
(tests.support.loopback), on real loopback sockets: a wrong verdict there would either hide a
proxy's leak or fail the suite for a peer that simply had not closed yet."""

import os
import socket
from collections import Counter
from pathlib import Path

import pytest

from tests.support.loopback import connect_from, fresh_subnet, port_space
from tests.support.procfs import (
    fd_kinds,
    fds_settled,
    held_tcp_sockets,
    leaked_sockets,
    unix_connections,
)


@pytest.fixture
def pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    """(listener, client, accepted) on a fresh loopback address."""
    net = fresh_subnet()
    listener = socket.create_server((net.proxy, 0))
    client = connect_from(next(net.clients()), listener.getsockname())
    accepted, _ = listener.accept()
    return listener, client, accepted


def test_a_socket_whose_peer_lives_is_not_a_leak(pair: tuple[socket.socket, ...]) -> None:
    listener, client, accepted = pair
    with listener, client, accepted:
        mine = {h.entry.local: h for h in held_tcp_sockets(os.getpid())}
        held = mine[f"{accepted.getsockname()[0]}:{accepted.getsockname()[1]}"]
        assert held.entry.state == "ESTAB"
        assert held.peer is not None and held.peer.state == "ESTAB"
        assert held.peer_held
        assert all(h.entry.state != "LISTEN" for h in mine.values())  # listeners are no leak


def test_a_socket_kept_after_its_peer_closed_is_a_leak(pair: tuple[socket.socket, ...]) -> None:
    listener, client, accepted = pair
    with listener, accepted:
        baseline = fd_kinds(os.getpid()) - Counter(socket=2)  # the pair closed
        client.close()  # the peer goes; `accepted` is kept, as a leaking proxy would
        leaked, _ = leaked_sockets(os.getpid())
        local = "{}:{}".format(*accepted.getsockname())
        assert [h.entry.local for h in leaked] == [local], leaked
        assert leaked[0].entry.state == "CLOSE-WAIT"
        # The closed end is an orphan (FIN-WAIT-1 until our ACK is processed, then FIN-WAIT-2)
        # or already the kernel's timewait entry standing for it: no process holds it.
        assert not leaked[0].peer_held
        assert leaked[0].describe().endswith(("peer gone", "(held by no process)"))
        with pytest.raises(AssertionError, match="1 sockets leaked"):
            fds_settled(os.getpid(), baseline, "copy", timeout=0.2)


def test_a_half_closed_relay_waiting_on_a_live_peer_is_not_a_leak(
    pair: tuple[socket.socket, ...],
) -> None:
    """One side's peer gone, the other's alive: a relay passing a half-close on, not a leak."""
    listener, client, accepted = pair
    net = fresh_subnet()
    with listener, accepted, socket.create_server((net.proxy, 0)) as backend_listener:
        backend_side = connect_from(next(net.clients()), backend_listener.getsockname())
        backend, _ = backend_listener.accept()
        with backend_side, backend:
            client.close()
            leaked, live = leaked_sockets(os.getpid())
            assert leaked == []
            assert len(live) >= 2  # backend_side and backend see each other alive


def test_fresh_subnets_are_unused_and_port_space_is_read() -> None:
    net = fresh_subnet()
    assert net.prefix.startswith("127.") and net.prefix != "127.0.0"
    assert net.proxy in net and net.backend in net and next(net.clients()) in net
    space = port_space()
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
    low, high = (int(x) for x in text.split())
    assert (space.low, space.high) == (low, high)
    assert space.ephemeral == high - low + 1
    assert "TIME_WAIT" in space.describe()


def test_unix_connections_are_the_connected_ends_not_the_listener(tmp_path: Path) -> None:
    """The engine tests' baseline waits on this: a shim at rest holds its listener only."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "s.sock"))
        listener.listen(1)
        before = unix_connections(os.getpid())
        assert f"socket:[{os.fstat(listener.fileno()).st_ino}]" not in before
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(tmp_path / "s.sock"))
            accepted, _ = listener.accept()
            ends = {f"socket:[{os.fstat(s.fileno()).st_ino}]" for s in (client, accepted)}
            assert ends <= set(unix_connections(os.getpid()))
            accepted.close()
        assert not ends & set(unix_connections(os.getpid()))
