"""/proc helpers for the engine bench: process lists, memory sums, stopping by pid, cgroups."""

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procfs import alive, smaps_rollup


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    argv: list[str]


def all_procs() -> list[Proc]:
    procs = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X"):
            continue
        procs.append(Proc(int(entry), int(fields[1]), argv))
    return procs


def memory_sum(pids: list[int]) -> dict[str, float]:
    """Summed RSS and PSS (MB) over `pids`, and how many were read."""
    total = {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0.0}
    for pid in pids:
        rss_kb, pss_kb = smaps_rollup(pid)
        if rss_kb or pss_kb:  # (0, 0): gone meanwhile
            total["rss_mb"] += rss_kb / 1024
            total["pss_mb"] += pss_kb / 1024
            total["processes"] += 1
    return total


def kill_pids(pids: list[int], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL what is still there after `grace` seconds; only these pids."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [p for p in pids if alive(p)]
        if not pids:
            return


def remove_cgroup_tree(name: str) -> None:
    """rmdir /sys/fs/cgroup[/<hierarchy>]/<name> and below, deepest first."""
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return
    for top in [base / name] + [h / name for h in base.iterdir() if h.is_dir()]:
        if not top.is_dir():
            continue
        for d in sorted(top.rglob("*"), key=lambda p: -len(str(p))):
            if d.is_dir():
                with contextlib.suppress(OSError):
                    d.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def unmount_under(base: Path) -> list[str]:
    """Lazily unmount everything at or below `base`, deepest first; report what stays."""
    import subprocess

    def points() -> list[str]:
        prefix = str(base).rstrip("/") + "/"
        with open("/proc/self/mountinfo") as f:
            found = [line.split()[4].replace("\\040", " ") for line in f]
        return [p for p in found if p == str(base) or p.startswith(prefix)]

    for point in sorted(points(), key=lambda p: -p.count("/")):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
    return [f"still mounted: {p}" for p in points()]
