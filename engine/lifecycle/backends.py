"""The seams the lifecycle works through; `engine/lifecycle/adapters.py` binds the real ones.

Each is a `typing.Protocol`, so the state machine is unit-tested with fakes and the kernel tests
run the same code over real images, bridges and shims.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.containers.flags import ImageDefaults
from engine.containers.health import Healthcheck
from engine.containers.ports import PortBinding
from engine.lifecycle.execs import ExecRequest, ExecStreams
from engine.ports.proxyproc import ProxyHandle, ProxyLaunch
from engine.shimapi.exitfile import ExitStatus


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """An image found in the store: its id and what it contributes to a container."""

    id: str
    defaults: ImageDefaults


class Images(Protocol):
    """Images and per-container root filesystems."""

    def resolve(self, ref: str) -> ResolvedImage:
        """The image a reference names; raises an EngineError naming it when unknown."""
        ...

    def prepare_rootfs(self, container_id: str, image_id: str) -> Path:
        """Mount the container's copy-on-write root (idempotent) and return its path."""
        ...

    def unmount_rootfs(self, container_id: str) -> None:
        """Unmount the container's root, keeping its changes for the next start."""
        ...

    def release_rootfs(self, container_id: str) -> None:
        """Unmount and delete the container's root and its changes; absent is fine."""
        ...


@dataclass(frozen=True, slots=True)
class Attachment:
    """A container's place on a network."""

    netns_path: str
    ip: str
    gateway: str = ""
    mac: str = ""


class Networks(Protocol):
    """Network namespaces, endpoints and published ports."""

    def exists(self, network: str) -> bool:
        """Whether containers can be connected to this network (the default one always can)."""
        ...

    def connect(
        self,
        network: str,
        container_id: str,
        name: str,
        *,
        ifname: str = "eth0",
        ip: str = "",
        mac: str = "",
    ) -> Attachment:
        """Create the container's namespace and its endpoint `ifname` on the network, at
        address `ip` and with MAC `mac` if given (idempotent)."""
        ...

    def detach(self, network: str, container_id: str, ifname: str) -> None:
        """Remove an endpoint of the container on a network beyond its first (all of them
        there for `ifname` ""); absent is fine."""
        ...

    def publish(
        self, network: str, container_id: str, ip: str, bindings: Sequence[PortBinding]
    ) -> None:
        """Make these host ports reach the container from outside (the firewall's part)."""
        ...

    def disconnect(self, network: str, container_id: str) -> None:
        """Undo connect and publish; absent is fine."""
        ...


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """What the shim knows: `unknown` means no live shim and no exit record."""

    status: str  # created, running, paused, stopped, unknown
    pid: int = 0
    exit: ExitStatus | None = None  # how the task ended, once it has

    @property
    def exit_code(self) -> int | None:
        return None if self.exit is None else self.exit.exit_status

    @property
    def exited_at(self) -> float:
        """Seconds since the epoch; 0.0 while the task has not ended."""
        return 0.0 if self.exit is None else self.exit.exited_at_seconds

    @property
    def oom_killed(self) -> bool:
        return self.exit is not None and self.exit.oom_killed

    @classmethod
    def ended(cls, exit: ExitStatus) -> "TaskStatus":
        return cls("stopped", exit.pid, exit)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """How to run a container's task."""

    bundle: Path
    log_path: Path
    runtime: str = "runc"
    tty: bool = False
    stdin: bool = False
    # Run by the shim once the exit is on disk (Podman's conmon --exit-command): the engine's
    # cleanup and restart policy, with no daemon waiting for the exit.
    exit_command: tuple[str, ...] = ()
    console_size: tuple[int, int] | None = None
    log_max_size: int = -1
    log_max_file: int = 1
    # Create and start in one step (`runc run --detach`): nothing has to happen in between.
    start: bool = False


# `exec -t`'s hold on the caller's own terminal, which only the command line has: given how to
# resize the process's terminal, a context in which ours is raw and its size changes reach it.
TerminalGuard = Callable[[Callable[[int, int], None]], AbstractContextManager[None]]


class Tasks(Protocol):
    """The per-container shims and the runtime behind them."""

    def prepare(self, container_id: str, spec: TaskSpec) -> None:
        """Start the shim ahead of `create`, while the caller sets up the rest (the bundle's
        config.json must exist, not be final). Optional: `create` starts one if need be, and
        removing the task stops one that was never used."""
        ...

    def create(self, container_id: str, spec: TaskSpec) -> int:
        """Start a shim and create the task (and start it with `spec.start`); the init pid."""
        ...

    def start(self, container_id: str) -> int:
        """Start the created task; returns its pid."""
        ...

    def status(self, container_id: str) -> TaskStatus:
        """The task's state, from the shim or from its files when the shim is gone."""
        ...

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        """Signal the task (not running: an EngineError)."""
        ...

    def wait(self, container_id: str, timeout: float | None) -> TaskStatus | None:
        """Block until the task exits; None when the timeout passes first."""
        ...

    def pause(self, container_id: str) -> None:
        """Freeze the task."""
        ...

    def resume(self, container_id: str) -> None:
        """Thaw the task."""
        ...

    def pids(self, container_id: str) -> list[int]:
        """Host pids of the task's processes."""
        ...

    def exec(
        self,
        container_id: str,
        request: ExecRequest,
        *,
        streams: ExecStreams | None = None,
        terminal: TerminalGuard | None = None,
    ) -> int:
        """Run a process in the task; returns its exit code (0 at once when detached).

        Attached, its stdio goes through `streams` (this process's own by default): with
        `request.stdin` the streams' input is forwarded and its EOF closes the process's stdin
        (else /dev/null); with `request.tty` the process runs on a pty whose output is one
        stream, and `terminal` then guards the caller's own terminal meanwhile. The request's
        env, cwd and user are the process's as given (the engine merges the container's)."""
        ...

    def write_stdin(self, container_id: str, data: bytes) -> None:
        """Feed the task's stdin (created with `stdin=True`)."""
        ...

    def close_stdin(self, container_id: str) -> None:
        """Close the task's stdin: the container reads EOF."""
        ...

    def resize(self, container_id: str, rows: int, cols: int) -> None:
        """Set the size of the task's terminal (created with a tty)."""
        ...

    def stats(self, container_id: str) -> dict[str, int]:
        """cpu_ns, memory, memory_limit and pids of the task's cgroup."""
        ...

    def watch_health(self, container_id: str, check: Healthcheck, user: str, cwd: str) -> None:
        """Have the task's shim run its health check (as `user`, in `cwd`) while it runs."""
        ...

    def health_state(self, container_id: str) -> dict[str, object] | None:
        """Docker's State.Health as the shim last wrote it; None without checks."""
        ...

    def surely_running(self, container_id: str, pid: int) -> bool:
        """Whether the task runs, known without asking its shim: no exit on record, its shim
        and its process alive. False means "ask" (`status`), not "stopped"."""
        ...

    def update(self, container_id: str, resources: dict[str, int | str]) -> None:
        """Change a live task's cgroup limits (`runc update`; the names of UpdateOpts)."""
        ...

    def delete(self, container_id: str) -> None:
        """Kill what is left, delete the task and stop its shim; absent is fine."""
        ...

    def watch_proxy(self, container_id: str, handle: ProxyHandle, launch: ProxyLaunch) -> None:
        """Have the task's keeper restart the container's port proxy if it dies while the task
        runs (the engine forgets what it starts)."""
        ...

    def release_proxy(self, container_id: str) -> None:
        """Stop restarting the proxy, before the engine stops it; absent is fine."""
        ...

    def proxy_state(self, container_id: str) -> dict[str, object] | None:
        """The watched proxy's state (status, pid, restarts, error); None if none is watched."""
        ...
