"""pyproxy's shared mode: invocations hand their port to one hub process and wait as a shell.

The hub is started by the first invocation and detaches (it is nobody's child here), so the
harness finds it by its environment: every pyproxy it starts gets `PYPROXY_HUB=<this run>`,
which gives the run a hub of its own, and the marker every child carries. The hub's pid joins
the target's pids (it is where the relaying happens), and it is stopped after each measurement
so that the next one starts from a fresh hub.
"""

import contextlib
import os
import signal
import time

from bench import procfs, procs

HUB_GROUP = f"pybench-{os.getpid()}"


def pyproxy_env(mode: str) -> dict[str, str]:
    """The environment for a pyproxy in `mode` (standalone or shared)."""
    return {"PYPROXY_MODE": mode, "PYPROXY_HUB": HUB_GROUP}


def find_hubs() -> list[int]:
    """Pids of this run's hub processes."""
    needle = f"PYPROXY_HUB={HUB_GROUP}".encode()
    hubs = []
    for pid in procs.marked_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if b"-hub" in argv and needle in environ:
            hubs.append(pid)
    return hubs


def wait_for_hub(timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while not (hubs := find_hubs()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return hubs


def stop_pids(pids: list[int], timeout: float = 5.0) -> list[int]:
    """SIGINT processes that are not our children, SIGKILL them after `timeout`; return those
    that needed SIGKILL."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [p for p in alive if procfs.alive(p)]
    if alive:
        procs.kill_pids(alive)
    return alive


def stop_hubs() -> list[int]:
    return stop_pids(find_hubs())
