"""Health checks, run by the container's shim as execs of the container, as Docker's daemon
runs them: every `interval` once the previous check ended, each killed after `timeout`; a
check passes on exit 0. `starting` until the first pass (failures inside `start_period` do not
count), `healthy` after a pass, `unhealthy` after `retries` failures in a row. The state goes
to `health.json` after every check (engine/shimapi/health.py); checks stop with the task."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from engine.errors import EngineError
from engine.shim.loop import Loop
from engine.shim.process import Process
from engine.shimapi.health import (
    HEALTHY,
    LOG_ENTRIES,
    OUTPUT_LIMIT,
    STARTING,
    UNHEALTHY,
    HealthCheck,
    HealthState,
    write_health,
)


def _rfc3339(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()


class HealthWatch:
    """waiting --(interval)--> checking --(exit or timeout)--> waiting; stop() ends it."""

    def __init__(
        self,
        loop: Loop,
        check: HealthCheck,
        state_dir: str,
        *,
        run_exec: Callable[[str, dict[str, Any], str], Process],
        finish_exec: Callable[[str], object],
        alive: Callable[[], bool],
    ) -> None:
        self.loop = loop
        self.check = check
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, "health.json")
        self.run_exec, self.finish_exec, self.alive = run_exec, finish_exec, alive
        self.state = HealthState()
        self.started = time.monotonic()
        self.count = 0
        self.stopped = False
        write_health(self.path, self.state)
        self.loop.call_later(check.interval, self._run)

    def stop(self) -> None:
        self.stopped = True

    def _run(self) -> None:
        if self.stopped or not self.alive():
            return
        self.count += 1
        exec_id = f"health{self.count}"
        output = os.path.join(self.state_dir, f"{exec_id}.out")
        began = time.time()
        try:
            proc = self.run_exec(exec_id, self.check.process, output)
        except EngineError as exc:
            self._record(began, -1, f"the check could not start: {exc}")
            self.loop.call_later(self.check.interval, self._run)
            return
        timer = [True]

        def timed_out() -> None:
            if timer[0] and proc.live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)

        def ended(done: Process) -> None:
            timer[0] = False
            code = done.exit_status
            text = _read(output)
            with contextlib.suppress(OSError):
                os.unlink(output)
            with contextlib.suppress(EngineError):
                self.finish_exec(exec_id)
            if code == 137 and time.time() - began >= self.check.timeout:
                text = f"Health check exceeded timeout ({self.check.timeout:g}s)"
            self._record(began, code, text)
            if not self.stopped:
                self.loop.call_later(self.check.interval, self._run)

        proc.waiters.append(ended)
        self.loop.call_later(self.check.timeout, timed_out)

    def _record(self, began: float, code: int, output: str) -> None:
        state = self.state
        state.log = [
            *state.log,
            {"Start": _rfc3339(began), "End": _rfc3339(time.time()), "ExitCode": code,
             "Output": output},
        ][-LOG_ENTRIES:]  # fmt: skip
        if code == 0:
            state.status, state.failing_streak = HEALTHY, 0
        elif time.monotonic() - self.started < self.check.start_period:
            pass  # failures while it starts do not count
        else:
            state.failing_streak += 1
            if state.failing_streak >= self.check.retries:
                state.status = UNHEALTHY
            elif state.status != HEALTHY:
                state.status = STARTING
        with contextlib.suppress(OSError):
            write_health(self.path, state)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(OUTPUT_LIMIT).decode(errors="replace")
    except OSError:
        return ""
