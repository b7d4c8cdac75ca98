"""`Tasks` over pyshim: one shim per container under the engine's run root.

The engine holds no connection between commands: each call finds the shim from its files on
disk (socket, pid file, exit record), which is what makes every engine process disposable.
"""

import contextlib
import json
import os
import signal as signals
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.config import EngineConfig
from engine.containers.health import (
    DEFAULT_INTERVAL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Healthcheck,
)
from engine.errors import EngineError
from engine.lifecycle import bundle
from engine.lifecycle.backends import TaskSpec, TaskStatus, TerminalGuard
from engine.lifecycle.execio import ExecStdio
from engine.lifecycle.execs import ExecRequest, ExecStreams
from engine.ports.proxyproc import ProxyHandle, ProxyLaunch
from engine.runtime.spec import process_spec
from engine.shimapi.config import ShimConfig
from engine.shimapi.discovery import cleanup_dead, pid_alive, probe, read_pid
from engine.shimapi.errors import (
    DeadlineExceededError,
    ShimError,
    ShimUnavailableError,
    TaskConflictError,
    TaskNotFoundError,
)
from engine.shimapi.exitfile import ExitStatus, read_exit
from engine.shimapi.health import HealthCheck, read_health
from engine.shimapi.paths import Layout
from engine.shimapi.proxystate import read_proxy_state
from engine.tasks.client import ShimClient
from engine.tasks.spawn import create_task, spawn


class ShimTasks:
    """Tasks driven through their shims' task API."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._clients: dict[str, ShimClient] = {}
        self._spawned: dict[str, ShimClient] = {}  # shims started by `prepare`, no task yet

    def __repr__(self) -> str:
        return f"ShimTasks(run={str(self.config.run)!r})"

    def layout(self, container_id: str) -> Layout:
        """Where the container's shim keeps its files."""
        return Layout(str(self.config.run), str(self.config.root), container_id)

    def _client(self, container_id: str) -> ShimClient:
        client = self._clients.get(container_id)
        if client is None:
            client = ShimClient.for_layout(self.layout(container_id))
            self._clients[container_id] = client
        return client

    def _shim_config(self, container_id: str, spec: TaskSpec) -> ShimConfig:
        entry = self.config.runtime(spec.runtime)
        return ShimConfig(
            id=container_id,
            bundle=str(spec.bundle),
            run_root=str(self.config.run),
            root=str(self.config.root),
            runtime=entry.path,
            runtime_args=entry.args,
            exit_command=spec.exit_command,
            log_max_size=spec.log_max_size,
            log_max_file=spec.log_max_file,
        )

    def prepare(self, container_id: str, spec: TaskSpec) -> None:
        self._spawned[container_id] = spawn(self._shim_config(container_id, spec))

    def create(self, container_id: str, spec: TaskSpec) -> int:
        # A terminal is sized between create and start, so it cannot take the one-step path.
        at_once = spec.start and not spec.console_size
        spawned = self._spawned.pop(container_id, None)
        if spawned is None:
            config = self._shim_config(container_id, spec)
            client = create_task(config, stdin=spec.stdin, start=at_once)
        else:
            client = spawned
            try:
                client.create(stdin=spec.stdin, start=at_once)
            except BaseException:
                with contextlib.suppress(ShimError):
                    client.shutdown(now=True)  # as create_task leaves nothing behind
                raise
        self._clients[container_id] = client
        if spec.console_size:
            client.resize(*spec.console_size)
        if spec.start and not at_once:
            return client.start()
        return client.task_pid

    def start(self, container_id: str) -> int:
        return self._client(container_id).start()

    def status(self, container_id: str) -> TaskStatus:
        layout = self.layout(container_id)
        if not os.path.isdir(layout.state_dir):
            return self._dead(layout)
        # One round trip, on the connection this engine keeps to the shim (`ps` asks every
        # running container's): the reply names the shim's container, as a probe's would. A
        # kept connection may have been closed by a shim since restarted: a fresh one decides.
        st: dict[str, Any] | None = None
        for _attempt in range(2):
            try:
                st = self._client(container_id).state()
                break
            except ShimUnavailableError:
                continue
            except TaskNotFoundError:
                return TaskStatus("unknown")  # a shim started ahead of its task: none yet
        if st is None or st.get("id") != container_id:
            return self._dead(layout)
        ended = None
        if st.get("exit_status") is not None:
            ended = ExitStatus.from_json({**st, "exited_at": st.get("exited_at") or 0})
        return TaskStatus(str(st.get("status") or "unknown"), int(st.get("pid") or 0), ended)

    @staticmethod
    def _dead(layout: Layout) -> TaskStatus:
        """No shim answers: its exit record, or 255/137 as containerd reports a lost task."""
        if os.path.isdir(layout.state_dir):
            record = cleanup_dead(layout)
        else:
            found = read_exit(layout.exit_file)
            if found is None:
                return TaskStatus("unknown")
            record = found
        return TaskStatus.ended(record)

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        self._client(container_id).kill(signal, all=all_processes)

    def wait(self, container_id: str, timeout: float | None) -> TaskStatus | None:
        try:
            return TaskStatus.ended(self._client(container_id).wait(timeout=timeout))
        except (DeadlineExceededError, ShimUnavailableError):
            pass  # a timeout, or the shim died: the status says which
        status = self.status(container_id)
        return None if status.status in ("running", "paused", "created") else status

    def pause(self, container_id: str) -> None:
        self._client(container_id).pause()

    def resume(self, container_id: str) -> None:
        self._client(container_id).resume()

    def pids(self, container_id: str) -> list[int]:
        return [int(p["pid"]) for p in self._client(container_id).pids()]

    def exec(
        self,
        container_id: str,
        request: ExecRequest,
        *,
        streams: ExecStreams | None = None,
        terminal: TerminalGuard | None = None,
    ) -> int:
        client = self._client(container_id)
        process = self._exec_process(
            container_id, request.args, request.env, request.cwd, request.user
        )
        if request.tty:
            process["terminal"] = True
            if not any(e.startswith("TERM=") for e in process["env"]):
                process["env"].append("TERM=xterm")  # as dockerd gives a tty exec
            if request.console_size:
                # runc sizes the pty before the process starts: no first frame at 0x0
                rows, cols = request.console_size
                process["consoleSize"] = {"height": rows, "width": cols}
        exec_id = f"exec-{os.getpid()}-{os.urandom(3).hex()}"
        if request.detach:
            client.exec(exec_id, process)
            client.start(exec_id)
            return 0
        state_dir = Path(self.layout(container_id).state_dir)
        with ExecStdio(state_dir, stdin=request.stdin, tty=request.tty) as stdio:
            client.exec(
                exec_id, process, stdin=stdio.stdin, stdout=stdio.stdout, stderr=stdio.stderr
            )
            try:
                client.start(exec_id)
            except EngineError:
                # The shim forgets an exec that failed to start: a second error (not found)
                # would hide the first (127 for a command not found, as docker exec).
                with contextlib.suppress(TaskNotFoundError):
                    client.delete(exec_id)
                raise
            guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if request.tty and terminal is not None:
                guard = terminal(self._exec_resizer(container_id, exec_id))
            with guard:
                stdio.pump(streams)
        status = client.wait(exec_id)
        client.delete(exec_id)
        return status.exit_status

    def _exec_process(
        self, container_id: str, args: Sequence[str], env: Sequence[str], cwd: str, user: str
    ) -> dict[str, Any]:
        """The OCI process of an exec: the container's own capabilities and environment."""
        config = self._bundle_config(container_id)
        rootfs = Path(config["root"]["path"])
        uid, gid = bundle.resolve_user(rootfs, user)
        return process_spec(
            args,
            env=env or config["process"]["env"],
            cwd=cwd or "/",
            uid=uid,
            gid=gid,
            capabilities=config["process"]["capabilities"]["bounding"],
        )

    def _exec_resizer(self, container_id: str, exec_id: str) -> Callable[[int, int], None]:
        """Resize the exec's terminal over a connection of its own: this runs in a SIGWINCH
        handler, which may interrupt a call on the shared connection halfway."""
        layout = self.layout(container_id)

        def resize(rows: int, cols: int) -> None:
            with ShimClient.for_layout(layout) as client:
                client.resize(rows, cols, exec_id=exec_id)

        return resize

    def _bundle_config(self, container_id: str) -> dict[str, Any]:
        state = self._client(container_id).state()
        with open(os.path.join(str(state["bundle"]), "config.json"), "rb") as f:
            data = json.loads(f.read())
        if not isinstance(data, dict):
            raise EngineError(f"container {container_id}: unreadable config.json")
        return data

    def write_stdin(self, container_id: str, data: bytes) -> None:
        self._client(container_id).write_stdin(data)

    def close_stdin(self, container_id: str) -> None:
        self._client(container_id).close_io()

    def resize(self, container_id: str, rows: int, cols: int) -> None:
        self._client(container_id).resize(rows, cols)

    def stats(self, container_id: str) -> dict[str, int]:
        data = self._client(container_id).stats()
        memory = data.get("memory", {}).get("usage", {})
        limit = int(memory.get("limit") or 0)
        # cgroup v1 reports "no limit" as a huge page-aligned number.
        limit = 0 if limit >= 1 << 60 else limit
        return {
            "cpu_ns": int(data.get("cpu", {}).get("usage", {}).get("total") or 0),
            "memory": int(memory.get("usage") or 0),
            "memory_limit": limit,
            "pids": int(data.get("pids", {}).get("current") or 0),
        }

    def watch_health(self, container_id: str, check: Healthcheck, user: str, cwd: str) -> None:
        process = self._exec_process(container_id, check.command(), (), cwd, user)
        shim_check = HealthCheck(
            process,
            check.interval or DEFAULT_INTERVAL,
            check.timeout or DEFAULT_TIMEOUT,
            check.start_period,
            check.retries or DEFAULT_RETRIES,
        )
        self._client(container_id).watch_health(shim_check.to_json())

    def health_state(self, container_id: str) -> dict[str, object] | None:
        return read_health(self.layout(container_id).state("health.json"))

    def surely_running(self, container_id: str, pid: int) -> bool:
        # The shim writes the exit record before it tells anyone of an exit (engine/README):
        # while there is none and both processes live, the task runs. Three stats, no round
        # trip: `ps` with a hundred containers asks this a hundred times.
        layout = self.layout(container_id)
        if os.path.exists(layout.exit_file):
            return False
        return pid_alive(pid) and pid_alive(read_pid(layout.state("shim.pid")))

    def update(self, container_id: str, resources: dict[str, int | str]) -> None:
        self._client(container_id).update(**resources)

    def watch_proxy(self, container_id: str, handle: ProxyHandle, launch: ProxyLaunch) -> None:
        self._client(container_id).watch_proxy(handle.pid, handle.start_time, launch.to_json())

    def release_proxy(self, container_id: str) -> None:
        layout = self.layout(container_id)
        if not (os.path.isdir(layout.state_dir) and probe(layout)):
            return  # no shim: nothing restarts anything
        # Best effort: a shim that died meanwhile, or one started before this engine version
        # (which knows no such method and restarts nothing), must not stop a teardown.
        with contextlib.suppress(ShimError):
            self._client(container_id).release_proxy()

    def proxy_state(self, container_id: str) -> dict[str, object] | None:
        return read_proxy_state(self.layout(container_id).state("proxy.json"))

    def delete(self, container_id: str) -> None:
        layout = self.layout(container_id)
        client = (
            self._clients.pop(container_id, None)
            or self._spawned.pop(container_id, None)
            or ShimClient.for_layout(layout)
        )
        if not os.path.isdir(layout.state_dir):
            return
        if not probe(layout):
            cleanup_dead(layout)
            return
        try:
            try:
                client.delete()
            except TaskConflictError:
                # Still running (an undone start): kill it, then delete.
                client.kill(signals.SIGKILL, all=True)
                client.wait(timeout=10)
                client.delete()
            except TaskNotFoundError:
                pass
            client.shutdown()
        except ShimUnavailableError:
            cleanup_dead(layout)
        finally:
            client.close()
