"""Config validation: every bad input raises ConfigError naming the problem."""

from ipaddress import IPv4Address

import pytest

from bridge.config import (
    DuplicatePortError,
    PortMapping,
    default_bridge,
    endpoint_request,
    network_config,
    network_from_json,
    port_mapping,
)
from bridge.errors import ConfigError
from bridge.patterns import is_mac, is_name


def test_defaults_follow_docker() -> None:
    cfg = network_config("web", "10.242.1.0/24")
    assert cfg.gateway == IPv4Address("10.242.1.1")
    assert cfg.bridge == default_bridge("web") and len(cfg.bridge) == 15
    assert cfg.bridge.startswith("br-")
    assert (cfg.icc, cfg.masquerade, cfg.internal, cfg.default_route) == (True, True, False, True)
    internal = network_config("int", "10.242.2.0/24", internal=True)
    assert (internal.masquerade, internal.default_route) == (False, False)


def test_round_trip_through_json() -> None:
    cfg = network_config(
        "web",
        "10.242.1.0/24",
        subnet6="fd42:242::/64",
        mtu=1400,
        labels={"a": "b"},
        policy="round-robin",
    )
    assert network_from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subnet": "10.242.1.0/33"}, "not an IPv4 CIDR"),
        ({"subnet": "10.242.1.0/31"}, "smaller than /30"),
        ({"subnet": "fd42::/64"}, "not an IPv4 subnet"),
        ({"gateway": "10.242.2.1"}, "outside subnet"),
        ({"gateway": "10.242.1.255"}, "broadcast"),
        ({"range_start": "10.242.1.100", "range_end": "10.242.1.50"}, "after end"),
        ({"bridge": "a" * 16}, "longer than 15"),
        ({"bridge": "br/x"}, "'/'"),
        ({"mtu": 20}, "MTU"),
        ({"mtu": "x"}, "MTU"),
        ({"subnet6": "10.0.0.0/8"}, "IPv6"),
        ({"gateway6": "fd42::1"}, "no IPv6 subnet"),
        ({"veth_prefix": "toolongprefix"}, "veth prefix"),
        ({"policy": "random"}, "policy"),
    ],
)
def test_bad_networks(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"subnet": "10.242.1.0/24"} | kwargs
    subnet = args.pop("subnet")
    with pytest.raises(ConfigError, match=message):
        network_config("n", subnet, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a/b", "-x", "x" * 65, "a b"])
def test_bad_network_names(name: str) -> None:
    with pytest.raises(ConfigError, match="network name"):
        network_config(name, "10.242.1.0/24")


def test_ports() -> None:
    assert port_mapping(8080, 80).host_ip is None
    assert port_mapping("53", "53", "UDP", "10.0.0.1").key == ("udp", "10.0.0.1", 53)
    for bad in ((0, 80), (70000, 80), (80, "x")):
        with pytest.raises(ConfigError):
            port_mapping(*bad)
    with pytest.raises(ConfigError, match="protocol"):
        port_mapping(1, 1, "icmp")
    assert port_mapping(1, 1, "tcp", "::").host_ip is None  # wildcard, both families
    assert PortMapping("tcp", 1, 1, IPv4Address("0.0.0.0")).host_ip is None
    assert str(port_mapping(1, 1, "tcp", "fd42::1").host_ip) == "fd42::1"
    with pytest.raises(DuplicatePortError):
        endpoint_request(
            "c", "ns", ports=[port_mapping(1, 1), port_mapping(1, 2, host_ip="1.2.3.4")]
        )
    endpoint_request("c", "ns", ports=[port_mapping(1, 1, "tcp"), port_mapping(1, 1, "udp")])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"container_id": "a/b"}, "container id"),
        ({"ifname": "x" * 16}, "interface name"),
        ({"ifname": "e/0"}, "interface name"),
        ({"mac": "01:00:00:00:00:01"}, "unicast"),
        ({"mac": "zz"}, "MAC"),
        ({"ip": "fd42::2"}, "IPv4"),
        ({"netns": ""}, "namespace"),
    ],
)
def test_bad_endpoint_requests(kwargs: dict[str, str], message: str) -> None:
    args = {"container_id": "c1", "netns": "/run/netns/x"} | kwargs
    cid, ns = args.pop("container_id"), args.pop("netns")
    with pytest.raises(ConfigError, match=message):
        endpoint_request(cid, ns, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "name", "mac"),
    [
        ("a-b.c_d", True, False),
        ("0", True, False),
        ("02:42:ac:11:00:02", False, True),
        ("", False, False),
        ("-a", False, False),
        ("a/b", False, False),
        # A trailing newline is part of the value, never ignored (`$` would accept one).
        ("a\n", False, False),
        ("02:42:ac:11:00:02\n", False, False),
        ("02:42:AC:11:00:02", False, False),
        ("02:42:ac:11:00:0", False, False),
        ("\u0661", False, False),
    ],
)
def test_patterns(value: str, name: bool, mac: bool) -> None:
    assert (is_name(value), is_mac(value)) == (name, mac)
