"""`python -m bench dns` in a tiny mode: both servers answer, the JSON and markdown carry
their figures side by side, and neither server is left running."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_binary

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.root


def _servers_left() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                line = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"pyb-dns-" in line or (b"dnsmasq" in line and b"127.0.53.2" in line):
                found.append(line.replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_bench_dns_tiny(tmp_path: Path) -> None:
    require_binary("dnsperf")
    require_binary("dnsmasq")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "dns", "--rounds", "1", "--seconds", "1",
         "--queries", "200", "--names", "10", "--no-charts", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "dns.json").read_text())
    for target in ("pyengine-dns", "dnsmasq"):
        med = doc["medians"][target]
        assert med["qps"] > 100 and 0 < med["p50_us"] < med["p99_us"] * 1.0001, med
        assert med["pss_mb"] > 0
    assert "| queries per second (dnsperf) |" in (tmp_path / "dns.md").read_text()
    deadline = time.monotonic() + 5
    while _servers_left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers_left() == []
