"""Child processes: spawned with os.posix_spawn, tagged, tracked by pid, always stopped.

Every child gets `PYBENCH_RUN=<id>` in its environment so that a later run can find and stop
what a crashed run left behind (`leftover_pids`). Each child is its own process group, so a
Ctrl-C reaches only the harness, which then stops the children in order.
"""

import contextlib
import os
import select
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MARKER = "PYBENCH_RUN"
READY_FD = 3
_RUN_ID = f"{os.getpid()}-{int(time.time())}"
_live: set[int] = set()


class SpawnError(RuntimeError):
    """A child failed to start or to report ready."""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env[MARKER] = _RUN_ID
    env.update(extra or {})
    return env


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (children inherit it); return it."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Child:
    """A spawned process, optionally with the read end of its fd-3 readiness pipe."""

    pid: int
    argv: Sequence[str]
    started: float
    ready_fd: int | None = None
    ready_at: float | None = None
    exit_status: int | None = field(default=None)

    def wait_ready(self, timeout: float = 20.0) -> float:
        """Block until the child writes `0\\n` on fd 3; return seconds since spawn."""
        assert self.ready_fd is not None, "spawned without a readiness pipe"
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < 2:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.ready_fd], [], [], left)[0]:
                raise SpawnError(f"{self.argv[0]}: no readiness on fd 3 within {timeout:g}s")
            chunk = os.read(self.ready_fd, 4096)
            if not chunk:
                break
            got += chunk
        self.ready_at = time.perf_counter()
        os.close(self.ready_fd)
        self.ready_fd = None
        if got != b"0\n":
            raise SpawnError(f"{' '.join(self.argv)}: not ready: {got!r}")
        return self.ready_at - self.started

    def alive(self) -> bool:
        return self.exit_status is None and not self.poll()

    def poll(self) -> bool:
        """Reap the child if it has exited; True once it has."""
        if self.exit_status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return False
        self.exit_status = status
        _live.discard(self.pid)
        return True

    def signal(self, sig: int) -> None:
        """Signal the child's process group (it leads one: socat's forks are in it too)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """SIGINT (what dockerd sends), then SIGKILL if it lingers; always reaped."""
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None
        if not self.poll():
            self.signal(signal.SIGINT)
            if not self.wait(timeout):
                self.signal(signal.SIGKILL)
                self.wait(timeout)
        self.signal(signal.SIGKILL)  # anything the child left in its group


def spawn(
    argv: Sequence[str],
    *,
    ready_pipe: bool = False,
    log_path: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Child:
    """posix_spawn argv with /dev/null stdin/stdout, stderr to log_path, optional fd-3 pipe.

    The pipe's write end becomes fd 3 through POSIX_SPAWN_DUP2 (never preexec_fn); dup2 clears
    close-on-exec on the target, so only fd 3 (and 0-2) reach the child.
    """
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
    ]
    if log_path:
        actions.append(
            (os.POSIX_SPAWN_OPEN, 2, log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        )
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0))
    read_end = write_end = -1
    if ready_pipe:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        actions.append((os.POSIX_SPAWN_DUP2, write_end, READY_FD))
    started = time.perf_counter()
    try:
        pid = os.posix_spawn(argv[0], list(argv), child_env(env), file_actions=actions, setpgroup=0)
    except OSError as e:
        if ready_pipe:
            os.close(read_end)
        raise SpawnError(f"{argv[0]}: {e}") from e
    finally:
        if ready_pipe:
            os.close(write_end)
    _live.add(pid)
    return Child(pid, argv, started, read_end if ready_pipe else None)


def stop_all(children: Sequence[Child], timeout: float = 10.0) -> list[int]:
    """SIGINT every child at once, reap them all; return the pids that needed SIGKILL."""
    for c in children:
        if c.ready_fd is not None:
            os.close(c.ready_fd)
            c.ready_fd = None
        c.signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    pending = [c for c in children if not c.poll()]
    while pending and time.monotonic() < deadline:
        time.sleep(0.01)
        pending = [c for c in pending if not c.poll()]
    for c in pending:
        c.signal(signal.SIGKILL)
        c.wait(timeout)
    for c in children:
        c.signal(signal.SIGKILL)  # anything a child left in its group
    return [c.pid for c in pending]


def stop_everything() -> None:
    """Last resort at exit: SIGKILL and reap every child this run spawned and still holds."""
    for pid in list(_live):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        _live.discard(pid)


def live_children() -> set[int]:
    return set(_live)


def marked_pids() -> list[int]:
    """Pids of processes (from any run, this one included) carrying the harness's marker."""
    needle = f"{MARKER}=".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if any(var.startswith(needle) for var in environ.split(b"\0")):
            found.append(int(entry))
    return found


def kill_pids(pids: Sequence[int]) -> None:
    """SIGKILL leftovers from a crashed run (they are not our children: no waitpid)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.02)
