"""Named namespaces against `ip netns`, both ways, and work inside them without moving the
caller's thread (checklist 1-5)."""

import os
import socket
import subprocess

import pytest

import netns
from tests.conftest import require_binary, require_root
from tests.support.net import sh, uid

pytestmark = pytest.mark.root


@pytest.fixture
def name() -> object:
    require_root()
    require_binary("ip")
    made = f"pyt{uid()}"
    yield made
    netns.remove(made)
    subprocess.run(["ip", "netns", "del", made], capture_output=True, check=False)


def test_create_is_ip_netns_compatible(name: str) -> None:
    path = netns.create(name)
    assert path == f"/run/netns/{name}"
    assert name in sh("ip", "netns", "list")
    assert "lo" in sh("ip", "link", ns=name)  # `ip netns exec` enters it
    assert name in netns.list_names() and netns.exists(name)
    assert sh("ip", "-o", "link", ns=name).count(":") >= 2
    assert len(sh("ip", "-o", "link", ns=name).splitlines()) == 1  # only lo
    assert "state DOWN" in sh("ip", "link", "show", "lo", ns=name)
    netns.loopback_up(name)
    addrs = sh("ip", "addr", "show", "lo", ns=name)
    assert "127.0.0.1/8" in addrs and "::1/128" in addrs
    sh("ip", "netns", "del", name)  # iproute2 removes what we made
    assert not netns.exists(name) and name not in netns.list_names()


def test_ip_netns_add_is_usable_and_removable(name: str) -> None:
    sh("ip", "netns", "add", name)
    assert netns.exists(name)
    with netns.iproute_in(name) as ipr:
        assert [m.get_attr("IFLA_IFNAME") for m in ipr.get_links()] == ["lo"]
    assert netns.remove(name) is True
    assert name not in sh("ip", "netns", "list")


def test_existing_name_is_refused_and_kept(name: str) -> None:
    netns.create(name)
    netns.write_sysctl(name, "net.ipv4.ip_forward", "1")
    with pytest.raises(netns.NetnsExistsError, match="already exists"):
        netns.create(name)
    assert netns.read_sysctl(name, "net.ipv4.ip_forward") == "1"  # same namespace, intact


def test_remove_missing_is_a_no_op(name: str) -> None:
    assert netns.remove(name) is False
    with pytest.raises(netns.NetnsNotFoundError):
        netns.open_fd(name)
    with pytest.raises(netns.NetnsNameError):
        netns.create("bad/name")


def test_work_inside_without_moving_the_caller(name: str) -> None:
    netns.create(name)
    netns.loopback_up(name)
    mine = os.stat("/proc/thread-self/ns/net").st_ino
    inside = netns.call_in(name, lambda: os.stat("/proc/thread-self/ns/net").st_ino)
    assert inside != mine
    assert os.stat("/proc/thread-self/ns/net").st_ino == mine
    server = netns.socket_in(name, socket.AF_INET, socket.SOCK_STREAM)
    with server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        # the port is bound in the namespace, not here: our own loopback has nothing on it
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        client = netns.socket_in(name, socket.AF_INET, socket.SOCK_STREAM)
        with client:
            client.connect(("127.0.0.1", port))
            conn, _ = server.accept()
            conn.close()
    with pytest.raises(ZeroDivisionError):
        netns.call_in(name, lambda: 1 // 0)  # errors come back to the caller


def test_event_loop_thread_never_moves(name: str) -> None:
    """Netlink from an asyncio loop into a namespace: the loop's thread stays where it was."""
    import asyncio

    netns.create(name)

    async def main() -> list[str]:
        before = os.stat("/proc/thread-self/ns/net").st_ino
        ipr = netns.async_iproute_in(name)
        try:
            await ipr.setup_endpoint()
            names = [m.get_attr("IFLA_IFNAME") async for m in await ipr.get_links()]
        finally:
            ipr.close()
        assert os.stat("/proc/thread-self/ns/net").st_ino == before
        return names

    assert asyncio.run(main()) == ["lo"]
