"""kill -9 at every step of an ADD, then one GC call leaves nothing behind (checklist 46-48)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import Driver, endpoint_request, network_config
from tests.support.net import Snapshot, World, sh, uid, world_fixture
from tests.support.net_crash import STEPS

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parents[2]

world = pytest.fixture(world_fixture)


@pytest.fixture
def driver(world: World, tmp_path: Path) -> Iterator[Driver]:
    d = Driver(tmp_path / "state", netns=world.host, table=f"pyt_{uid()}")
    d.create_network(network_config("n1", "10.242.1.0/24", bridge="pytbr1", veth_prefix="pyt"))
    yield d
    d.close()


@pytest.mark.parametrize("step", STEPS)
def test_kill_mid_add_then_gc(world: World, driver: Driver, step: str) -> None:
    keeper = world.ns.new("k")
    driver.add_endpoint("n1", endpoint_request("keeper", keeper))
    ctr = world.ns.new("v")
    root = driver.host.state.root
    before = Snapshot.take(world.host, root)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.net_crash",
            str(root),
            world.host,
            driver.host.render.name,
            "n1",
            ctr,
            step,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    assert Snapshot.take(world.host, root).diff(before) != [] or step == "lease"
    report = driver.gc()
    assert Snapshot.take(world.host, root).diff(before) == []
    assert report.total >= 1
    # what survived is intact: the keeper still has its address, and ADD works again
    assert "10.242.1.2/24" in sh("ip", "addr", "show", "eth0", ns=keeper)
    assert driver.add_endpoint("n1", endpoint_request("victim", ctr)).ipv4 == "10.242.1.3"


def test_gc_after_namespace_vanished_and_lost_del(world: World, driver: Driver) -> None:
    before = Snapshot.take(world.host, driver.host.state.root)
    ctr = world.ns.new("gone")
    driver.add_endpoint("n1", endpoint_request("gone", ctr))
    world.ns.made.remove(ctr)
    import netns

    netns.remove(ctr)  # the runtime deleted the namespace and never called DEL
    report = driver.gc()
    assert report.endpoints == ["n1/gone/eth0"]
    assert Snapshot.take(world.host, driver.host.state.root).diff(before) == []


def test_gc_honours_valid_attachments(world: World, driver: Driver) -> None:
    a, b = world.ns.new("a"), world.ns.new("b")
    driver.add_endpoint("n1", endpoint_request("a", a))
    driver.add_endpoint("n1", endpoint_request("b", b))
    report = driver.gc(valid={("a", "eth0")})
    assert report.endpoints == ["n1/b/eth0"]
    assert [r.container_id for r in driver.endpoints("n1")] == ["a"]
    assert "eth0" not in sh("ip", "link", ns=b)
