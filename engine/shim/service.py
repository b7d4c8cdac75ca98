"""The task API beyond the lifecycle: state, pids, pause/resume, stdio, stats, update."""

from __future__ import annotations

import binascii
from typing import Any

from engine.ports.proxyproc import ProxyHandle, ProxyLaunch
from engine.runtime.opts import UpdateOpts
from engine.shim.health import HealthWatch
from engine.shim.process import Process
from engine.shim.proxywatch import ProxyWatch
from engine.shim.task import Task
from engine.shimapi.errors import InvalidArgumentError
from engine.shimapi.health import HealthCheck


class TaskService(Task):
    """Task plus the methods that only pass through to the runtime or the stdio."""

    def state(self, params: dict[str, Any]) -> dict[str, Any]:
        out = self.process(str(params.get("exec_id") or "")).snapshot()
        out.update(
            id=self.config.id,
            bundle=self.config.bundle,
            oom_killed=self.oom_killed,
            log_path=self.layout.log_path if self.log is not None else "",
        )
        if self.proxy is not None:
            out["proxy"] = self.proxy.snapshot()
        return out

    def watch_proxy(self, params: dict[str, Any]) -> dict[str, Any]:
        """Watch the container's port proxy and start it again if it dies while the task runs
        (engine.shim.proxywatch); a proxy watched before is released first."""
        init = self._init()
        if not init.live or self._pending_exit is not None:
            # Already ended (a command that exits at once): its exit command stops the proxy.
            return {"status": "released", "pid": 0, "restarts": 0, "error": ""}
        launch = ProxyLaunch.from_json(params["launch"])
        handle = ProxyHandle(int(params["pid"]), int(params["start_time"]))
        if self.proxy is not None:
            self.proxy.release()
        self.proxy = ProxyWatch(self.loop, launch, handle, self.layout.state("proxy.json"))
        return self.proxy.snapshot()

    def watch_health(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run the container's health checks while its task runs (engine.shim.health)."""
        init = self._init()
        if not init.live or self._pending_exit is not None:
            return {}
        try:
            check = HealthCheck.from_json(params["check"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"invalid health check: {exc}") from None
        if self.health is not None:
            self.health.stop()
        self.health = HealthWatch(
            self.loop,
            check,
            self.layout.state_dir,
            run_exec=self._health_exec,
            finish_exec=lambda exec_id: self.delete({"exec_id": exec_id}),
            alive=lambda: self._init().live and self._pending_exit is None,
        )
        return {}

    def _health_exec(self, exec_id: str, process: dict[str, Any], output: str) -> Process:
        self.exec({"exec_id": exec_id, "process": process, "stdout": output, "stderr": output})
        self.start({"exec_id": exec_id})
        return self.process(exec_id)

    def release_proxy(self, _params: dict[str, Any]) -> dict[str, Any]:
        """Stop watching the proxy (the engine is about to stop it); absent is fine."""
        if self.proxy is None:
            return {}
        self.proxy.release()
        return self.proxy.snapshot()

    def pids(self, _params: dict[str, Any]) -> dict[str, Any]:
        self._init().check("pids")
        by_pid = {p.pid: p.exec_id for p in self.execs.values() if p.live}
        pids = self.runtime.ps(self.config.id)
        return {"processes": [{"pid": p, "exec_id": by_pid.get(p, "")} for p in pids]}

    def pause(self, _params: dict[str, Any]) -> dict[str, Any]:
        init = self._init()
        init.check("pause")
        self.runtime.pause(self.config.id)
        init.transition("pause")
        self.publish("/tasks/paused", {})
        return {}

    def resume(self, _params: dict[str, Any]) -> dict[str, Any]:
        init = self._init()
        init.check("resume")
        self.runtime.resume(self.config.id)
        init.transition("resume")
        self.publish("/tasks/resumed", {})
        return {}

    def resize(self, params: dict[str, Any]) -> dict[str, Any]:
        rows, cols = int(params.get("height", 24)), int(params.get("width", 80))
        exec_id = str(params.get("exec_id") or "")
        self.process(exec_id).check("resize")
        if not exec_id:
            self.io.resize(rows, cols)
            return {}
        tty = self.ttys.get(exec_id)
        if tty is None:
            raise InvalidArgumentError(f"exec {exec_id} has no terminal")
        tty.resize(rows, cols)
        return {}

    def close_io(self, _params: dict[str, Any]) -> dict[str, Any]:
        self._init().check("close_io")
        self.io.close_stdin()
        return {}

    def write_stdin(self, params: dict[str, Any]) -> dict[str, Any]:
        self._init().check("close_io")
        if "data_b64" in params:
            # Bytes that are not text (a binary stdin) travel as base64 in the JSON line.
            try:
                raw = binascii.a2b_base64(str(params["data_b64"]))
            except binascii.Error:
                raise InvalidArgumentError("write_stdin: data_b64 is not base64") from None
            return {"written": self.io.write_stdin(raw)}
        return {"written": self.io.write_stdin(str(params.get("data", "")).encode())}

    def stats(self, _params: dict[str, Any]) -> dict[str, Any]:
        self._init().check("stats")
        return self.runtime.stats(self.config.id)

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        self._init().check("update")
        resources = params.get("resources")
        if not isinstance(resources, dict):
            raise InvalidArgumentError("update needs a resources object")
        try:
            opts = UpdateOpts.from_dict(resources)
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(str(exc)) from None
        self.runtime.update(self.config.id, opts)
        return {}
