"""What a process holds, read from /proc: its descriptors by kind, waiting for them to settle,
and, when they do not, what each leftover socket is and whether its peer is still there."""

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from proxy.pumps import MAX_IDLE_PIPES

# A splice or auto relay keeps up to MAX_IDLE_PIPES idle pipes for reuse (proxy/pumps.py
# PipePool): that cache is not a leak, so pipes may stay above a baseline by this many fds.
PIPE_POOL_FDS = 2 * MAX_IDLE_PIPES


def fd_targets(pid: int) -> list[str]:
    """What the process's open descriptors point at (`socket:[…]`, a path), sorted."""
    targets = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{name}"))
        except FileNotFoundError:
            continue  # closed while we looked: a busy process opens and closes as we read
    return sorted(targets)


def fd_kinds(pid: int) -> Counter[str]:
    """The process's open descriptors by kind: 'socket', 'pipe', 'anon_inode', or the path."""
    kinds: Counter[str] = Counter()
    for target in fd_targets(pid):
        kind, sep, _ = target.partition(":[")
        kinds[kind if sep else target] += 1
    return kinds


def wait_fds(pid: int, done: Callable[[Counter[str]], bool], timeout: float = 10.0) -> Counter[str]:
    """Poll the descriptor table until `done(kinds)` holds; the last table seen either way."""
    deadline = time.monotonic() + timeout
    while True:
        kinds = fd_kinds(pid)
        if done(kinds) or time.monotonic() > deadline:
            return kinds
        time.sleep(0.05)


def quiet_fds(pid: int, quiet: float = 0.2, timeout: float = 5.0) -> Counter[str]:
    """The descriptor table once it has not changed for `quiet` seconds (a baseline)."""
    deadline = time.monotonic() + timeout
    last = fd_kinds(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = fd_kinds(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


# /proc/net/unix: the Flags column has __SO_ACCEPTCON for a listener; St 03 is SS_CONNECTED.
_UNIX_LISTENING = 0x10000
_UNIX_CONNECTED = 3


def unix_connections(pid: int) -> list[str]:
    """The process's connected unix sockets (`socket:[inode]`), listeners left out: a server's
    open client connections, which it closes some time after the client has gone."""
    held = set(fd_targets(pid))
    found = []
    with open(f"/proc/{pid}/net/unix") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            flags, state, inode = int(fields[3], 16), int(fields[5], 16), fields[6]
            target = f"socket:[{inode}]"
            if target in held and state == _UNIX_CONNECTED and not flags & _UNIX_LISTENING:
                found.append(target)
    return sorted(found)


@dataclass(frozen=True)
class TcpEntry:
    """One TCP socket as `ss` lists it; `inode` 0 means no process holds it any more (an orphan
    the kernel is still closing)."""

    local: str
    remote: str
    state: str  # ss's names: ESTAB, CLOSE-WAIT, FIN-WAIT-2...
    inode: int


@dataclass(frozen=True)
class HeldSocket:
    """A TCP socket a process holds, and its loopback peer as the kernel sees it."""

    entry: TcpEntry
    peer: TcpEntry | None  # None: gone, or in TIME-WAIT (which `tcp_entries` leaves out)

    @property
    def peer_held(self) -> bool:
        """Whether a live process still holds the other end (so it may still send or close)."""
        return self.peer is not None and self.peer.inode != 0

    def describe(self) -> str:
        peer = "gone" if self.peer is None else f"{self.peer.state}"
        if self.peer is not None and not self.peer_held:
            peer += " (held by no process)"
        return f"{self.entry.local} -> {self.entry.remote} {self.entry.state}, peer {peer}"


def tcp_entries(*selector: str) -> list[TcpEntry]:
    """TCP sockets of this network namespace, from `ss` (its netlink dump is filtered in the
    kernel: /proc/net/tcp would be read whole, about 1 s with 100k sockets in TIME-WAIT).
    `selector`: ss's state and address filter; the default is every state but TIME-WAIT."""
    argv = [_ss(), "-Htane", *(selector or ("state", "all", "exclude", "time-wait"))]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    entries = []
    for line in out.splitlines():
        f = line.split()
        inode = next((int(x[4:]) for x in f[5:] if x.startswith("ino:")), 0)
        entries.append(TcpEntry(f[3], f[4], f[0], inode))
    return entries


def _ss() -> str:
    path = shutil.which("ss") or "/usr/bin/ss"
    if not os.access(path, os.X_OK):
        raise RuntimeError("ss is not installed (iproute2; ./scripts/setup installs it)")
    return path


def held_tcp_sockets(pid: int) -> list[HeldSocket]:
    """The TCP sockets `pid` holds other than listeners, each with its peer."""
    inodes = set()
    for target in fd_targets(pid):
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    entries = tcp_entries()
    by_pair = {(e.local, e.remote): e for e in entries}
    return [
        HeldSocket(e, by_pair.get((e.remote, e.local)))
        for e in entries
        if e.inode in inodes and e.state != "LISTEN"
    ]


def leaked_sockets(pid: int) -> tuple[list[HeldSocket], list[HeldSocket]]:
    """(sockets the proxy keeps although no one is at the other end, sockets whose peer lives).

    A relay holds two sockets. One whose peer is gone is legitimately kept while the other
    end of its relay is still talking (a half-close: the client sent FIN and waits for the
    response); so only the sockets with a gone peer beyond the number with a live peer are
    certainly leaked, and when every leftover's peer is gone, all of them are.
    """
    held = held_tcp_sockets(pid)
    gone = [h for h in held if not h.peer_held]
    live = [h for h in held if h.peer_held]
    return (gone if len(gone) > len(live) else []), live


def fds_settled(
    pid: int, baseline: Counter[str], relay: str, timeout: float = 10.0
) -> Counter[str]:
    """Wait for a proxy's descriptors to come back to `baseline`; fail only on the proxy's leaks.

    Sockets must come back exactly, pipes may exceed the baseline only by the splice relay's
    idle-pipe cache (auto splices bulk flows), anything else (epoll, eventfd, /dev/null...)
    exactly. TCP sockets left over while their peer is still held by a live process (a client
    or backend of the test that has not closed yet) are the peer's, not the proxy's: they are
    reported, not failed. A socket the proxy keeps after its peer is gone is a leak.
    """
    pipe_slack = PIPE_POOL_FDS if relay in ("splice", "auto") else 0

    def settled(now: Counter[str]) -> bool:
        others = {k for k in now.keys() | baseline.keys() if k not in ("socket", "pipe")}
        return (
            now["socket"] == baseline["socket"]
            and now["pipe"] <= baseline["pipe"] + pipe_slack
            and all(now[k] == baseline[k] for k in others)
        )

    now = wait_fds(pid, settled, timeout)
    if settled(now):
        return now
    leaked, live = leaked_sockets(pid)
    now = fd_kinds(pid)
    extra = now["socket"] - baseline["socket"]
    explained = 0 < extra <= len(live) and not leaked
    detail = "\n  ".join(h.describe() for h in held_tcp_sockets(pid)) or "(no TCP socket)"
    message = (
        f"descriptors did not settle: baseline {baseline}, now {now}; "
        f"{len(leaked)} sockets leaked, {len(live)} with a live peer:\n  {detail}"
    )
    if explained and settled(now - Counter(socket=extra)):
        print(f"not the proxy's: {message}")  # the peers still hold them
        return now
    raise AssertionError(message)
