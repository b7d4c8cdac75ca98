"""What /proc says about a process tree: CPU seconds and memory (RSS, PSS).

A target may be several processes (docker-proxy's TCP and UDP halves, socat's forked children),
so everything is summed over the given roots and all their live descendants.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct children of pid, from every thread's `children` file (Go forks from any thread)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:
            continue
    return kids


def tree(roots: Iterable[int]) -> list[int]:
    """The roots and all their live descendants."""
    seen: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or not os.path.exists(f"/proc/{pid}"):
            continue
        seen.append(pid)
        todo.extend(children(pid))
    return seen


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime (reaped children count, e.g. socat's finished forks)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime..cstime are fields 14..17
    return sum(int(v) for v in fields[11:15]) / _TICKS


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    return sum(cpu_seconds(p) for p in tree(roots))


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    pss_kb: int
    processes: int

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    @property
    def pss_mb(self) -> float:
        return self.pss_kb / 1024


def smaps_rollup(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in kB from /proc/<pid>/smaps_rollup; (0, 0) if the process is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def tree_memory(roots: Iterable[int]) -> Memory:
    """Summed RSS and PSS of the tree. PSS adds up fairly; RSS counts shared pages repeatedly."""
    rss = pss = 0
    pids = tree(roots)
    for pid in pids:
        r, p = smaps_rollup(pid)
        rss += r
        pss += p
    return Memory(rss, pss, len(pids))


def tree_fds(roots: Iterable[int]) -> int:
    """Open file descriptors of the tree (sockets and pipes: the proxy's real limit)."""
    total = 0
    for pid in tree(roots):
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return total


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def machine_busy(interval: float = 0.25) -> float:
    """Fraction (0..1) of all CPUs busy over `interval`: between measurements the harness and
    its backends idle, so this is what other processes take from the run."""
    import time

    busy0, total0 = _cpu_times()
    time.sleep(interval)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def listening(pid: int, port: int, proto: str = "tcp") -> bool:
    """Whether the network namespace of pid has a socket bound to port (TCP: listening)."""
    for name in (proto, proto + "6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    local, state = cols[1], cols[3]
                    if int(local.rsplit(":", 1)[1], 16) != port:
                        continue
                    if proto == "udp" or state == "0A":
                        return True
        except (OSError, StopIteration):
            continue
    return False
