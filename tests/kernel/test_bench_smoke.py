"""End to end smoke test of the benchmark harness (`python -m bench proxy`) in a tiny mode.

Runs two scenarios for pyproxy and docker-proxy in one round, then checks the JSON and the
markdown carry numbers for both, and that no pybench- namespace, link or process is left.
Black-box: it only runs the harness and looks at its files, `ip` and /proc.
"""

import fcntl
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require, require_binary, require_root

REPO = Path(__file__).resolve().parents[2]
LOCK = "/run/pybench.lock"  # held by a running `python -m bench proxy`
TARGETS = ("pyproxy", "docker-proxy")
METRICS = ("startup_ms", "pingpong_p50_us", "pingpong_p99_us")

pytestmark = pytest.mark.root


def _pybench_leftovers() -> list[str]:
    ip = require_binary("ip")
    found = []
    netns = subprocess.run([ip, "netns", "list"], capture_output=True, text=True, check=True)
    found += [f"netns {line}" for line in netns.stdout.splitlines() if "pybench-" in line]
    links = subprocess.run([ip, "-o", "link", "show"], capture_output=True, text=True, check=True)
    found += [
        f"link {line.split(':')[1]}" for line in links.stdout.splitlines() if "pybench-" in line
    ]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"PYBENCH_RUN=" in environ or b"pybench-" in cmdline:
            words = cmdline.split(b"\0")
            found.append(f"process {entry}: {b' '.join(words)[:120]!r}")
    return found


def _skip_if_a_bench_runs() -> None:
    """A benchmark in progress holds the harness's lock and its pybench- names (skipped locally,
    a failure under CI=true, where nothing else should be running)."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        require(False, "a benchmark run is in progress (it holds /run/pybench.lock)")
    finally:
        os.close(fd)


def test_bench_smoke(tmp_path: Path) -> None:
    require_root()
    _skip_if_a_bench_runs()
    for tool in ("docker-proxy", "ip", "iperf3", "wrk", "socat", "haproxy"):
        require_binary(tool)
    argv = [sys.executable, "-m", "bench", "proxy", "--quick", "--rounds", "1"]
    argv += ["--only", "startup,pingpong", "--targets", ",".join(TARGETS), "--out", str(tmp_path)]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "ETA" in proc.stdout, output  # one progress line per measurement

    doc = json.loads((tmp_path / "proxy.json").read_text())
    for metric in METRICS:
        for target in TARGETS:
            value = doc["medians"][metric][target]
            assert math.isfinite(value) and value > 0, (metric, target, value)
            assert doc["samples"][metric][target], (metric, target)
    assert not any(m["errors"] for m in doc["measurements"]), doc["measurements"]

    table = (tmp_path / "proxy.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| metric |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    for label in ("spawn to ready", "ping-pong RTT p50", "ping-pong RTT p99"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {label} |"))
        cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|")), strict=True))
        for target in TARGETS:
            assert cells[target][:1].isdigit(), (label, target, row)
        assert "x)" in cells["pyproxy"], row  # the ratio against docker-proxy

    assert _pybench_leftovers() == []
