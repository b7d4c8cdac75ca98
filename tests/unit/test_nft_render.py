"""The nftables renderer and the batch guard, against the FakeNft client (no root)."""

import pytest

from bridge.config import network_config, port_mapping
from bridge.errors import ConfigError, FirewallError
from bridge.nftclient import FakeNft, check_batch
from bridge.nftrender import Renderer

R = Renderer("pyt_unit")


def rules(cmds: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [c["add"]["rule"] for c in cmds if "rule" in c.get("add", {})]


def test_everything_in_our_tables_only() -> None:
    cfg = network_config("n", "10.242.1.0/24", bridge="pytbr1")
    for cmd in R.base() + R.network(cfg) + R.port_elements("add", (port_mapping(1, 2),), "x"):
        (obj,) = cmd.values()
        (spec,) = obj.values()
        assert spec.get("table", spec.get("name")) == "pyt_unit"
        assert spec["family"] in ("inet", "bridge")


def test_rule_count_is_independent_of_ports() -> None:
    ports = tuple(port_mapping(10000 + i, 80, "udp") for i in range(1000))
    one = R.port_elements("add", ports[:1], "10.242.1.2")
    many = R.port_elements("add", ports, "10.242.1.2")
    assert not rules(one) and not rules(many)
    assert len(many) == 2  # two elements lists (address map, port map)
    assert len(many[0]["add"]["element"]["elem"]) == 1000


def test_ipv6_elements() -> None:
    ports = (port_mapping(80, 8080), port_mapping(81, 81, "tcp", "fd42::1"))
    cmds = R.port_elements("add", ports, "10.242.1.2", "fd42:242::2")
    by_map = {c["add"]["element"]["name"]: c["add"]["element"]["elem"] for c in cmds}
    assert by_map["pm6_any_addr"] == [[{"concat": ["tcp", 80]}, "fd42:242::2"]]
    assert by_map["pm6_ip_port"] == [[{"concat": ["fd42::1", "tcp", 81]}, 81]]
    assert "pm6_any_addr" not in str(R.port_elements("add", ports[:1], "10.242.1.2"))
    with pytest.raises(ConfigError, match="no IPv6"):
        R.port_elements("add", ports[1:], "10.242.1.2")


def test_specific_and_wildcard_ports_use_their_maps() -> None:
    cmds = R.port_elements(
        "create", (port_mapping(80, 8080), port_mapping(53, 53, "udp", "10.0.0.1")), "10.242.1.2"
    )
    by_map = {c["create"]["element"]["name"]: c["create"]["element"]["elem"] for c in cmds}
    assert by_map["pm4_any_addr"] == [[{"concat": ["tcp", 80]}, "10.242.1.2"]]
    assert by_map["pm4_any_port"] == [[{"concat": ["tcp", 80]}, 8080]]
    assert by_map["pm4_ip_port"] == [[{"concat": ["10.0.0.1", "udp", 53]}, 53]]
    deletes = R.port_elements("delete", (port_mapping(80, 8080),), "10.242.1.2")
    assert deletes[0]["delete"]["element"]["elem"] == [{"concat": ["tcp", 80]}]


@pytest.mark.parametrize(
    ("kwargs", "expect", "absent"),
    [
        ({}, ["masquerade", '"drop"'], []),
        ({"masquerade": False}, [], ["oifname"]),
        ({"internal": True}, ['"drop"'], ["masquerade", "dnat"]),
        ({"isolate": False, "icc": True}, [], []),
    ],
)
def test_network_chains(kwargs: dict[str, bool], expect: list[str], absent: list[str]) -> None:
    cfg = network_config("n", "10.242.1.0/24", bridge="pytbr1", **kwargs)  # type: ignore[arg-type]
    text = str(R.network(cfg))
    for word in expect:
        assert word.strip('"') in text
    chain_in = [r for r in rules(R.network(cfg)) if r["chain"] == "n-pytbr1-in"]
    if cfg.isolate or cfg.internal:
        assert chain_in[-1]["expr"] == [{"drop": None}]
    else:
        assert {"drop": None} not in chain_in[-1]["expr"]
    masq = [r for r in rules(R.network(cfg)) if r["chain"] == "n-pytbr1-masq"]
    assert bool(masq) == cfg.masquerade
    for word in absent:
        assert word not in str(masq)


def test_full_reload_recreates_tables_first() -> None:
    cmds = R.full([], [])
    assert list(cmds[0]) == ["add"] and list(cmds[2]) == ["delete"]
    assert {c["delete"]["table"]["family"] for c in cmds if "delete" in c} == {"inet", "bridge"}


def test_guard_refuses_the_crashing_map() -> None:
    bad = {
        "add": {
            "map": {
                "family": "ip",
                "table": "t",
                "name": "m",
                "type": "inet_service",
                "map": ["ipv4_addr", "inet_service"],
            }
        }
    }
    with pytest.raises(FirewallError, match="concatenated"):
        check_batch([bad])
    check_batch(R.base())  # our own declarations pass
    fake = FakeNft()
    with pytest.raises(FirewallError):
        fake.run([bad])
    assert fake.batches == []
    fake.run(R.base())
    assert len(fake.batches) == 1
