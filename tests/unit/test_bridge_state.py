"""State files and port-ownership rules, without root."""

from pathlib import Path

import pytest

from bridge.config import network_config, port_mapping
from bridge.endpoints import check_ports
from bridge.errors import PortConflictError
from bridge.host import host_veth_name
from bridge.ipam import Owner
from bridge.state import EndpointRecord, State


def test_records_round_trip_and_temporaries_are_swept(tmp_path: Path) -> None:
    state = State(tmp_path)
    cfg = network_config("n1", "10.242.1.0/24", subnet6="fd42:242::/64")
    state.save_network(cfg)
    assert state.load_network("n1") == cfg and state.networks() == [cfg]
    rec = EndpointRecord(
        "n1",
        "c1",
        "eth0",
        "/run/netns/x",
        "veth0",
        ("10.242.1.2",),
        "02:00:00:00:00:01",
        (port_mapping(80, 8080, "udp", "10.0.0.1"),),
    )
    state.save_endpoint(rec)
    assert state.load_endpoint("n1", "c1", "eth0") == rec
    assert state.endpoints() == [rec] and rec.ipv4 == "10.242.1.2"
    (tmp_path / "endpoints" / "n1" / ".tmp-1-c2--eth0.json").write_text("{")  # killed writer
    state.sweep_temporaries()
    assert [p.name for p in (tmp_path / "endpoints" / "n1").iterdir()] == ["c1--eth0.json"]
    state.delete_endpoint("n1", "c1", "eth0")
    state.delete_endpoint("n1", "c1", "eth0")  # absence tolerated
    state.delete_network("n1")
    assert state.networks() == [] and state.endpoints() == []


def test_port_ownership() -> None:
    taken = {("tcp", "", 8080): "n/a/eth0", ("udp", "10.0.0.1", 53): "n/b/eth0"}
    check_ports(taken, [port_mapping(8080, 80, "udp"), port_mapping(53, 53, "udp", "10.0.0.2")])
    for clash in (
        port_mapping(8080, 80),  # same wildcard
        port_mapping(8080, 80, "tcp", "10.0.0.9"),  # specific under a wildcard
        port_mapping(53, 53, "udp"),  # wildcard over a specific
    ):
        with pytest.raises(PortConflictError, match="already published by n/"):
            check_ports(taken, [clash])


def test_host_veth_names_are_short_stable_and_distinct() -> None:
    cfg = network_config("n1", "10.242.1.0/24", veth_prefix="pyt")
    names = {host_veth_name(cfg, f"c{i}", "eth0") for i in range(500)}
    assert len(names) == 500
    assert all(len(n) == 15 and n.startswith("pyt") for n in names)
    assert host_veth_name(cfg, "c1", "eth0") == host_veth_name(cfg, "c1", "eth0")


def test_an_endpoint_record_compares_without_its_extra_and_changes_by_copy() -> None:
    rec = EndpointRecord("n1", "c1", "eth0", "/run/netns/x", "veth0", ("10.242.1.2",))
    same = EndpointRecord("n1", "c1", "eth0", "/run/netns/x", "veth0", ("10.242.1.2",))
    assert rec == same and hash(rec) == hash(same)
    assert rec.with_(extra={"k": 1}) == rec  # `extra` is not compared
    assert rec.with_(state="ready") != rec and rec.with_(state="ready").state == "ready"
    assert rec.state == "adding" and rec.extra == {}
    with pytest.raises(TypeError):
        rec.with_(nope=1)
    owner = Owner("c1", "eth0")
    assert owner == ("c1", "eth0") and owner.container_id == "c1" and owner.ifname == "eth0"
    assert repr(owner) == "Owner(container_id='c1', ifname='eth0')"
