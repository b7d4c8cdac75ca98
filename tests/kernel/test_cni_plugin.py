"""`pybridge` driven exactly as a container runtime drives it: CNI_* environment and JSON on
stdin, inside a conflist with Debian's reference `loopback` plugin; results and errors checked
against CNI spec 1.1.0 (checklist 50-64). The plugin runs in the test's "host" namespace."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.support.net import (
    PYBRIDGE,
    Conflist,
    Server,
    Snapshot,
    World,
    cni,
    request,
    sh,
    uid,
    world_fixture,
)

pytestmark = pytest.mark.root

world = pytest.fixture(world_fixture)


def bridge_conf(tmp: Path, third: int, **extra: Any) -> dict[str, Any]:
    """The reference bridge plugin's keys, plus our dataDir/nftTable/vethPrefix."""
    conf = {
        "type": "pybridge",
        "bridge": f"pytbr{third}",
        "isGateway": True,
        "isDefaultGateway": True,
        "ipMasq": True,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": f"10.242.{third}.0/24"}]],
            "dataDir": str(tmp / "leases"),
        },
        "dataDir": str(tmp / "state"),
        "nftTable": f"pyt_{uid()}",
        "vethPrefix": "pyt",
        "capabilities": {"portMappings": True},
    }
    return conf | extra


@pytest.fixture
def pybridge() -> str:
    require(os.access(PYBRIDGE, os.X_OK), f"{PYBRIDGE} missing: pip install -e . first")
    require(os.access("/usr/lib/cni/loopback", os.X_OK), "containernetworking-plugins missing")
    return PYBRIDGE


def conflist(world: World, tmp: Path, pybridge: str, **extra: Any) -> Conflist:
    conf = {
        "cniVersion": "1.0.0",
        "name": "pytnet",
        "plugins": [{"type": "loopback"}, bridge_conf(tmp, 1, **extra)],
    }
    return Conflist(conf, host=world.host, paths={"pybridge": pybridge})


def test_conflist_add_check_del(world: World, tmp_path: Path, pybridge: str) -> None:
    chain = conflist(world, tmp_path, pybridge)
    ctr = world.ns.new("c1")
    path = f"/run/netns/{ctr}"
    # the bridge, its chains and leases dir appear on first ADD: snapshot after one cycle
    runtime = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    code, res = chain.add("ctr1", path, runtime)
    assert code == 0, res
    assert res["cniVersion"] == "1.0.0"
    names = [i["name"] for i in res["interfaces"]]
    assert names[0] == "lo" and names[1] == "pytbr1" and names[3] == "eth0"
    assert res["interfaces"][3]["sandbox"] == path
    ours = [ip for ip in res["ips"] if ip["address"].startswith("10.242.1.")]
    assert ours == [{"address": "10.242.1.2/24", "gateway": "10.242.1.1", "interface": 3}]
    assert {"dst": "0.0.0.0/0", "gw": "10.242.1.1"} in res["routes"]
    assert "127.0.0.1/8" in sh("ip", "addr", "show", "lo", ns=ctr)  # loopback's work
    assert "10.242.1.2/24" in sh("ip", "addr", "show", "eth0", ns=ctr)
    server = Server(ctr, 80, "ctr1")
    try:
        assert request(world.outside, world.host_ip, 8080) == "ctr1"
    finally:
        server.close()
    assert chain.check("ctr1", path, runtime)[0] == 0
    table = chain.conf["plugins"][1]["nftTable"]
    sh("nft", "flush", "map", "inet", table, "pm4_any_port", ns=world.host)
    code, err = chain.check("ctr1", path, runtime)
    assert code != 0 and err["code"] == 3 and "nftables" in err["msg"]
    assert chain.delete("ctr1", path, runtime)[0] == 0
    # The network's last DEL leaves no rule naming its subnet (the reference plugin removes its
    # masquerade rule on DEL), no bridge, no table: it was the only network of the table.
    assert "10.242.1." not in sh("nft", "list", "ruleset", ns=world.host)
    assert "pytbr1" not in sh("ip", "-o", "link", "show", ns=world.host)
    assert chain.delete("ctr1", path, runtime)[0] == 0  # DEL twice
    before = Snapshot.take(world.host, tmp_path)
    for i in range(3):  # ADD/DEL cycles, the last DEL after the namespace is gone
        assert chain.add("ctr1", path, runtime)[0] == 0
        if i == 2:
            sh("ip", "netns", "del", ctr)
            world.ns.made.remove(ctr)
        assert chain.delete("ctr1", path, runtime)[0] == 0
    after = Snapshot.take(world.host, tmp_path)
    assert [d for d in after.diff(before) if "netns" not in d] == []


def test_version_and_protocol_errors(world: World, tmp_path: Path, pybridge: str) -> None:
    conf = {"cniVersion": "1.1.0", "name": "pytnet", **bridge_conf(tmp_path, 1)}
    ctr = world.ns.new("c1")
    path = f"/run/netns/{ctr}"
    code, out = cni(pybridge, "VERSION", {"cniVersion": "1.1.0"})
    assert code == 0 and {"1.0.0", "1.1.0"} <= set(out["supportedVersions"])
    before = Snapshot.take(world.host, tmp_path)

    def err(command: str, c: dict[str, Any], **kw: Any) -> dict[str, Any]:
        code, out = cni(pybridge, command, c, host=world.host, **kw)
        assert code != 0 and set(out) >= {"cniVersion", "code", "msg"}, out
        return out

    raw = cni(pybridge, "ADD", {}, cid="x", netns_path=path, host=world.host)
    assert raw[0] != 0
    assert err("ADD", conf, cid="x")["msg"] == "required env variables [CNI_NETNS] missing"
    assert err("ADD", conf, cid="x", netns_path=path, extra_env={"CNI_COMMAND": "FOO"})["code"] == 4
    bad_version = err("ADD", conf | {"cniVersion": "9.9.9"}, cid="x", netns_path=path)
    assert bad_version["code"] == 1 and "1.1.0" in bad_version["details"]
    for broken in (
        {"ipam": conf["ipam"] | {"ranges": [[{"subnet": "10.242.3.0/33"}]]}},
        {"ipam": conf["ipam"] | {"ranges": [[{"subnet": "10.242.3.0/24", "gateway": "10.9.0.1"}]]}},
        {"bridge": "pytbr-far-too-long"},
        {"hairpinMode": True, "promiscMode": True},
    ):
        assert err("ADD", conf | broken, cid="x", netns_path=path)["code"] == 7
    assert err("ADD", conf | {"vlan": 5}, cid="x", netns_path=path)["code"] == 2
    assert err("ADD", conf, cid="x", netns_path="/run/netns/pytnope")["code"] == 3
    assert err("ADD", conf, cid="x", netns_path=path, ifname="e/0")["code"] == 7
    # nothing of the refused ADDs exists: no bridge, no table, no lease, no record
    assert Snapshot.take(world.host, tmp_path).diff(before) == []
    assert (
        cni(pybridge, "DEL", conf, cid="x", netns_path="/run/netns/pytnope", host=world.host)[0]
        == 0
    )
    assert cni(pybridge, "ADD", conf, cid="x", netns_path=path, host=world.host)[0] == 0
    dup = err("ADD", conf, cid="y", netns_path=path)  # eth0 already there
    assert "eth0" in dup["msg"]
    assert cni(pybridge, "STATUS", conf, host=world.host)[0] == 0
    small = conf | {
        "ipam": conf["ipam"]
        | {
            "ranges": [
                [{"subnet": "10.242.1.0/24", "rangeStart": "10.242.1.2", "rangeEnd": "10.242.1.2"}]
            ]
        }
    }
    assert err("STATUS", small)["code"] == 50
    assert cni(pybridge, "DEL", conf, cid="x", netns_path=path, host=world.host)[0] == 0


def test_twenty_parallel_adds_then_gc(world: World, tmp_path: Path, pybridge: str) -> None:
    conf = {"cniVersion": "1.1.0", "name": "pytnet", **bridge_conf(tmp_path, 1)}
    spaces = [world.ns.new(f"p{i}") for i in range(20)]

    def add(i: int) -> tuple[int, dict[str, Any]]:
        return cni(
            pybridge,
            "ADD",
            conf,
            cid=f"ctr{i}",
            netns_path=f"/run/netns/{spaces[i]}",
            host=world.host,
        )

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(add, range(20)))
    assert all(code == 0 for code, _ in results), results
    addrs = [out["ips"][0]["address"] for _, out in results]
    assert len(set(addrs)) == 20
    assert sorted(addrs) == sorted(f"10.242.1.{i}/24" for i in range(2, 22))
    # one masquerade rule per network however many ADDs (the reference duplicated them)
    masq = sh("nft", "list", "chain", "inet", conf["nftTable"], "n-pytbr1-masq", ns=world.host)
    assert masq.count("masquerade") == 1
    # DEL with an empty CNI_NETNS still removes everything of that endpoint (plugins#810)
    assert cni(pybridge, "DEL", conf, cid="ctr19", host=world.host)[0] == 0
    assert "eth0" not in sh("ip", "link", ns=spaces[19])
    keep = [{"containerID": f"ctr{i}", "ifname": "eth0"} for i in range(10)]
    gc_conf = conf | {"cni.dev/valid-attachments": keep}
    assert cni(pybridge, "GC", gc_conf, ifname="", host=world.host)[0] == 0
    leases = sorted(p.name for p in (tmp_path / "leases" / "pytnet").iterdir() if p.name[0] == "1")
    assert len(leases) == 10
    for i in range(20):
        present = "eth0" in sh("ip", "link", ns=spaces[i])
        assert present == (i < 10)


def test_reference_keys_move_over(world: World, tmp_path: Path, pybridge: str) -> None:
    """The same conflist entry works with the reference `bridge` and with us; results agree."""
    ref_host = world.ns.new("r")
    base = bridge_conf(tmp_path, 4)
    base.pop("capabilities")
    results = {}
    for kind, host in (("bridge", ref_host), ("pybridge", world.host)):
        ctr = world.ns.new(f"m{kind[:2]}")
        conf = {
            "cniVersion": "1.0.0",
            "name": f"pyt{kind}",
            **base,
            "type": kind,
            "ipam": base["ipam"] | {"dataDir": str(tmp_path / kind)},
        }
        exe = pybridge if kind == "pybridge" else "/usr/lib/cni/bridge"
        code, out = cni(exe, "ADD", conf, cid="same", netns_path=f"/run/netns/{ctr}", host=host)
        assert code == 0, out
        results[kind] = out
        assert cni(exe, "DEL", conf, cid="same", netns_path=f"/run/netns/{ctr}", host=host)[0] == 0
    promisc = bridge_conf(tmp_path, 8) | {"hairpinMode": False, "promiscMode": True}
    ctr = world.ns.new("pm")
    conf = {"cniVersion": "1.0.0", "name": "pytpromisc", **promisc}
    assert (
        cni(pybridge, "ADD", conf, cid="p", netns_path=f"/run/netns/{ctr}", host=world.host)[0] == 0
    )
    assert "PROMISC" in sh("ip", "link", "show", "pytbr8", ns=world.host)
    ref, ours = results["bridge"], results["pybridge"]
    assert [ip["address"] for ip in ours["ips"]] == [ip["address"] for ip in ref["ips"]]
    assert [ip["gateway"] for ip in ours["ips"]] == [ip["gateway"] for ip in ref["ips"]]
    assert [i["name"] for i in ours["interfaces"]][::2] == [i["name"] for i in ref["interfaces"]][
        ::2
    ]
    assert json.dumps(ours["routes"]) == json.dumps(ref["routes"])
