"""Processes and sockets, read from /proc: who is alive, who descends from whom, who listens.

A `Proc` is identified by pid *and* start time, so a reused pid is never mistaken for the process
that was seen before; `kill_and_reap` signals by pid only processes still matching what was seen.
"""

import contextlib
import ipaddress
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# ----------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    starttime: int
    argv: tuple[str, ...]

    def alive(self) -> bool:
        now = read_proc(self.pid)
        return now is not None and now.starttime == self.starttime and now.state not in "ZX"

    def __str__(self) -> str:
        return f"pid {self.pid} (ppid {self.ppid}, {self.state}): {' '.join(self.argv)}"


def read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = stat[stat.rindex(")") + 2 :].split()
    argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1])
    return Proc(pid, int(rest[1]), rest[0], int(rest[19]), argv)


def all_procs() -> list[Proc]:
    procs = (read_proc(int(p)) for p in os.listdir("/proc") if p.isdigit())
    return [p for p in procs if p is not None]


def descendants(roots: Iterable[int], procs: Sequence[Proc]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for p in procs:
            if p.ppid in found and p.pid not in found:
                found.add(p.pid)
                grew = True
    return found


def kill_and_reap(procs: Iterable[Proc], sig: int, timeout: float) -> list[Proc]:
    """Signal each still-living process by pid; return those still alive after `timeout`."""
    left = [p for p in procs if p.alive()]
    for p in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, sig)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if p.alive()]
    return left


# ------------------------------------------------------------------------------------- sockets


def _decode_addr(hexaddr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hexaddr)
    # /proc/net/tcp{,6} prints each 32-bit word in host (little-endian) order.
    return ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))


def listening_inodes(host: str, port: int) -> set[int]:
    """Inodes of the TCP sockets listening on exactly host:port in this netns."""
    ip = ipaddress.ip_address(host)
    table = Path("/proc/net/tcp6" if ip.version == 6 else "/proc/net/tcp")
    inodes = set()
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        addr, hexport = fields[1].split(":")
        if fields[3] == "0A" and int(hexport, 16) == port and _decode_addr(addr) == ip:
            inodes.add(int(fields[9]))
    return inodes


def socket_owners(inode: int) -> set[int]:
    """Pids of every process that has socket `inode` open."""
    target = f"socket:[{inode}]"
    owners = set()
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        owners.add(pid)
                        break
    return owners
