"""Shared mode: invocations hand their port to one hub; a dead hub or stand-in loses nothing."""

import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.echo import TCPEcho, recv_exactly
from tests.support.procs import Proc, all_procs
from tests.support.proxyproc import ProxyProcess, hub_pids, kill_hubs, pyproxy_path, tcp_args


def served(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            c.sendall(b"ok?")
            return recv_exactly(c, 3) == b"ok?"
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def group(loop_name: str) -> Iterator[str]:
    """A hub of this test's own, killed at the end."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    kill_hubs(name)


def start(group: str, loop: str, port: int, backend: int) -> ProxyProcess:
    env = {**os.environ, "PYPROXY_HUB": group}
    args = [*tcp_args("127.0.0.1", port, "127.0.0.1", backend), "-loop", loop, "-mode", "shared"]
    return ProxyProcess(args, env=env).ready()


def test_ports_share_one_hub_and_the_stand_in_is_small(group: str, loop_name: str) -> None:
    with TCPEcho() as echo:
        procs = [start(group, loop_name, free_port(), echo.port) for _ in range(5)]
        try:
            assert len(hub_pids(group)) == 1
            for p in procs:
                status = Path(f"/proc/{p.proc.pid}/status").read_text()
                assert status.startswith(("Name:\tsh\n", "Name:\tdash\n")), status[:80]
                rss_kib = int(status.split("VmRSS:")[1].split()[0])
                assert rss_kib < 4096  # a shell, not a 20 MB interpreter
            for p in procs:
                assert p.stop() == 0
        finally:
            for p in procs:
                p.close()


def _children(pid: int) -> list[Proc]:
    return [p for p in all_procs() if p.ppid == pid]


def test_killed_stand_in_frees_its_port(group: str, loop_name: str) -> None:
    with TCPEcho() as echo:
        port = free_port()
        p = start(group, loop_name, port, echo.port)
        assert served(port)
        # The stand-in's one child, which watches the hub's connection (see proxy.handoff).
        pid = p.proc.pid
        assert wait_for(lambda: _children(pid) != [], 2.0)
        (reader,) = _children(pid)  # a Proc: pid and start time, never a recycled pid
        os.kill(pid, signal.SIGKILL)
        p.proc.wait(5)
        assert wait_for(lambda: not served(port), 2.0)
        # The hub watches the stand-in's pid, releases its connection, and the orphaned
        # reader reads EOF and exits: nothing is left behind.
        assert wait_for(lambda: not reader.alive(), 2.0)
        with socket.socket() as s:  # dockerd can bind it again
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()


def test_dead_hub_fails_over_to_standalone_on_the_same_socket(group: str, loop_name: str) -> None:
    with TCPEcho() as echo:
        ports = [free_port(), free_port()]
        procs = [start(group, loop_name, port, echo.port) for port in ports]
        try:
            assert all(served(port) for port in ports)
            (hub,) = hub_pids(group)
            os.kill(hub, signal.SIGKILL)
            for p, port in zip(procs, ports, strict=True):
                assert wait_for(partial(served, port), 10.0)
                assert p.proc.poll() is None  # the same pid dockerd watches, now a pyproxy
                cmdline = Path(f"/proc/{p.proc.pid}/cmdline").read_bytes()
                assert b"-mode=standalone" in cmdline
            assert hub_pids(group) == []
            for p, port in zip(procs, ports, strict=True):
                assert p.stop() == 0
                assert not served(port)
        finally:
            for p in procs:
                p.close()


def test_stop_right_after_ready_exits_zero(group: str, loop_name: str) -> None:
    """dockerd may stop a proxy the moment it reported ready: no window for a bad exit."""
    with TCPEcho() as echo:
        for _ in range(10):
            port = free_port()
            p = start(group, loop_name, port, echo.port)
            try:
                assert p.stop(signal.SIGINT) == 0
                assert not served(port)
            finally:
                p.close()


def start_multi(group: str, loop: str, ports: list[int], backend: int) -> ProxyProcess:
    env = {**os.environ, "PYPROXY_HUB": group}
    maps = [a for p in ports for a in ("-map", f"127.0.0.1:{p}:127.0.0.1:{backend}")]
    return ProxyProcess([*maps, "-loop", loop, "-mode", "shared"], env=env).ready()


def test_many_mappings_in_one_stand_in_share_the_hub_and_survive_its_death(
    group: str, loop_name: str
) -> None:
    """What the engine starts per container: every port of it in one small stand-in."""
    with TCPEcho() as echo:
        ports = [free_port() for _ in range(12)]
        p = start_multi(group, loop_name, ports, echo.port)
        try:
            assert all(served(port) for port in ports)
            status = Path(f"/proc/{p.proc.pid}/status").read_text()
            assert status.startswith(("Name:\tsh\n", "Name:\tdash\n")), status[:80]
            (hub,) = hub_pids(group)
            os.kill(hub, signal.SIGKILL)
            # The stand-in kept every listener and hands them all to a standalone pyproxy.
            assert wait_for(lambda: all(served(port) for port in ports), 10.0)
            cmdline = Path(f"/proc/{p.proc.pid}/cmdline").read_bytes()
            assert b"-mode=standalone" in cmdline
            assert p.stop() == 0
            assert not any(served(port) for port in ports)
        finally:
            p.close()


def test_stopping_a_many_mapping_stand_in_frees_all_its_ports(group: str, loop_name: str) -> None:
    with TCPEcho() as echo:
        ports = [free_port() for _ in range(5)]
        p = start_multi(group, loop_name, ports, echo.port)
        other_port = free_port()
        other = start(group, loop_name, other_port, echo.port)
        try:
            assert p.stop() == 0
            for port in ports:
                with socket.socket() as s:  # free again at once
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
            assert served(other_port)  # the hub still serves the others
            assert other.stop() == 0
        finally:
            p.close()
            other.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("mode", ["shared", "standalone"])
def test_stop_signals_work_when_started_with_them_ignored(
    group: str, loop_name: str, mode: str, sig: int
) -> None:
    """A background job of a non-interactive shell (`dockerd &` in a script) starts with SIGINT
    ignored, and its children inherit that. docker-proxy (Go's signal.Notify) still stops on
    it; so must we, though a shell cannot trap a signal ignored on entry."""
    env = {**os.environ, "PYPROXY_HUB": group}
    with TCPEcho() as echo:
        port = free_port()
        args = [*tcp_args("127.0.0.1", port, "127.0.0.1", echo.port), "-loop", loop_name,
                "-mode", mode]  # fmt: skip
        ignoring = ["-c", 'trap "" INT TERM; exec "$@"', "sh", pyproxy_path(), *args]
        p = ProxyProcess(ignoring, binary="/bin/sh", env=env).ready()
        try:
            assert served(port)
            assert p.stop(sig) == 0
            assert not served(port)
        finally:
            p.close()
