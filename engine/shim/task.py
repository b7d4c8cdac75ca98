"""The task service: one container's init plus its execs, driven through the runtime.

Everything runs on the shim's single thread. Runtime commands are waited for by pid inside the
call, and other children are reaped only from the loop, so an exit can never be consumed by the
wrong waiter and an exec that exits before `start` returns is still matched to its record.
The init's exit is persisted to exit.json before the exit event, the waiters and `state` see it,
and only after every exec has exited and the stdio reached EOF (or a 2 s drain deadline).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from engine.runtime.console import ConsoleSocket
from engine.runtime.errors import (
    ContainerExistsError,
    ContainerNotFoundError,
    ContainerNotRunningError,
    OCIRuntimeError,
)
from engine.runtime.opts import CreateOpts, DeleteOpts, KillOpts, parse_signal
from engine.runtime.runtime import Runtime, validate_id
from engine.shim.bundle import read_bundle_config
from engine.shim.execstart import start_exec
from engine.shim.exitcmd import run_exit_command
from engine.shim.files import read_pid_file, unlink_quiet
from engine.shim.health import HealthWatch
from engine.shim.logfile import JsonFileLog
from engine.shim.loop import Loop
from engine.shim.oom import memory_cgroup, oom_killed
from engine.shim.process import DELETED, STOPPED, Process, exit_code
from engine.shim.proxywatch import ProxyWatch
from engine.shim.stdio import InitIO
from engine.shim.ttyio import ExecTerminal
from engine.shimapi.config import ShimConfig
from engine.shimapi.errors import InvalidArgumentError, TaskExistsError, TaskNotFoundError
from engine.shimapi.exitfile import ExitStatus, write_exit

Publish = Callable[[str, dict[str, Any]], None]

DRAIN_SECONDS = 2.0


class Task:
    """Task API methods; each takes the request's params and returns the result object."""

    def __init__(
        self,
        config: ShimConfig,
        loop: Loop,
        publish: Publish,
        attach: Callable[[str, bytes], None],
        log: JsonFileLog | None,
    ) -> None:
        self.config = config
        self.layout = config.layout
        self.loop = loop
        self.publish = publish
        self._attach = attach
        self.runtime = Runtime(
            config.runtime,
            root=self.layout.runtime_root,
            log=self.layout.state("runtime.json"),
            args=config.runtime_args,
        )
        self.log = log
        self.init: Process | None = None
        self.execs: dict[str, Process] = {}
        self.ttys: dict[str, ExecTerminal] = {}  # exec id -> its terminal's relay
        self.io = InitIO(loop, log, attach, self._io_closed)
        self.spec: dict[str, Any] = {}
        self.oom_killed = False
        self._memcg = ""
        self._pending_exit: tuple[int, int] | None = None
        self.proxy: ProxyWatch | None = None  # the container's port proxy, while the task runs
        self.health: HealthWatch | None = None  # its health checks, while the task runs
        self._drain_expired = False
        self.on_io_closed: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"<Task {self.config.id} init={self.init!r} execs={len(self.execs)}>"

    # -- lookup -------------------------------------------------------------------------
    def _init(self) -> Process:
        if self.init is None:
            raise TaskNotFoundError(f"task {self.config.id} not created")
        return self.init

    def process(self, exec_id: str = "") -> Process:
        if not exec_id:
            return self._init()
        proc = self.execs.get(exec_id)
        if proc is None:
            raise TaskNotFoundError(f"exec {exec_id} not found in task {self.config.id}")
        return proc

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.init is not None:
            raise TaskExistsError(f"task {self.config.id} already exists")
        self.spec = read_bundle_config(self.config.bundle)
        terminal = bool((self.spec.get("process") or {}).get("terminal"))
        start = bool(params.get("start"))
        pid_file = self.layout.state("init.pid")
        console = self._console_socket() if terminal else None
        try:
            fds = self.io.child_fds(stdin=bool(params.get("stdin")), terminal=terminal)
            opts = CreateOpts(
                bundle=self.config.bundle,
                pid_file=pid_file,
                console_socket=console.path if console else "",
            )
            if start:
                self.runtime.run_detached(self.config.id, opts, stdio=fds)
            else:
                self.runtime.create(self.config.id, opts, stdio=fds)
            if console is not None:
                self.io.set_master(console.receive_master())
            pid = read_pid_file(pid_file)
        except BaseException as exc:
            self.io.close()
            if not isinstance(exc, ContainerExistsError):
                # never force-delete a container of that id that someone else created
                self._force_delete()
            raise
        finally:
            if console is not None:
                console.close()
        self.io.started()
        self.init = Process()
        self.init.pid = pid
        self.init.terminal = terminal
        self._memcg = memory_cgroup(pid)
        self.publish("/tasks/create", {"pid": pid, "bundle": self.config.bundle})
        if start:
            self.init.transition("start")
            self.publish("/tasks/start", {"pid": pid})
        return {"pid": pid}

    def start(self, params: dict[str, Any]) -> dict[str, Any]:
        exec_id = str(params.get("exec_id") or "")
        if exec_id:
            return self._start_exec(self.process(exec_id))
        init = self._init()
        init.check("start")
        self.runtime.start(self.config.id)
        init.transition("start")
        self.publish("/tasks/start", {"pid": init.pid})
        return {"pid": init.pid}

    def kill(self, params: dict[str, Any]) -> dict[str, Any]:
        proc = self.process(str(params.get("exec_id") or ""))
        sig = parse_signal(params.get("signal", 15))
        if not proc.live or (self._pending_exit is not None and proc.is_init):
            raise TaskNotFoundError("process already finished")
        proc.check("kill")
        if proc.is_init:
            try:
                self.runtime.kill(self.config.id, KillOpts(signal=sig, all=bool(params.get("all"))))
            except ContainerNotRunningError:
                raise TaskNotFoundError("process already finished") from None
        else:
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                raise TaskNotFoundError("process already finished") from None
        return {}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        exec_id = str(params.get("exec_id") or "")
        proc = self.process(exec_id)
        proc.check("delete")
        if exec_id:
            del self.execs[exec_id]
            unlink_quiet(proc.spec_path)
            tty = self.ttys.pop(exec_id, None)
            if tty is not None:
                tty.close()  # a background holder of the slave may keep it open: not our wait
            return self._exit_result(proc)
        if proc.state == STOPPED:
            try:
                self.runtime.delete(self.config.id)
            except ContainerNotFoundError:
                pass
        else:
            # created, never started: kill it now; its status is that of a SIGKILL
            self._force_delete()
            proc.exit_status, proc.exited_at = 137, time.time_ns()
            self._persist(proc)
        proc.transition("delete")
        self.io.close()
        result = self._exit_result(proc)
        self.publish("/tasks/delete", result)
        for waiter in proc.waiters:
            waiter(proc)
        proc.waiters = []
        return result

    def exec(self, params: dict[str, Any]) -> dict[str, Any]:
        exec_id = str(params.get("exec_id") or "")
        try:
            validate_id(exec_id)
        except OCIRuntimeError as exc:
            raise InvalidArgumentError(f"invalid exec id {exec_id!r}") from exc
        spec = params.get("process")
        if not isinstance(spec, dict) or not spec.get("args"):
            raise InvalidArgumentError("exec needs a process object with args")
        terminal = bool(spec.get("terminal"))
        if terminal and params.get("stderr"):
            raise InvalidArgumentError("an exec with a terminal has no separate stderr")
        self._init().check("exec")
        if exec_id in self.execs:
            raise TaskExistsError(f"exec {exec_id} already exists")
        proc = Process(exec_id)
        proc.terminal = terminal
        proc.spec_path = self.layout.state(f"exec-{exec_id}.json")
        proc.stdin = str(params.get("stdin") or "")
        proc.stdout = str(params.get("stdout") or "")
        proc.stderr = str(params.get("stderr") or "")
        with open(proc.spec_path, "w") as f:
            f.write(json.dumps(spec))
        self.execs[exec_id] = proc
        self.publish("/tasks/exec-added", {"exec_id": exec_id})
        return {}

    def _start_exec(self, proc: Process) -> dict[str, Any]:
        proc.check("start")
        self._init().check("exec")
        try:
            tty = start_exec(
                self.runtime,
                self.config.id,
                proc,
                layout=self.layout,
                loop=self.loop,
                console_socket=self._console_socket,
            )
        except BaseException:
            del self.execs[proc.exec_id]
            unlink_quiet(proc.spec_path)
            raise
        if tty is not None:
            self.ttys[proc.exec_id] = tty
        proc.transition("start")
        self.publish("/tasks/exec-started", {"exec_id": proc.exec_id, "pid": proc.pid})
        return {"pid": proc.pid}

    def _console_socket(self) -> ConsoleSocket:
        """The --console-socket runc sends a pty master to. One path serves the init and every
        exec: each hand-off completes inside one call on this single thread, and the path
        must stay short (a unix socket path holds 107 bytes; the exec id would not fit)."""
        path = self.layout.state("console.sock")
        unlink_quiet(path)  # a leftover of a hand-off that was cut short
        return ConsoleSocket(path)

    # -- exits ---------------------------------------------------------------------------
    def reap(self) -> None:
        """Collect every exited child (the shim is their subreaper); unknown pids are orphans."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.on_exit(pid, exit_code(status), time.time_ns())

    def on_exit(self, pid: int, code: int, at: int) -> None:
        init = self.init
        if init is not None and pid == init.pid and init.live and self._pending_exit is None:
            self._pending_exit = (code, at)
            if not any(ns.get("type") == "pid" for ns in self._namespaces()):
                # sharing the host's pid namespace: nothing else kills the rest (item 28)
                try:
                    self.runtime.kill(self.config.id, KillOpts(signal="KILL", all=True))
                except OCIRuntimeError:
                    pass
            self.oom_killed = oom_killed(self._memcg)
            self.loop.call_later(DRAIN_SECONDS, self._drain_deadline)
            self._maybe_finish_init()
            return
        for proc in self.execs.values():
            if proc.pid == pid and proc.live:
                waiters = proc.set_exited(code, at)
                self.publish("/tasks/exit", self._exit_result(proc))
                for waiter in waiters:
                    waiter(proc)
                self._maybe_finish_init()
                return

    def _io_closed(self) -> None:
        if self.on_io_closed is not None:
            self.on_io_closed()
        self._maybe_finish_init()

    def _drain_deadline(self) -> None:
        self._drain_expired = True
        self._maybe_finish_init()

    def _maybe_finish_init(self) -> None:
        init = self.init
        if init is None or self._pending_exit is None or not init.live:
            return
        execs_live = any(p.live and p.pid for p in self.execs.values())
        if not self._drain_expired and (execs_live or not self.io.done):
            return
        self.io.drain_all()
        if self.log is not None:
            self.log.flush()
        code, at = self._pending_exit
        init.exit_status, init.exited_at = code, at
        self._persist(init)
        waiters = init.set_exited(code, at)
        if self.oom_killed:
            self.publish("/tasks/oom", {})
        self.publish("/tasks/exit", self._exit_result(init))
        if self.proxy is not None:
            self.proxy.release()  # the exit command stops it: no restart for a stopped task
        if self.health is not None:
            self.health.stop()
        for waiter in waiters:
            waiter(init)
        # After the waiters (an attached run is among them, and handles the exit itself): the
        # command is the fallback for when nobody watches, and it reads the record on disk.
        run_exit_command(self.config.exit_command)

    def _persist(self, init: Process) -> None:
        if self.oom_killed:
            with open(self.layout.oom_file, "w"):
                pass
        write_exit(self.layout.exit_file, self.exit_of(init))

    def _force_delete(self) -> None:
        try:
            self.runtime.delete(self.config.id, DeleteOpts(force=True))
        except OCIRuntimeError:
            pass

    def _namespaces(self) -> list[dict[str, Any]]:
        return list((self.spec.get("linux") or {}).get("namespaces") or [])

    def abandon(self) -> None:
        """Shutdown(now) of a live task: force-delete it and record a SIGKILL."""
        init = self._init()
        self._force_delete()
        if init.live:
            init.exit_status, init.exited_at = 137, time.time_ns()
            self._persist(init)
            init.state = DELETED

    def exit_of(self, proc: Process) -> ExitStatus:
        """How `proc` ended (the OOM kill is the init's: the cgroup is the container's)."""
        oom = proc is self.init and self.oom_killed
        return ExitStatus(proc.exit_status, proc.exited_at, proc.pid, oom)

    def _exit_result(self, proc: Process) -> dict[str, Any]:
        """An exit as events, `wait` and `delete` report it: which process, and how it ended."""
        return {"exec_id": proc.exec_id, **self.exit_of(proc).to_json()}

    def live(self) -> bool:
        """Shutdown is refused while this is true."""
        return self.init is not None and self.init.state not in (STOPPED, DELETED)
