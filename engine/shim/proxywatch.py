"""The container's port proxy, watched by the container's shim and started again if it dies.

The engine starts a container's pyproxy and forgets it, as it forgets everything it starts; a
proxy killed afterwards (kill -9, the OOM killer) took the mappings of 127.0.0.1 clients with it
while `ps` and `port` kept listing them. The shim outlives every engine command and lives as
long as the task, so it watches: the engine hands it the proxy's pid and how to start it again
(`ProxyLaunch`), and the shim holds a pidfd, readable once that process exits whoever its parent
is. While the task runs, a dead proxy is started again after 0.1 s, doubling to 10 s between
failures, back to 0.1 s once one has lived 10 s (the shape of Docker's restart manager). The
start is asynchronous: the readiness pipe is one more descriptor of the shim's loop, so the
container's output never waits for a proxy.

The state (running, restarting, released; pid, restarts, last error) is written to
`proxy.json` in the shim's state directory after each change; `inspect` shows it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from engine.errors import EngineError
from engine.ports import proxyproc
from engine.ports.proxyproc import ProxyHandle, ProxyLaunch
from engine.shim.loop import READ, Loop
from engine.shimapi.proxystate import write_proxy_state

FIRST_DELAY = 0.1
MAX_DELAY = 10.0
STABLE = 10.0  # seconds a proxy must live for the delay to start over from FIRST_DELAY


class ProxyWatch:
    """running --(exit)--> restarting --(ready)--> running; release() ends it from any state."""

    def __init__(
        self, loop: Loop, launch: ProxyLaunch, handle: ProxyHandle, state_path: str
    ) -> None:
        self.loop = loop
        self.launch = launch
        self.handle = handle
        self.state_path = state_path
        self.status = "running"
        self.restarts = 0
        self.error = ""
        self._delay = FIRST_DELAY
        self._since = time.monotonic()
        self._pidfd = -1
        self._report = -1  # the readiness pipe of a proxy being started
        self._starting = 0  # its pid
        self._answer = b""
        self._attempt = 0  # bumped by each start and by release: late timers see a stale one
        self._watch()

    @property
    def next_delay(self) -> float:
        """How long the next restart waits after a death or a failed start."""
        return self._delay

    def snapshot(self) -> dict[str, object]:
        pid = self.handle.pid if self.status == "running" else 0
        return {
            "status": self.status,
            "pid": pid,
            "restarts": self.restarts,
            "error": self.error,
        }

    def release(self) -> None:
        """Stop watching: the task ended or the engine is stopping the proxy itself. A proxy
        being started is stopped here; the one running is the engine's to stop."""
        if self.status == "released":
            return
        self.status = "released"
        self._attempt += 1
        self._unwatch()
        if self._starting:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._starting, signal.SIGKILL)
        self._close_report()
        self._save()

    # watching -----------------------------------------------------------------------------

    def _watch(self) -> None:
        try:
            fd = os.pidfd_open(self.handle.pid)
        except ProcessLookupError:
            self._died()
            return
        if not proxyproc.is_running(self.handle):  # gone, and its pid already reused
            os.close(fd)
            self._died()
            return
        self._pidfd = fd
        self.loop.add(fd, READ, self._on_exit)
        self.status = "running"
        self._since = time.monotonic()
        self._save()

    def _unwatch(self) -> None:
        self._pidfd = self._drop(self._pidfd)

    def _on_exit(self, _events: int) -> None:
        self._unwatch()
        self._died()

    def _died(self) -> None:
        if self.status == "released":
            return
        if time.monotonic() - self._since >= STABLE:
            self._delay = FIRST_DELAY
        self.status = "restarting"
        self._save()
        attempt = self._attempt
        self.loop.call_later(self._delay, lambda: self._start(attempt))
        self._delay = min(self._delay * 2, MAX_DELAY)

    # starting -----------------------------------------------------------------------------

    def _start(self, attempt: int) -> None:
        if attempt != self._attempt or self.status != "restarting":
            return
        self._attempt += 1
        try:
            pid, report = proxyproc.spawn(self.launch)
        except (OSError, EngineError) as exc:
            self._failed(str(exc))
            return
        self._starting, self._report, self._answer = pid, report, b""
        os.set_blocking(report, False)
        self.loop.add(report, READ, self._on_report)
        attempt = self._attempt
        self.loop.call_later(proxyproc.READY_TIMEOUT, lambda: self._timed_out(attempt))

    def _on_report(self, _events: int) -> None:
        try:
            chunk = os.read(self._report, 4096)
        except BlockingIOError:
            return
        self._answer += chunk
        if chunk and self._answer != b"0\n":
            return  # more to come: `1\n<message>` ends with EOF
        self._finish_start(self._answer.decode(errors="replace"))

    def _timed_out(self, attempt: int) -> None:
        if attempt == self._attempt and self._starting:
            self._finish_start("")  # `ready` kills it: "no readiness report"

    def _finish_start(self, answer: str) -> None:
        pid, self._starting = self._starting, 0
        self._close_report()
        try:
            self.handle = proxyproc.ready(pid, answer)
        except EngineError as exc:
            self._failed(str(exc))
            return
        self.restarts += 1
        self.error = ""
        self._watch()

    def _failed(self, message: str) -> None:
        self.error = message
        self._since = time.monotonic()  # a failed start is no proof of stability
        self._died()

    def _close_report(self) -> None:
        self._report = self._drop(self._report)

    def _drop(self, fd: int) -> int:
        """Stop watching `fd` and close it (if open); -1, the value that says closed."""
        if fd >= 0:
            self.loop.remove(fd)
            os.close(fd)
        return -1

    def _save(self) -> None:
        write_proxy_state(self.state_path, self.snapshot())
