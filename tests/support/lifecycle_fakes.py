"""In-memory images, networks and tasks for the lifecycle's unit tests (the kernel tests run
the same Engine over the real ones)."""

import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.containers.errors import InvalidOptionError
from engine.containers.flags import ImageDefaults
from engine.containers.health import Healthcheck
from engine.containers.ports import PortBinding
from engine.errors import EngineError
from engine.lifecycle.backends import Attachment, ResolvedImage, TaskSpec, TaskStatus
from engine.ports.proxyproc import ProxyHandle, ProxyLaunch
from engine.shimapi.exitfile import ExitStatus


class FakeImages:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.mounted: set[str] = set()
        self.released: set[str] = set()

    def resolve(self, ref: str) -> ResolvedImage:
        if ref != "busybox":
            raise InvalidOptionError(f"Unable to find image '{ref}:latest' locally")
        return ResolvedImage("sha256:" + "b" * 64, ImageDefaults(cmd=("sh",)))

    def prepare_rootfs(self, container_id: str, image_id: str) -> Path:
        self.mounted.add(container_id)
        path = self.root / "rootfs" / container_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def unmount_rootfs(self, container_id: str) -> None:
        self.mounted.discard(container_id)

    def release_rootfs(self, container_id: str) -> None:
        self.mounted.discard(container_id)
        self.released.add(container_id)


class FakeNetworks:
    def __init__(self) -> None:
        self.connected: dict[str, str] = {}
        self.published: dict[str, list[PortBinding]] = {}

    def exists(self, network: str) -> bool:
        return network in ("bridge", "user")

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
        ip = ip or f"10.0.0.{len(self.connected) + 2}"
        self.connected[container_id if ifname == "eth0" else f"{container_id}/{ifname}"] = ip
        return Attachment(f"/run/netns/{container_id[:12]}", ip)

    def detach(self, network: str, container_id: str, ifname: str) -> None:
        for key in [k for k in self.connected if k.startswith(f"{container_id}/{ifname}")]:
            self.connected.pop(key)

    def publish(
        self, network: str, container_id: str, ip: str, bindings: Sequence[PortBinding]
    ) -> None:
        self.published[container_id] = list(bindings)

    def disconnect(self, network: str, container_id: str) -> None:
        self.connected.pop(container_id, None)
        self.published.pop(container_id, None)


@dataclass
class FakeTask:
    spec: TaskSpec
    status: str = "created"
    pid: int = 0
    exit_code: int | None = None
    ignores: set[int] = field(default_factory=set)
    pending: int = 0


class FakeTasks:
    """Tasks whose processes die of fatal signals unless told to ignore them."""

    FATAL = frozenset({signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGQUIT})

    def __init__(self) -> None:
        self.tasks: dict[str, FakeTask] = {}
        self.signals: list[tuple[str, int]] = []
        self.updates: list[tuple[str, dict[str, int | str]]] = []
        self.health_checks: list[tuple[str, Healthcheck]] = []
        self.next_pid = 100
        self.fail_start: EngineError | None = None
        self.ignore_term = False
        self.stdin: list[bytes] = []
        self.sizes: list[tuple[int, int]] = []
        self.prepared: list[str] = []
        self.proxies: dict[str, tuple[ProxyHandle, ProxyLaunch]] = {}

    def prepare(self, container_id: str, spec: TaskSpec) -> None:
        assert spec.bundle.joinpath("config.json").exists(), "a shim checks its bundle first"
        self.prepared.append(container_id)

    def create(self, container_id: str, spec: TaskSpec) -> int:
        self.tasks[container_id] = FakeTask(spec)
        if self.ignore_term:
            self.tasks[container_id].ignores.add(signal.SIGTERM)
        return self.start(container_id) if spec.start else 1

    def start(self, container_id: str) -> int:
        if self.fail_start is not None:
            raise self.fail_start
        task = self.tasks[container_id]
        self.next_pid += 1
        task.status, task.pid = "running", self.next_pid
        return task.pid

    def exit(self, container_id: str, code: int) -> None:
        """The container's process ends on its own."""
        task = self.tasks[container_id]
        task.status, task.exit_code = "stopped", code

    def status(self, container_id: str) -> TaskStatus:
        task = self.tasks.get(container_id)
        if task is None:
            return TaskStatus("unknown")
        ended = None
        if task.exit_code is not None:
            ended = ExitStatus(task.exit_code, 10**9 if task.exit_code else 0, task.pid)
        return TaskStatus(task.status, task.pid, ended)

    def kill(self, container_id: str, signal_number: int, all_processes: bool = False) -> None:
        task = self.tasks.get(container_id)
        if task is None or task.status not in ("running", "paused"):
            raise EngineError("container not running")
        self.signals.append((container_id, signal_number))
        fatal = signal_number in self.FATAL and signal_number not in task.ignores
        # A frozen process takes a catchable signal only once thawed; SIGKILL is immediate.
        if fatal and (signal_number == signal.SIGKILL or task.status == "running"):
            self.exit(container_id, 128 + signal_number)
        elif fatal:
            task.pending = signal_number

    def wait(self, container_id: str, timeout: float | None) -> TaskStatus | None:
        status = self.status(container_id)
        if status.status in ("running", "paused", "created"):
            assert timeout is not None, "a fake wait without timeout would block forever"
            return None
        return status

    def pause(self, container_id: str) -> None:
        self.tasks[container_id].status = "paused"

    def resume(self, container_id: str) -> None:
        task = self.tasks[container_id]
        if task.status == "paused":
            task.status = "running"
            if task.pending:
                self.exit(container_id, 128 + task.pending)

    def pids(self, container_id: str) -> list[int]:
        return [self.tasks[container_id].pid]

    def exec(self, container_id: str, request: object, **_: object) -> int:
        return 0

    def write_stdin(self, container_id: str, data: bytes) -> None:
        self.stdin.append(data)

    def close_stdin(self, container_id: str) -> None:
        self.stdin.append(b"")

    def resize(self, container_id: str, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))

    def stats(self, container_id: str) -> dict[str, int]:
        return {"cpu_ns": 0, "memory": 1 << 20, "memory_limit": 0, "pids": 1}

    def watch_health(self, container_id: str, check: Healthcheck, user: str, cwd: str) -> None:
        self.health_checks.append((container_id, check))

    def health_state(self, container_id: str) -> dict[str, object] | None:
        return None

    def surely_running(self, container_id: str, pid: int) -> bool:
        return False  # always ask: the fakes' state machine is what the tests check

    def update(self, container_id: str, resources: dict[str, int | str]) -> None:
        self.updates.append((container_id, dict(resources)))

    def delete(self, container_id: str) -> None:
        self.tasks.pop(container_id, None)

    def watch_proxy(self, container_id: str, handle: ProxyHandle, launch: ProxyLaunch) -> None:
        self.proxies[container_id] = (handle, launch)

    def release_proxy(self, container_id: str) -> None:
        self.proxies.pop(container_id, None)

    def proxy_state(self, container_id: str) -> dict[str, object] | None:
        watched = self.proxies.get(container_id)
        return None if watched is None else {"status": "running", "pid": watched[0].pid}
