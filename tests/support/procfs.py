"""What a process holds, read from /proc: its descriptors by kind, waiting for them to settle."""

import os
import time
from collections import Counter
from collections.abc import Callable


def fd_kinds(pid: int) -> Counter[str]:
    """The process's open descriptors by kind: 'socket', 'pipe', 'anon_inode', or the path."""
    kinds: Counter[str] = Counter()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:
            continue  # closed while we looked
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
