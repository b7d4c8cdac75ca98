"""Traffic through real bridges, veths and our nftables table, all inside test namespaces.

The "host" is a namespace of the test's (the driver's netns), "outside" hangs off it through an
uplink veth and has no route back to container subnets, so only masquerade brings replies home.
Checklist items (spec section 8): 14, 16, 18, 27-32, 39-42.
"""

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import netns
from bridge import Driver, NetworkConfig, endpoint_request, network_config, port_mapping
from tests.support.net import Server, World, request, sh, uid, world_fixture

pytestmark = pytest.mark.root

world = pytest.fixture(world_fixture)


@pytest.fixture
def driver(world: World, tmp_path: Path) -> Iterator[Driver]:
    d = Driver(tmp_path / "state", netns=world.host, table=f"pyt_{uid()}")
    yield d
    d.close()


def net(name: str, third: int, **kw: Any) -> NetworkConfig:
    return network_config(
        name, f"10.242.{third}.0/24", bridge=f"pytbr{third}", veth_prefix="pyt", **kw
    )


def test_containers_gateway_host_and_outside(world: World, driver: Driver) -> None:
    driver.create_network(net("n1", 1))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    r1 = driver.add_endpoint("n1", endpoint_request("c1", c1))
    r2 = driver.add_endpoint("n1", endpoint_request("c2", c2))
    assert (r1.ipv4, r2.ipv4) == ("10.242.1.2", "10.242.1.3")
    routes = sh("ip", "route", ns=c1)
    assert "default via 10.242.1.1 dev eth0" in routes
    assert "hairpin on" in sh("bridge", "-d", "link", "show", "dev", r1.host_veth, ns=world.host)
    s2 = Server(c2, 7000, "from-c2")
    s_host = Server(world.host, 7001, "from-host")
    s_out = Server(world.outside, 7002, "from-outside")
    try:
        assert request(c1, "10.242.1.3", 7000) == "from-c2"  # icc on
        assert request(c1, "10.242.1.1", 7001) == "from-host"  # gateway
        assert request(world.host, "10.242.1.3", 7000) == "from-c2"  # host -> container
        assert request(c1, world.outside_ip, 7002) == "from-outside"  # masquerade
        assert s_out.peers == [world.host_ip]
    finally:
        for s in (s2, s_host, s_out):
            s.close()


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_published_ports_wildcard_specific_localhost_hairpin(
    world: World, driver: Driver, proto: str
) -> None:
    driver.create_network(net("n1", 1))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    ports = [
        port_mapping(8080, 80, proto),  # wildcard
        port_mapping(8081, 81, proto, world.host_ip),  # host-IP specific
    ]
    driver.add_endpoint("n1", endpoint_request("c1", c1, ports=ports))
    driver.add_endpoint("n1", endpoint_request("c2", c2))
    s80, s81 = Server(c1, 80, "p80", proto), Server(c1, 81, "p81", proto)
    try:
        assert request(world.outside, world.host_ip, 8080, proto) == "p80"
        assert request(world.outside, world.host_ip, 8081, proto) == "p81"
        # wildcard matches every local address, the specific one only its own
        assert request(world.host, "10.242.1.1", 8080, proto) == "p80"
        assert request(world.host, "10.242.1.1", 8081, proto) == ""
        assert request(world.host, "127.0.0.1", 8080, proto) == "p80"
        # hairpin: the container itself and its neighbour through the host address
        assert request(c1, world.host_ip, 8080, proto) == "p80"
        assert request(c2, world.host_ip, 8081, proto) == "p81"
    finally:
        s80.close()
        s81.close()


def test_tcp_and_udp_share_a_port_number(world: World, driver: Driver) -> None:
    driver.create_network(net("n1", 1))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    driver.add_endpoint("n1", endpoint_request("c1", c1, ports=[port_mapping(9000, 90, "tcp")]))
    driver.add_endpoint("n1", endpoint_request("c2", c2, ports=[port_mapping(9000, 90, "udp")]))
    st, su = Server(c1, 90, "tcp-c1", "tcp"), Server(c2, 90, "udp-c2", "udp")
    try:
        assert request(world.outside, world.host_ip, 9000, "tcp") == "tcp-c1"
        assert request(world.outside, world.host_ip, 9000, "udp") == "udp-c2"
    finally:
        st.close()
        su.close()


def test_isolation_between_networks_and_unpublished_ports(world: World, driver: Driver) -> None:
    driver.create_network(net("n1", 1))
    driver.create_network(net("n2", 2))
    a, b = world.ns.new("a"), world.ns.new("b")
    driver.add_endpoint("n1", endpoint_request("a", a))
    driver.add_endpoint("n2", endpoint_request("b", b, ports=[port_mapping(8443, 443)]))
    sb = Server(b, 7000, "b-7000")
    sb443 = Server(b, 443, "b-443")
    # Let outside route straight to the container subnet: the direct-route drop must hold.
    sh("ip", "route", "add", "10.242.2.0/24", "via", world.host_ip, ns=world.outside)
    try:
        assert request(a, "10.242.2.2", 7000, timeout=0.5) == ""  # isolated networks
        assert request(world.outside, "10.242.2.2", 7000, timeout=0.5) == ""  # unpublished
        assert request(world.outside, world.host_ip, 8443) == "b-443"  # published
        assert request(a, world.host_ip, 8443) == "b-443"  # published, from another network
        assert request(world.host, "10.242.2.2", 7000) == "b-7000"  # the host still can
    finally:
        sb.close()
        sb443.close()


def test_icc_off_blocks_neighbours_only(world: World, driver: Driver) -> None:
    driver.create_network(net("n1", 1, icc=False))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    driver.add_endpoint("n1", endpoint_request("c1", c1))
    driver.add_endpoint("n1", endpoint_request("c2", c2))
    s2, s_out = Server(c2, 7000, "c2"), Server(world.outside, 7002, "out")
    try:
        assert request(c1, "10.242.1.3", 7000, timeout=0.5) == ""
        assert request(world.host, "10.242.1.3", 7000) == "c2"
        assert request(c1, world.outside_ip, 7002) == "out"
    finally:
        s2.close()
        s_out.close()


def test_internal_network_has_no_way_out(world: World, driver: Driver) -> None:
    driver.create_network(net("n1", 1, internal=True))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    driver.add_endpoint("n1", endpoint_request("c1", c1))
    driver.add_endpoint("n1", endpoint_request("c2", c2))
    assert "default" not in sh("ip", "route", ns=c1)
    sh("ip", "route", "add", "default", "via", "10.242.1.1", ns=c1)  # even if the user adds one
    s2, s_out = Server(c2, 7000, "c2"), Server(world.outside, 7002, "out")
    try:
        assert request(c1, "10.242.1.3", 7000) == "c2"
        assert request(c1, world.outside_ip, 7002, timeout=0.5) == ""
        assert s_out.peers == []
    finally:
        s2.close()
        s_out.close()


def test_ipv6_endpoint(world: World, driver: Driver) -> None:
    driver.create_network(net("n6", 6, subnet6="fd42:242:6::/64"))
    c1 = world.ns.new("c1")
    rec = driver.add_endpoint("n6", endpoint_request("c1", c1))
    assert rec.ips == ("10.242.6.2", "fd42:242:6::2")
    assert "fd42:242:6::1" in sh("ip", "-6", "addr", "show", "dev", "pytbr6", ns=world.host)
    assert "default via fd42:242:6::1" in sh("ip", "-6", "route", ns=c1)
    assert sh("sysctl", "-n", "net.ipv6.conf.pytbr6.accept_ra", ns=world.host).strip() == "0"
    # no DAD on the bridge: its tentative link-local address cost the first connection 2 s
    assert sh("sysctl", "-n", "net.ipv6.conf.pytbr6.accept_dad", ns=world.host).strip() == "0"
    srv = netns.socket_in(world.host, socket.AF_INET6, socket.SOCK_STREAM)
    cli = netns.socket_in(c1, socket.AF_INET6, socket.SOCK_STREAM)
    with srv, cli:
        srv.bind(("fd42:242:6::1", 7006))
        srv.listen(1)
        cli.settimeout(2)
        cli.connect(("fd42:242:6::1", 7006))
        conn, peer = srv.accept()
        conn.close()
        assert peer[0] == "fd42:242:6::2"


def test_ipv6_published_ports_hairpin_and_masquerade(world: World, driver: Driver) -> None:
    host6, out6 = "fd42:242:250::1", "fd42:242:250::2"
    up = f"{world.ns.prefix}u"
    sh("ip", "-6", "addr", "add", f"{host6}/64", "dev", up, "nodad", ns=world.host)
    sh("ip", "-6", "addr", "add", f"{out6}/64", "dev", "eth0", "nodad", ns=world.outside)
    driver.create_network(net("n6", 6, subnet6="fd42:242:6::/64"))
    # no DAD on the bridge: its tentative link-local address cost the first connection 2 s
    assert netns.read_sysctl(world.host, "net.ipv6.conf.pytbr6.accept_dad") == "0"
    c1 = world.ns.new("c1")
    ports = [port_mapping(8080, 80), port_mapping(8086, 86, host_ip=host6)]
    driver.add_endpoint("n6", endpoint_request("c1", c1, ports=ports))
    s80, s86 = Server(c1, 80, "v6-80", host="::"), Server(c1, 86, "v6-86", host="::")
    s_out = Server(world.outside, 7002, "out6", host="::")
    try:
        assert request(world.outside, host6, 8080) == "v6-80"  # wildcard, IPv6
        assert request(world.outside, world.host_ip, 8080) == "v6-80"  # and IPv4
        assert request(world.outside, host6, 8086) == "v6-86"  # specific IPv6 host IP
        assert request(world.outside, world.host_ip, 8086, timeout=0.5) == ""
        assert request(c1, host6, 8080) == "v6-80"  # hairpin over IPv6
        assert request(c1, out6, 7002) == "out6"  # outbound, masqueraded
        assert s_out.peers == [host6]
    finally:
        for s in (s80, s86, s_out):
            s.close()
    driver.remove_endpoint("n6", "c1")
    table = driver.host.render.name
    assert "elements" not in sh("nft", "list", "map", "inet", table, "pm6_any_addr", ns=world.host)


def test_a_readded_endpoint_announces_its_new_mac(world: World, driver: Driver) -> None:
    """Same address, new random MAC (a restarted container): a gratuitous ARP updates the
    neighbour's cache at once, instead of after seconds of failed unicast probes."""
    driver.create_network(net("n1", 1))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    first = driver.add_endpoint("n1", endpoint_request("c1", c1))
    driver.add_endpoint("n1", endpoint_request("c2", c2))
    s1 = Server(c1, 7000, "first")
    try:
        assert request(c2, first.ipv4 or "", 7000) == "first"  # c2 caches c1's MAC
    finally:
        s1.close()
    assert first.mac in sh("ip", "neigh", "show", first.ipv4 or "", ns=c2)
    driver.remove_endpoint("n1", "c1")
    time.sleep(1.2)  # a cached entry ignores announcements within its locktime (1 s)
    again = driver.add_endpoint("n1", endpoint_request("c1", c1, ip=first.ipv4))
    assert (again.ipv4, again.mac != first.mac) == (first.ipv4, True)
    deadline = time.monotonic() + 5  # bounds a hang; the update is one frame away
    while again.mac not in sh("ip", "neigh", "show", first.ipv4 or "", ns=c2):
        assert time.monotonic() < deadline, "c2 still has the old MAC for c1's address"
        time.sleep(0.05)
