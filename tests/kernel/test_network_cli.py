"""`pyengine network create|ls|inspect|rm|prune|gc|reload`, run as a process against a test
namespace (--netns) and a temporary state root (PYENGINE_ROOT); bad input changes nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import Driver, endpoint_request
from tests.support.net import Snapshot, World, sh, uid, world_fixture

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parents[2]

world = pytest.fixture(world_fixture)


def pyengine(world: World, root: Path, table: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, PYENGINE_ROOT=str(root), PYENGINE_NETNS=world.host, PYENGINE_NFT_TABLE=table
    )
    return subprocess.run(
        [sys.executable, "-m", "engine", "network", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_network_commands(world: World, tmp_path: Path) -> None:
    root, table = tmp_path / "state", f"pyt_{uid()}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return pyengine(world, root, table, *args)

    done = run(
        "create",
        "web",
        "--subnet",
        "10.242.5.0/24",
        "-o",
        "com.docker.network.bridge.name=pytbr5",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "--label",
        "team=net",
    )
    assert done.returncode == 0 and done.stdout == "web\n", done.stderr
    assert "10.242.5.1/24" in sh("ip", "addr", "show", "pytbr5", ns=world.host)
    assert (
        run(
            "create",
            "db",
            "--subnet",
            "10.242.6.0/24",
            "--internal",
            "-o",
            "com.docker.network.bridge.name=pytbr6",
        ).returncode
        == 0
    )
    assert run("create", "auto1").returncode == 0  # Docker's pools, first free one
    assert run("create", "auto2").returncode == 0
    subnets = {n["name"]: n["subnet"] for n in json.loads(run("inspect", "auto1", "auto2").stdout)}
    assert subnets == {"auto1": "172.17.0.0/16", "auto2": "172.18.0.0/16"}
    assert run("rm", "auto1", "auto2").returncode == 0
    assert run("ls", "-q").stdout.split() == ["db", "web"]
    assert "pytbr5" in run("ls").stdout
    before = Snapshot.take(world.host, root)
    for bad, message in (
        (
            (
                "create",
                "x",
                "--subnet",
                "10.242.7.0/33",
                "-o",
                "com.docker.network.bridge.name=pytbrx",
            ),
            "subnet",
        ),
        (("create", "x", "--subnet", "10.242.7.0/24", "--gateway", "10.242.8.1"), "outside subnet"),
        (("create", "x", "--subnet", "10.242.5.0/25"), "overlaps"),
        (("create", "web", "--subnet", "10.242.9.0/24"), "already exists"),
        (("create", "a/b", "--subnet", "10.242.9.0/24"), "network name"),
        (
            (
                "create",
                "x",
                "-o",
                "com.docker.network.bridge.name=pytbr-much-too-long",
                "--subnet",
                "10.242.9.0/24",
            ),
            "bridge name",
        ),
        (("create", "x", "-o", "nope=1"), "invalid option"),
        # Each message names the flag that was given (it once blamed `--ip-range None`).
        (("create", "x", "--subnet", "10.0.0.0/33"), "invalid --subnet '10.0.0.0/33'"),
        (("create", "x", "--ip-range", "10.242.9/x"), "invalid --ip-range '10.242.9/x'"),
        (("create", "x", "--gateway", "10.242.9.x"), "invalid --gateway '10.242.9.x'"),
        (("create", "x", "--subnet", "10.242.9.0/24", "--gateway", "10.9.9.9"), "outside subnet"),
        (("rm", "nosuch"), "no such network"),
    ):
        done = run(*bad)
        assert done.returncode == 1 and message in done.stderr, (bad, done.stderr)
    assert Snapshot.take(world.host, root).diff(before) == []
    ctr = world.ns.new("c1")
    with Driver(root, netns=world.host, table=table) as driver:
        driver.add_endpoint("web", endpoint_request("c1", ctr))
    (info,) = json.loads(run("inspect", "web").stdout)
    assert info["bridge"] == "pytbr5" and info["icc"] is False
    assert info["labels"] == {"team": "net"}
    assert info["endpoints"][0]["container"] == "c1"
    assert info["endpoints"][0]["ips"] == ["10.242.5.2"]
    done = run("rm", "web")
    assert done.returncode == 1 and "still attached" in done.stderr
    sh("nft", "flush", "ruleset", ns=world.host)
    assert run("reload").returncode == 0
    assert "pytbr5" in sh("nft", "list", "ruleset", ns=world.host)
    assert run("prune").stdout == "Deleted Networks:\ndb\n"
    assert run("ls", "-q").stdout.split() == ["web"]
    sh("ip", "netns", "del", ctr)
    world.ns.made.remove(ctr)
    assert json.loads(run("gc").stdout)["endpoints"] == ["web/c1/eth0"]
    assert run("rm", "web").returncode == 0
    assert run("ls", "-q").stdout == ""
    assert "pytbr5" not in sh("ip", "link", ns=world.host)
    # With the last network gone, so are our tables (their nat hooks would keep conntrack on).
    assert f" {table}" not in sh("nft", "list", "tables", ns=world.host)
