"""Containers on several networks: `--network` given again at create, `network connect` and
`network disconnect` of a running or stopped container, with `--ip` and `--alias`; names
resolve on every network a container is on and nowhere else. Through the CLI, the docker CLI
and a compose project with two networks."""

import ipaddress
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api_service import ApiService, service_fixture
from tests.support.engine_cli import EngineEnv, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)


def _halves(engine: EngineEnv) -> tuple[str, str]:
    """Two /27s out of the environment's spare user subnet."""
    base, _, bits = engine.user_subnet.partition("/")
    assert int(bits) <= 26, engine.user_subnet
    prefix, last = base.rsplit(".", 1)
    return f"{prefix}.{int(last)}/27", f"{prefix}.{int(last) + 32}/27"


@pytest.fixture
def two(engine: EngineEnv) -> Iterator[tuple[str, str]]:
    front, back = f"pyt-front{engine.n}", f"pyt-back{engine.n}"
    subnets = _halves(engine)
    for name, subnet, suffix in ((front, subnets[0], "f"), (back, subnets[1], "b")):
        bridge = f"com.docker.network.bridge.name={engine.user_bridge[:13]}{suffix}"
        engine.ok("network", "create", "--subnet", subnet, "-o", bridge, name)
    try:
        yield front, back
    finally:
        every = sorted(p.parent.name for p in (engine.root / "containers").glob("*/record.json"))
        if every:
            engine("rm", "-f", *every)
        engine("network", "rm", front, back)


def _addresses(engine: EngineEnv, name: str) -> dict[str, str]:
    out = engine.ok("exec", name, "ip", "-4", "-o", "addr")
    return {f[1]: f[3].split("/")[0] for f in (line.split() for line in out.splitlines())}


def _resolves(engine: EngineEnv, src: str, name: str) -> str:
    done = engine("exec", src, "nslookup", name)
    found = [ln.split()[-1] for ln in done.stdout.splitlines() if ln.startswith("Address: ")]
    return found[-1] if done.returncode == 0 and found else ""


def test_several_networks_and_connect_disconnect(engine: EngineEnv, two: tuple[str, str]) -> None:
    front, back = two
    db_ip = str(ipaddress.ip_network(_halves(engine)[1])[20])
    engine.ok("run", "-d", "--name", "db", "--network", back, "--ip", db_ip, "busybox",
              "sleep", "300")  # fmt: skip
    engine.ok("run", "-d", "--name", "web", "--network", front, "--network", back, "busybox",
              "sleep", "300")  # fmt: skip
    engine.ok("run", "-d", "--name", "client", "--network", front, "busybox", "sleep", "300")
    assert sorted(_addresses(engine, "web")) == ["eth0", "eth1", "lo"]
    assert _addresses(engine, "db")["eth0"] == db_ip
    networks = engine.inspect("web")["NetworkSettings"]["Networks"]
    assert sorted(networks) == sorted([front, back]) and all(
        n["IPAddress"] for n in networks.values()
    )
    # Names resolve on the networks a container shares, and nowhere else.
    assert _resolves(engine, "web", "db") == db_ip
    assert _resolves(engine, "client", "db") == ""
    # Connected live, with an alias: the client finds it on their shared network.
    engine.ok("network", "connect", "--alias", "database", front, "db")
    front_ip = _addresses(engine, "db")["eth1"]
    assert _resolves(engine, "client", "database") == front_ip
    again = engine("network", "connect", front, "db")
    assert (
        again.returncode == 1
        and f"endpoint with name db already exists in network {front}" in again.stderr
    )
    engine.ok("network", "disconnect", front, "db")
    assert "eth1" not in _addresses(engine, "db")
    assert _resolves(engine, "client", "database") == ""
    gone = engine("network", "disconnect", front, "db")
    assert gone.returncode == 1 and "is not connected to network" in gone.stderr
    # A stopped container joins what it was connected to at its next start.
    engine.ok("stop", "-t", "0", "client")
    engine.ok("network", "connect", back, "client")
    engine.ok("start", "client")
    assert sorted(_addresses(engine, "client")) == ["eth0", "eth1", "lo"]
    assert _resolves(engine, "client", "db") == db_ip


def test_refusals(engine: EngineEnv, two: tuple[str, str]) -> None:
    front, _back = two
    for args, message in [
        (("--network", front, "--network", "host"), "cannot attach both user-defined"),
        (("--network", front, "--network", front), "a network can be given only once"),
        (("--ip", "10.1.2.3"), "supported on user defined networks only"),
        (("--network", front, "--ip", "x.y"), "invalid IPv4 address: x.y"),
        (("--network", front, "--network", "nosuchnet"), "network nosuchnet not found"),
    ]:
        done = engine("create", *args, "busybox")
        assert done.returncode == 125 and message in done.stderr, (args, done.stderr)
    engine.ok("run", "-d", "--name", "hosty", "--network", "host", "busybox", "sleep", "300")
    done = engine("network", "connect", front, "hosty")
    assert done.returncode == 1 and "cannot be connected to any other network" in done.stderr
    assert engine.ok("ps", "-aq").count("\n") == 1


PROJECT = """\
version: "3.8"
services:
  db:
    image: busybox
    command: sh -c "echo db-here > /index.html && exec httpd -f -p 80 -h /"
    networks: [back]
  web:
    image: busybox
    command: sleep 300
    networks: [front, back]
  client:
    image: busybox
    command: sleep 300
    networks: [front]
networks:
  front:
    driver_opts: {{com.docker.network.bridge.name: {bridge}f}}
    ipam: {{config: [{{subnet: "{front}"}}]}}
  back:
    driver_opts: {{com.docker.network.bridge.name: {bridge}b}}
    ipam: {{config: [{{subnet: "{back}"}}]}}
"""


def test_compose_project_with_two_networks(service: ApiService, tmp_path: Path) -> None:
    engine = service.engine
    front, back = _halves(engine)
    (tmp_path / "docker-compose.yml").write_text(
        PROJECT.format(bridge=engine.user_bridge[:13], front=front, back=back)
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return service.compose("pym", tmp_path, *args)

    up = run("up", "-d")
    assert up.returncode == 0, up.stderr
    nets = engine.inspect("pym_web_1")["NetworkSettings"]["Networks"]
    assert sorted(nets) == ["pym_back", "pym_front"]
    wait_for(lambda: "db-here" in engine("exec", "pym_web_1", "wget", "-qO-", "http://db/").stdout,
             20, "web to reach db by its service name")  # fmt: skip
    assert engine("exec", "pym_client_1", "wget", "-qO-", "-T", "2", "http://db/").returncode != 0
    down = run("down")
    assert down.returncode == 0, down.stderr
    assert engine.ok("ps", "-aq") == ""
