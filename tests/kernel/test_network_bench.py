"""`python -m bench network` end to end in a tiny mode: numbers for every target, nothing left."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require, require_root

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parents[2]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_bench_network_smoke(tmp_path: Path) -> None:
    require_root()
    require(Path("/usr/lib/cni/bridge").exists(), "containernetworking-plugins missing")
    argv = [
        "--endpoints",
        "3",
        "--rounds",
        "1",
        "--teardown",
        "3",
        "--ports",
        "20",
        "--portmap-ports",
        "2",
        "--no-charts",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "bench", "network", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "network.json").read_text())
    med = doc["medians"]
    for target in ("cni-bridge", "pyplumb", "pybridge", "pybridge-warm"):
        assert med[target]["add_ms"] > 0 and med[target]["del_ms"] > 0
    assert med["pyplumb"]["rules_1_port"] == med["pyplumb"]["rules_21_ports"]
    assert "| endpoint ADD" in (tmp_path / "network.md").read_text()
    # the warm process the run started (under its scratch directory) was stopped
    lines = [_cmdline(int(pid)) for pid in os.listdir("/proc") if pid.isdigit()]
    servers = [line for line in lines if b"/pyb-net-" in line and b"forkserver" in line]
    assert servers == []
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert not [
        line
        for line in left.stdout.splitlines()
        if line.startswith("pyb") and not line.startswith("pybench")
    ]
