"""OOM kills: the container's memory cgroup and its oom_kill counter (read at the init's exit)."""

from __future__ import annotations

import os


def memory_cgroup(pid: int) -> str:
    """The memory cgroup directory of pid (v1 memory controller, else the v2 group)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    v2 = ""
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return "/sys/fs/cgroup/memory" + path
        if controllers == "":
            v2 = path
    if v2:
        unified = "/sys/fs/cgroup/unified"
        return (unified if os.path.isdir(unified) else "/sys/fs/cgroup") + v2
    return ""


def oom_killed(memcg: str) -> bool:
    """The cgroup's oom_kill counter (v1 memory.oom_control, v2 memory.events) is non-zero."""
    for name in ("memory.oom_control", "memory.events"):
        try:
            with open(os.path.join(memcg, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value or 0) > 0:
                        return True
        except (OSError, ValueError):
            continue
    return False
