"""`pybridge` served by the warm process that serves `pyengine` (engine/warm/forkserver.py): a
CNI call handed to it must do what the same call does in its own process, in the caller's
network namespace; a caller in other namespaces than the server's runs the call itself."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.shimapi.discovery import pid_alive
from tests.conftest import require
from tests.kernel.test_cni_plugin import bridge_conf
from tests.support.engine_cli import wait_for
from tests.support.net import PYBRIDGE, World, cni, sh, world_fixture

pytestmark = pytest.mark.root

world = pytest.fixture(world_fixture)

# What the console script does first: hand the call to the run root's server. Prints the exit
# code the server reported, or None when no server took the call.
_FORWARD = """
import sys
from engine.warm import client
handed = client.hand_over(sys.argv[1], "pybridge", 1)
code = handed and handed.wait()
sys.stdout.flush()
print("forwarded", code)
"""


@pytest.fixture
def run_root(tmp_path: Path) -> Iterator[Path]:
    """A run root of our own (where a server starts), and its server stopped afterwards."""
    require(os.access(PYBRIDGE, os.X_OK), f"{PYBRIDGE} missing: pip install -e . first")
    root = tmp_path / "run"
    root.mkdir(mode=0o700)
    yield root
    pid_file = root / "cli.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(pid), 10, "the fork server to exit")


def _server(run_root: Path) -> int:
    """The run root's fork server, once it has made its FIFO and written its pid."""
    pid_file = run_root / "cli.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the fork server")
    return int(pid_file.read_text())


def _forward(
    world: World, run_root: Path, command: str, conf: dict[str, Any], **env: str
) -> tuple[str, dict[str, Any] | None]:
    """`client.hand_over` for one CNI call in the test host's network namespace: ("forwarded N"
    or "forwarded None", the JSON the worker printed)."""
    done = subprocess.run(
        ["nsenter", f"--net=/run/netns/{world.host}", sys.executable, "-c", _FORWARD, run_root],
        input=json.dumps(conf).encode(),
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "CNI_COMMAND": command, "CNI_PATH": "/usr/lib/cni", **env},
    )
    lines = done.stdout.decode().splitlines()
    assert lines and lines[-1].startswith("forwarded"), done.stderr.decode()
    return lines[-1], json.loads(lines[0]) if len(lines) > 1 else None


def test_cni_calls_are_served_by_the_warm_process(
    world: World, tmp_path: Path, run_root: Path
) -> None:
    conf = {"cniVersion": "1.1.0", "name": "pytnet", **bridge_conf(tmp_path, 1)}
    ctr = world.ns.new("c1")
    path = f"/run/netns/{ctr}"
    warm = {"PYENGINE_RUN": str(run_root)}
    # The first call runs in its own process and starts the server for the next ones.
    code, out = cni(PYBRIDGE, "VERSION", conf, host=world.host, nsenter=True, extra_env=warm)
    assert code == 0 and "1.1.0" in out["supportedVersions"]
    server = _server(run_root)

    # ADD through the server: done in the caller's network namespace (the test host's)
    calls = {"CNI_CONTAINERID": "warm1", "CNI_NETNS": path, "CNI_IFNAME": "eth0"}
    said, result = _forward(world, run_root, "ADD", conf, **calls)
    assert said == "forwarded 0", result
    assert result is not None
    assert [ip["address"] for ip in result["ips"]] == ["10.242.1.2/24"]
    assert "10.242.1.2/24" in sh("ip", "addr", "show", "eth0", ns=ctr)
    assert "pytbr1" in sh("ip", "-o", "link", "show", ns=world.host)
    assert "pytbr1" not in sh("ip", "-o", "link", "show")  # not in the namespace the test runs in

    # The console script, as a runtime execs it: CHECK and DEL served, errors as in-process
    def call(command: str, c: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return cni(
            PYBRIDGE, command, c, cid="warm1", netns_path=path, host=world.host, nsenter=True,
            extra_env=warm,
        )  # fmt: skip

    assert call("CHECK", {**conf, "prevResult": result})[0] == 0
    assert call("DEL", conf)[0] == 0
    assert "pytbr1" not in sh("ip", "-o", "link", "show", ns=world.host)
    code, err = call("ADD", {**conf, "cniVersion": "0.1.0"})
    assert (code, err["code"]) == (1, 1), err  # incompatible CNI version, from the worker
    assert int((run_root / "cli.pid").read_text()) == server and pid_alive(server)


def test_a_caller_in_other_namespaces_runs_the_call_itself(
    world: World, tmp_path: Path, run_root: Path
) -> None:
    conf = {"cniVersion": "1.1.0", "name": "pytnet", **bridge_conf(tmp_path, 2)}
    warm = {"PYENGINE_RUN": str(run_root)}
    assert cni(PYBRIDGE, "VERSION", conf, host=world.host, nsenter=True, extra_env=warm)[0] == 0
    _server(run_root)
    assert _forward(world, run_root, "VERSION", conf)[0] == "forwarded 0"
    # The server lives in the test host's network namespace: this process is in another.
    done = subprocess.run(
        [sys.executable, "-c", _FORWARD, run_root],
        input=json.dumps(conf).encode(),
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "CNI_COMMAND": "VERSION"},
    )
    assert done.stdout.decode().splitlines() == ["forwarded None"], done.stderr.decode()
    # `ip netns exec` gives the plugin a mount namespace of its own: not the server's either,
    # so the call runs in its own process, in that namespace, and does its work there.
    ctr = world.ns.new("c2")
    code, res = cni(
        PYBRIDGE,
        "ADD",
        conf,
        cid="warm2",
        netns_path=f"/run/netns/{ctr}",
        host=world.host,
        extra_env=warm,
    )
    assert code == 0, res
    assert "pytbr2" in sh("ip", "-o", "link", "show", ns=world.host)
    code, _ = cni(
        PYBRIDGE,
        "DEL",
        conf,
        cid="warm2",
        netns_path=f"/run/netns/{ctr}",
        host=world.host,
        extra_env=warm,
    )
    assert code == 0
