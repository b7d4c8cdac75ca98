"""What a process holds, read from /proc: its descriptors by kind, waiting for them to settle."""

import os
import time
from collections import Counter
from collections.abc import Callable

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


def fds_settled(pid: int, baseline: Counter[str], relay: str) -> Counter[str]:
    """Wait for a proxy's descriptors to come back to `baseline` and assert they did.

    Sockets must come back exactly; pipes may exceed the baseline only by the splice relay's
    idle-pipe cache (auto splices bulk flows); anything else (epoll, eventfd, /dev/null...) exactly.
    """
    pipe_slack = PIPE_POOL_FDS if relay in ("splice", "auto") else 0

    def settled(now: Counter[str]) -> bool:
        others = {k for k in now.keys() | baseline.keys() if k not in ("socket", "pipe")}
        return (
            now["socket"] == baseline["socket"]
            and now["pipe"] <= baseline["pipe"] + pipe_slack
            and all(now[k] == baseline[k] for k in others)
        )

    now = wait_fds(pid, settled, timeout=10.0)
    assert settled(now), f"descriptors did not settle: baseline {baseline}, now {now}"
    return now
