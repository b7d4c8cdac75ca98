"""`python -m bench engine` end to end in a tiny mode: the issue-6 scenarios (pyengine against a
private dockerd) carry figures for both engines, and nothing of either engine is left behind.

Black-box: it runs the harness and looks at its JSON and markdown, `ip`, `nft` and /proc.
"""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require, require_binary, require_root

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parents[2]
LOCK = "/run/pybench-engine.lock"  # held by a running `python -m bench engine`


def _skip_if_a_bench_runs() -> None:
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        require(False, f"an engine benchmark is in progress (it holds {LOCK})")
    finally:
        os.close(fd)


def _leftovers() -> list[str]:
    found = []
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    found += [
        f"link {line.split(':')[1].strip()}"
        for line in links.stdout.splitlines()
        if "pyb-eng0" in line or "pyb-dock0" in line
    ]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    found += [f"nft {line}" for line in tables.stdout.splitlines() if "pyb_engine" in line]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            # the bench's roots (dockerd, containerd, shims, zygote) and its subnets (proxies)
            if any(m in cmdline for m in (b"/tmp/pyb-", b":10.247.0.", b"\x0010.246.0.")):
                words = cmdline.split(b"\0")
                found.append(f"process {entry}: {b' '.join(words)[:120]!r}")
    return found


def test_bench_engine_smoke(tmp_path: Path) -> None:
    require_root()
    _skip_if_a_bench_runs()
    for tool in ("runc", "dockerd", "docker", "docker-proxy", "nft", "ip", "busybox"):
        require_binary(tool)
    assert not _leftovers(), "left by an earlier run"
    argv = [sys.executable, "-m", "bench", "engine", "--quick", "--only", "run,ports,many"]
    argv += ["--runs", "1", "--port-rounds", "1", "--ports", "11", "--many", "2"]
    argv += ["--no-containerd", "--no-charts", "--out", str(tmp_path)]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "ETA" in proc.stderr, output  # progress while it runs

    doc = json.loads((tmp_path / "engine.json").read_text())
    assert not doc["meta"]["docker_error"], doc["meta"]
    res = doc["results"]
    for target in ("pyengine run --rm", "docker run --rm", "runc run"):
        assert res["run"][target]["median_ms"] > 0, (target, res["run"])
    assert "errors" not in res["run"], res["run"]["errors"]
    for scenario in ("ports", "many"):
        assert "errors" not in res[scenario], res[scenario]["errors"]
        for engine in ("pyengine", "docker"):
            m = res[scenario][engine]
            assert m["pss_mb"] > 0 and m["rss_mb"] > 0, (scenario, engine, m)
            assert m["shims"] >= 1 and m["proxies"] >= 1, (scenario, engine, m)
    for engine in ("pyengine", "docker"):
        ports = res["ports"][engine]
        assert ports["ready_ms"] >= ports["run_ms"] > 0 and ports["rm_ms"] > 0, ports
        assert ports["http_ok"], ports
    assert res["ports"]["docker"]["proxies"] in (11, 22)  # per port, and per family with IPv6
    assert "dockerd" in res["ports"]["docker"]["once"]

    table = (tmp_path / "engine.md").read_text()
    for heading in ("## `run --rm busybox true`", "published ports", "running containers"):
        assert heading in table, table
    assert "x Docker (target" in table, table
    assert _leftovers() == []
