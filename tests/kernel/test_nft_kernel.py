"""Our nftables table on the real kernel, in a test namespace: reload after `nft flush ruleset`,
other tables untouched, atomic batches, constant rule count, and the libnftables 1.0.6 crash
that check_batch keeps out of the process (checklist 34, 35, 37, 38)."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import netns
from bridge import Driver, endpoint_request, network_config, nftgen, port_mapping
from bridge.errors import FirewallError
from bridge.networks import ensure_network
from bridge.nftclient import LibNft
from tests.support.net import Server, World, request, sh, uid, world_fixture

pytestmark = pytest.mark.root

world = pytest.fixture(world_fixture)


@pytest.fixture
def driver(world: World, tmp_path: Path) -> Iterator[Driver]:
    d = Driver(tmp_path / "state", netns=world.host, table=f"pyt_{uid()}")
    d.create_network(network_config("n1", "10.242.1.0/24", bridge="pytbr1", veth_prefix="pyt"))
    yield d
    d.close()


def rule_count(world: World, table: str) -> int:
    objs = json.loads(sh("nft", "-j", "list", "table", "inet", table, ns=world.host))
    return sum(1 for o in objs["nftables"] if "rule" in o)


def test_reload_restores_after_flush_ruleset(world: World, driver: Driver) -> None:
    c1 = world.ns.new("c1")
    driver.add_endpoint("n1", endpoint_request("c1", c1, ports=[port_mapping(8080, 80)]))
    server = Server(c1, 80, "c1")
    try:
        assert request(world.outside, world.host_ip, 8080) == "c1"
        listing = sh("nft", "list", "ruleset", ns=world.host)
        sh("nft", "flush", "ruleset", ns=world.host)  # inside the test's own namespace
        assert request(world.outside, world.host_ip, 8080, timeout=0.5) == ""
        driver.reload()
        assert sh("nft", "list", "ruleset", ns=world.host) == listing
        assert request(world.outside, world.host_ip, 8080) == "c1"
    finally:
        server.close()


def test_other_tables_untouched(world: World, driver: Driver) -> None:
    user = (
        "table inet pytuser {\n\tchain c {\n"
        "\t\ttype filter hook forward priority 10; policy accept;\n\t\tcounter\n\t}\n}\n"
    )
    sh("nft", "-f", "-", ns=world.host, input=user)
    before = sh("nft", "-s", "list", "table", "inet", "pytuser", ns=world.host)
    c1 = world.ns.new("c1")
    driver.add_endpoint("n1", endpoint_request("c1", c1, ports=[port_mapping(8080, 80)]))
    driver.reload()
    driver.gc()
    driver.remove_endpoint("n1", "c1")
    driver.delete_network("n1")
    driver.delete_table()
    assert sh("nft", "-s", "list", "table", "inet", "pytuser", ns=world.host) == before
    assert sh("nft", "list", "tables", ns=world.host).split() == ["table", "inet", "pytuser"]


def test_failing_batch_changes_nothing(world: World, driver: Driver) -> None:
    before = sh("nft", "list", "ruleset", ns=world.host)
    render = driver.host.render
    batch = [
        *render.port_elements("add", (port_mapping(8080, 80),), "10.242.1.2"),
        *render.port_elements("delete", (port_mapping(9999, 80),), "10.242.1.2"),
    ]
    with pytest.raises(FirewallError):
        driver.host.nft.run(batch)
    assert sh("nft", "list", "ruleset", ns=world.host) == before


def test_rule_count_does_not_grow_with_ports(world: World, driver: Driver) -> None:
    table = driver.host.render.name
    c1, c2 = world.ns.new("c1"), world.ns.new("c2")
    driver.add_endpoint("n1", endpoint_request("c1", c1, ports=[port_mapping(8000, 80)]))
    one = rule_count(world, table)
    driver.add_endpoint("n1", endpoint_request("c2", c2))
    driver.publish("n1", "c2", "eth0", [port_mapping(10000 + i, 80, "udp") for i in range(500)])
    assert rule_count(world, table) == one
    elems = sh("nft", "list", "map", "inet", table, "pm4_any_port", ns=world.host)
    assert elems.count(": 80") == 501


CRASHER = """
import nftables
ctx = nftables.Nftables()
t = "pytcrash"
print(ctx.json_cmd({"nftables": [
    {"add": {"table": {"family": "ip", "name": t}}},
    {"add": {"map": {"family": "ip", "table": t, "name": "m", "type": "inet_service",
                      "map": ["ipv4_addr", "inet_service"]}}},
    {"add": {"chain": {"family": "ip", "table": t, "name": "c", "type": "nat",
                        "hook": "prerouting", "prio": -100, "policy": "accept"}}},
    {"add": {"rule": {"family": "ip", "table": t, "chain": "c", "expr": [{"dnat": {
        "family": "ip", "addr": {"map": {"key": {"payload": {"protocol": "tcp",
        "field": "dport"}}, "data": "@m"}}}}]}}},
]}), flush=True)
"""


def test_concat_data_map_is_refused_before_it_crashes(world: World) -> None:
    version = sh("nft", "--version")
    if "v1.0.6" in version:
        # The hazard is real on this version: the raw call kills its process with SIGSEGV.
        done = subprocess.run(
            ["ip", "netns", "exec", world.host, sys.executable, "-c", CRASHER],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == -11
    client = LibNft(world.host)
    batch: list[dict[str, Any]] = [
        {"add": {"table": {"family": "ip", "name": "pytcrash"}}},
        {
            "add": {
                "map": {
                    "family": "ip",
                    "table": "pytcrash",
                    "name": "m",
                    "type": "inet_service",
                    "map": ["ipv4_addr", "inet_service"],
                }
            }
        },
    ]
    with pytest.raises(FirewallError, match="concatenated"):
        client.run(batch)  # refused in Python: this test process is still alive
    assert "pytcrash" not in sh("nft", "list", "tables", ns=world.host)


def generation(world: World) -> int | None:
    gen = nftgen.Generation(netns.netlink_in(world.host, nftgen.NETLINK_NETFILTER))
    try:
        return gen.read()
    finally:
        gen.close()


def test_ensure_skips_only_a_provably_unchanged_ruleset(world: World, driver: Driver) -> None:
    """ensure_network(quick) re-applies our chains unless no transaction happened since it last
    applied the same batch (nftgen.py); any other commit, a flush above all, re-applies."""
    cfg = driver.network("n1")
    table = driver.host.render.name
    driver.ensure_network(cfg)  # applies and stamps
    listing = sh("nft", "list", "ruleset", ns=world.host)
    before = generation(world)
    assert before is not None
    ensure_network(driver.host, cfg, quick=True)
    assert generation(world) == before  # skipped: nothing committed
    sh("nft", "flush", "ruleset", ns=world.host)  # inside the test's own namespace
    ensure_network(driver.host, cfg, quick=True)
    assert sh("nft", "list", "ruleset", ns=world.host) == listing  # healed
    healed = generation(world)
    sh("nft", "add", "table", "inet", "pytother", ns=world.host)  # someone else's commit
    ensure_network(driver.host, cfg, quick=True)
    assert healed is not None and generation(world) == healed + 2  # theirs, then ours again
    assert rule_count(world, table) > 0
    sh("nft", "delete", "table", "inet", "pytother", ns=world.host)
    now = generation(world)
    stamp = (driver.host.state.root / "nft.gen").read_text().split()
    assert now is not None and len(stamp) == 4 and stamp[2] == str(now - 1)  # before the delete
