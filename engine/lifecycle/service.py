"""The container lifecycle users drive: stop, kill, pause, rm, wait, restart, and exits.

Docker's states, transitions and messages (moby daemon/stop.go, kill.go, pause.go, delete.go);
restart policies run here too, from the shim's exit command, since no daemon watches exits.
"""

import contextlib
import dataclasses
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from engine.containers.errors import ConflictError, NoSuchContainerError
from engine.containers.events import Event
from engine.containers.logs import LogEntry
from engine.containers.record import LIVE, ContainerRecord
from engine.containers.restart import next_delay
from engine.errors import EngineError
from engine.lifecycle.backends import TerminalGuard
from engine.lifecycle.base import SIGNAL_FAILED_WAIT, LifecycleBase
from engine.lifecycle.execs import ExecRequest, ExecStreams
from engine.lifecycle.locks import try_container_lock
from engine.lifecycle.streams import (
    EventsRequest,
    LogCursor,
    LogsRequest,
    engine_events,
    log_cursor,
    log_entries,
)
from engine.lifecycle.volumes import remove_anonymous
from engine.lifecycle.waits import WAIT_CONDITIONS, wait_for

__all__ = ["WAIT_CONDITIONS", "Engine"]
LOOKS_AT_ONCE = 8  # records refreshed side by side by `listing`


class Engine(LifecycleBase):
    """All lifecycle operations; the CLI's only way to touch containers."""

    def on_exit(self, container_id: str) -> None:
        """The shim's exit command: record the exit, then apply --rm or the restart policy."""
        try:
            with self.locked(container_id) as record:
                pass  # refresh_locked recorded the exit if there was one
        except NoSuchContainerError:
            return
        if record.state.status != "exited" or record.state.stopped_by_user:
            if record.host.auto_remove and record.state.status == "exited":
                self.remove(record.id, force=True)
            return
        policy = record.host.restart
        if policy.wants_restart(
            record.state.exit_code, record.state.restart_count, stopped_by_user=False
        ):
            self._restart_after_backoff(record)
        elif record.host.auto_remove:
            self.remove(record.id, force=True)

    def _restart_after_backoff(self, record: ContainerRecord) -> None:
        previous = float(record.resources.get("restart_delay", "0"))
        delay = next_delay(previous, record.state.finished_at - record.state.started_at)
        with self.locked(record.id) as current:
            if current.state.status != "exited" or current.state.stopped_by_user:
                return
            restarting = dataclasses.replace(
                current, resources={**current.resources, "restart_delay": str(delay)}
            ).with_state(status="restarting", restart_count=current.state.restart_count + 1)
            self.store.write(restarting)
        self.sleep(delay)
        with self.locked(record.id) as current:
            # stop, kill and rm cancel a pending restart by changing the state.
            if current.state.status != "restarting" or current.state.stopped_by_user:
                return
            try:
                started = self._start_locked(current)
            except EngineError as exc:
                self.store.write(current.with_state(status="exited", error=str(exc)))
                return
            self._event("restart", started)

    def start(self, ref: str, console_size: tuple[int, int] | None = None) -> ContainerRecord:
        """LifecycleBase.start; a container with --rm whose start failed is removed, as
        dockerd removes it (moby daemon/start.go), for the CLI and the API server alike."""
        try:
            return super().start(ref, console_size)
        except EngineError:
            with contextlib.suppress(EngineError):
                record = self.store.find(ref)
                if record.host.auto_remove and record.state.status not in LIVE:
                    self.remove(record.id, force=True)
            raise

    # stop, kill, pause ----------------------------------------------------------------------------

    def stop(self, ref: str, timeout: int | None = None, sig: int | None = None) -> ContainerRecord:
        """Stop signal, wait `timeout` seconds (-1: forever), then SIGKILL."""
        with self.locked(ref) as record:
            if record.state.status == "restarting":
                record = record.with_state(status="exited", stopped_by_user=True)
                self.store.write(record)
                return record
            if record.state.status not in LIVE:
                return record  # Docker: 304, not modified
            record = record.with_state(stopped_by_user=True)
            self.store.write(record)
            wait = record.config.stop_timeout if timeout is None else timeout
            try:
                self.tasks.kill(record.id, sig or record.config.stop_signal)
                if record.state.status == "paused":
                    self._thaw(record.id)
            except EngineError:
                wait = int(SIGNAL_FAILED_WAIT)
            status = self.tasks.wait(record.id, None if wait < 0 else float(wait))
            if status is None:
                self._kill_if_live(record.id)
                status = self.tasks.wait(record.id, None)
            assert status is not None
            record = self._finish_locked(record, status)
        self._event("stop", record)
        return record

    def kill(self, ref: str, sig: int = signal.SIGKILL) -> ContainerRecord:
        """Send a signal; SIGKILL and the stop signal count as a manual stop."""
        with self.locked(ref) as record:
            if record.state.status not in LIVE:
                raise ConflictError(
                    f"Cannot kill container: {ref}: Container {record.id} is not running"
                )
            if sig in (signal.SIGKILL, record.config.stop_signal):
                record = record.with_state(stopped_by_user=True)
                self.store.write(record)
            self.tasks.kill(record.id, sig)
            if record.state.status == "paused":
                self._thaw(record.id)
            self._event("kill", record)
            if sig == signal.SIGKILL:
                status = self.tasks.wait(record.id, None)
                assert status is not None
                record = self._finish_locked(record, status)
        return record

    def _kill_if_live(self, container_id: str) -> None:
        """SIGKILL every process of the task; one that has just ended on its own is fine
        (runc says "process already finished")."""
        try:
            self.tasks.kill(container_id, signal.SIGKILL, all_processes=True)
        except EngineError:
            if self.tasks.status(container_id).status in LIVE:
                raise

    def _thaw(self, container_id: str) -> None:
        """Resume a paused task after a signal. SIGKILL ends a frozen task without a thaw, and
        a task that has ended cannot be resumed: that is not an error."""
        try:
            self.tasks.resume(container_id)
        except EngineError:
            if self.tasks.status(container_id).status in LIVE:
                raise

    def pause(self, ref: str) -> ContainerRecord:
        """Freeze a running container."""
        with self.locked(ref) as record:
            if record.state.status == "paused":
                raise ConflictError(f"Container {record.id} is already paused")
            if record.state.status != "running":
                raise ConflictError(f"Container {record.id} is not running")
            self.tasks.pause(record.id)
            record = record.with_state(status="paused")
            self.store.write(record)
        self._event("pause", record)
        return record

    def unpause(self, ref: str) -> ContainerRecord:
        """Thaw a paused container."""
        with self.locked(ref) as record:
            if record.state.status != "paused":
                raise ConflictError(f"Container {record.id} is not paused")
            self.tasks.resume(record.id)
            record = record.with_state(status="running")
            self.store.write(record)
        self._event("unpause", record)
        return record

    def restart(self, ref: str, timeout: int | None = None) -> ContainerRecord:
        """stop + start; a manual restart resets RestartCount."""
        record = self.stop(ref, timeout)
        with self.locked(record.id) as current:
            return self._start_locked(current.with_state(restart_count=0))

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> ContainerRecord:
        """Remove a stopped container; `force` kills a live one first; `volumes` (and `--rm`)
        its anonymous volumes too."""
        with self.locked(ref) as record:
            if record.state.status == "paused" and not force:
                raise ConflictError(
                    f"You cannot remove a paused container {record.id}. Unpause and then stop "
                    "the container before attempting removal or force remove"
                )
            if record.state.status in ("running", "restarting") and not force:
                raise ConflictError(
                    f"You cannot remove a running container {record.id}. Stop the container "
                    "before attempting removal or force remove"
                )
            if record.state.status in LIVE:
                record = record.with_state(stopped_by_user=True)
                self.store.write(record)
                self._kill_if_live(record.id)
                if record.state.status == "paused":
                    self._thaw(record.id)
                status = self.tasks.wait(record.id, None)
                assert status is not None
                record = self._finish_locked(record, status)
            self.store.write(record.with_state(status="removing"), durable=False)
            self._teardown(record, remove=True)
            with self.store.locked():
                self.store.remove(record.id)
                if volumes or record.host.auto_remove:
                    remove_anonymous(record, self.store, self.volumes)
        self._event("destroy", record)
        return record

    def wait(self, ref: str, condition: str = "not-running", poll: float = 0.1) -> int:
        """Block until the condition holds; the container's exit code (lifecycle/waits.py)."""
        return wait_for(self, ref, condition, poll)

    def exec(
        self,
        ref: str,
        request: ExecRequest,
        *,
        streams: ExecStreams | None = None,
        terminal: TerminalGuard | None = None,
    ) -> int:
        """Run a command in a running container; its exit code (Docker refuses paused ones).
        Its env adds to the container's, its cwd and user override the container's; see
        Tasks.exec for the streams."""
        with self.locked(ref) as record:
            if record.state.status == "paused":
                raise ConflictError(
                    f"Container {record.id} is paused, unpause the container before exec"
                )
            if record.state.status != "running":
                raise ConflictError(f"Container {record.id} is not running")
        merged = dataclasses.replace(
            request,
            env=(*record.config.env, *request.env),
            cwd=request.cwd or record.config.workdir,
            user=request.user or record.config.user,
            stdin=request.stdin and not request.detach,
        )
        return self.tasks.exec(record.id, merged, streams=streams, terminal=terminal)

    def logs(self, ref: str, request: LogsRequest) -> Iterator[LogEntry]:
        """A container's log entries (engine/lifecycle/streams.py)."""
        return log_entries(self.store, self.log_path, ref, request)

    def log_cursor(self, ref: str, request: LogsRequest) -> LogCursor:
        """The same entries in pieces, for a caller that paces itself (the API server)."""
        return log_cursor(self.store, self.log_path, ref, request)

    def events(self, request: EventsRequest) -> Iterator[Event]:
        """The engine's events (engine/lifecycle/streams.py)."""
        return engine_events(self.root, request)

    def listing(self, everything: bool = False) -> list[ContainerRecord]:
        """Containers for `ps`, brought up to date where no other command holds them."""
        records = self.store.all()
        stale = [
            r
            for r in records
            if "setup" in r.resources
            or (r.state.status in LIVE and not self.tasks.surely_running(r.id, r.state.pid))
        ]
        # Each look is a lock and a round trip to that container's shim, mostly waiting on it,
        # so they overlap. On an idle 2-core host that gained little (the shims' replies cost
        # CPU too); one round trip per look instead of two is what made `ps` faster.
        with ThreadPoolExecutor(max(1, min(LOOKS_AT_ONCE, len(stale)))) as pool:
            fresh = dict(zip([r.id for r in stale], pool.map(self._refreshed, stale), strict=True))
        shown = []
        for record in records:
            current = fresh.get(record.id, record)
            if current is not None and (
                everything or current.state.status in (*LIVE, "restarting")
            ):
                shown.append(self._with_health(current))
        return shown

    def prune(self) -> list[str]:
        """`container prune`: every container that is not running, paused or restarting,
        removed (with its anonymous volumes kept, as Docker); their ids."""
        removed = []
        for record in self.listing(everything=True):
            if record.state.status in ("created", "exited", "dead"):
                with contextlib.suppress(NoSuchContainerError):  # another prune got there
                    self.remove(record.id)
                    removed.append(record.id)
        return removed

    def _with_health(self, record: ContainerRecord) -> ContainerRecord:
        """`ps` shows a running container's health: its status, as the shim last wrote it."""
        if record.state.status != "running" or not record.config.healthcheck.enabled:
            return record
        state = self.health_state(record) or {}
        return record.with_state(health=str(state.get("Status") or "starting"))

    def _refreshed(self, record: ContainerRecord) -> ContainerRecord | None:
        """The record brought up to date, as it is if another command holds it, None if gone."""
        with try_container_lock(self.store.container_dir(record.id)) as held:
            if not held:
                return record
            try:
                return self.refresh_locked(self.store.reload(record))
            except NoSuchContainerError:
                return None

    def boot(self) -> list[ContainerRecord]:
        """What dockerd does when it starts, for a host that has just booted: bring every
        record up to date, then start `always` containers and `unless-stopped` ones the user
        had not stopped (on-failure ones stay down, as in Docker)."""
        started = []
        for record in self.listing(everything=True):
            policy = record.host.restart
            if record.state.status in ("exited", "created") and policy.on_engine_start(
                record.state.stopped_by_user
            ):
                try:
                    started.append(self.start(record.id))
                except EngineError as exc:
                    self.store.write(self.store.reload(record).with_state(error=str(exc)))
        return started
