"""The lifecycle state machine over fake seams: Docker's states, transitions and messages."""

import dataclasses
import json
import signal
import time
from pathlib import Path

import pytest

from engine.containers import events
from engine.containers.errors import ConflictError, NoSuchContainerError
from engine.containers.flags import RunFlags
from engine.errors import EngineError
from engine.lifecycle.service import Engine
from engine.lifecycle.streams import EventsRequest, LogsRequest
from engine.runtime.errors import CommandNotFoundError, container_exit_code
from tests.support.lifecycle_fakes import FakeImages, FakeNetworks, FakeTasks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Engine:
    return Engine(
        tmp_path,
        FakeImages(tmp_path),
        FakeNetworks(),
        FakeTasks(),
        proxy_path="/nonexistent/pyproxy",
        exit_command=lambda cid: ("pyengine", "_exited", cid),
        clock=clock,
        sleep=clock.sleep,
    )


def fakes(engine: Engine) -> tuple[FakeImages, FakeNetworks, FakeTasks]:
    assert isinstance(engine.images, FakeImages)
    assert isinstance(engine.networks, FakeNetworks)
    assert isinstance(engine.tasks, FakeTasks)
    return engine.images, engine.networks, engine.tasks


def run(engine: Engine, **flags: object) -> str:
    record = engine.create(RunFlags(image="busybox", **flags))  # type: ignore[arg-type]
    return engine.start(record.id).id


def test_create_start_stop_rm_releases_everything(engine: Engine) -> None:
    images, networks, tasks = fakes(engine)
    record = engine.create(RunFlags(image="busybox", name="web"))
    assert record.state.status == "created" and not images.mounted
    started = engine.start("web")
    assert started.state.status == "running" and started.state.pid > 100
    assert started.state.ip_address == networks.connected[record.id]
    assert tasks.tasks[record.id].spec.exit_command == ("pyengine", "_exited", record.id)
    assert "setup" not in started.resources
    assert engine.start("web").state.pid == started.state.pid  # already running: untouched
    stopped = engine.stop("web")
    assert (stopped.state.status, stopped.state.exit_code) == ("exited", 143)
    assert stopped.state.stopped_by_user
    assert not images.mounted and not networks.connected and record.id not in tasks.tasks
    assert not images.released  # a stopped container keeps its changes
    assert engine.stop("web").state.exit_code == 143  # not modified
    engine.remove("web")
    assert images.released == {record.id}
    with pytest.raises(NoSuchContainerError):
        engine.store.find("web")
    actions = [e.action for e in events.read(engine.root)]
    assert actions == ["create", "start", "die", "stop", "destroy"]


def test_stop_waits_then_kills_a_process_that_ignores_sigterm(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    tasks.ignore_term = True
    cid = run(engine)
    record = engine.stop(cid, timeout=1)
    assert record.state.exit_code == 137
    assert tasks.signals == [(cid, signal.SIGTERM), (cid, signal.SIGKILL)]


def test_stop_uses_the_containers_stop_signal(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    cid = run(engine, stop_signal="SIGINT")
    assert engine.stop(cid).state.exit_code == 130
    assert tasks.signals == [(cid, signal.SIGINT)]


def test_kill_defaults_to_sigkill_and_refuses_a_stopped_container(engine: Engine) -> None:
    cid = run(engine)
    assert engine.kill(cid).state.exit_code == 137
    with pytest.raises(ConflictError, match="is not running"):
        engine.kill(cid)


def test_a_non_fatal_signal_leaves_it_running(engine: Engine) -> None:
    cid = run(engine)
    assert engine.kill(cid, signal.SIGUSR1).state.status == "running"


def test_pause_rules(engine: Engine) -> None:
    cid = run(engine)
    engine.pause(cid)
    with pytest.raises(ConflictError, match="already paused"):
        engine.pause(cid)
    with pytest.raises(ConflictError, match="cannot start a paused container, try unpause first"):
        engine.start(cid)
    with pytest.raises(ConflictError, match="Unpause and then stop"):
        engine.remove(cid)
    # stop on a paused container delivers the signal and thaws it.
    assert engine.stop(cid).state.exit_code == 143
    with pytest.raises(ConflictError, match="is not paused"):
        engine.unpause(cid)
    with pytest.raises(ConflictError, match="is not running"):
        engine.pause(cid)


def test_rm_refuses_a_running_container_unless_forced(engine: Engine) -> None:
    images, networks, tasks = fakes(engine)
    cid = run(engine)
    with pytest.raises(ConflictError, match="Stop the container before attempting removal"):
        engine.remove(cid)
    assert engine.store.find(cid).state.status == "running"
    engine.remove(cid, force=True)
    assert not tasks.tasks and not networks.connected and not images.mounted
    assert engine.store.all() == []


def test_an_exit_seen_later_is_recorded_with_its_code(engine: Engine) -> None:
    _, networks, tasks = fakes(engine)
    cid = run(engine)
    tasks.exit(cid, 7)
    [record] = engine.store.all()
    assert record.state.status == "running"  # nobody looked yet
    with engine.locked(cid) as seen:
        assert (seen.state.status, seen.state.exit_code) == ("exited", 7)
    assert not networks.connected


def test_a_vanished_shim_is_reported_as_255(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    cid = run(engine)
    del tasks.tasks[cid]
    with engine.locked(cid) as seen:
        assert (seen.state.status, seen.state.exit_code) == ("exited", 255)


def test_a_start_that_died_midway_is_undone_by_the_next_command(engine: Engine) -> None:
    images, networks, tasks = fakes(engine)
    record = engine.create(RunFlags(image="busybox"))
    tasks.fail_start = EngineError("boom")
    with pytest.raises(EngineError, match="boom"):
        engine.start(record.id)
    assert not images.mounted and not networks.connected and not tasks.tasks
    failed = engine.store.find(record.id)
    assert failed.state.status == "created" and failed.state.error == "boom"
    assert (failed.state.ip_address, failed.state.ports) == ("", ())  # nothing runs there
    # Simulate a kill -9 after the setup marker was written and resources were taken.
    engine.store.write(dataclasses.replace(failed, resources={"setup": "1"}))
    images.mounted.add(record.id)
    networks.connected[record.id] = "10.0.0.9"
    with engine.locked(record.id) as seen:
        assert "setup" not in seen.resources
    assert not images.mounted and not networks.connected


def test_a_start_killed_after_its_task_began_is_finished(engine: Engine) -> None:
    """The task runs; only the start's last record write was lost (kill -9 just before it):
    the next command records it running with its pid and a start event, undoing nothing."""
    images, networks, tasks = fakes(engine)
    cid = run(engine)
    started = engine.store.find(cid)
    killed = dataclasses.replace(started, resources={**started.resources, "setup": "1"})
    engine.store.write(killed.with_state(status="created", pid=0))
    with engine.locked(cid) as seen:
        assert (seen.state.status, seen.state.pid) == ("running", tasks.tasks[cid].pid)
        assert seen.state.ip_address == started.state.ip_address
        assert "setup" not in seen.resources
    assert cid in images.mounted and cid in networks.connected  # nothing was undone
    assert [e.action for e in events.read(engine.root)].count("start") == 2


def test_command_not_found_keeps_the_container_created_with_127(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    tasks.fail_start = CommandNotFoundError("exec: nope: executable file not found in $PATH")
    record = engine.create(RunFlags(image="busybox", command=("nope",)))
    with pytest.raises(EngineError) as err:
        engine.start(record.id)
    assert container_exit_code(err.value) == 127
    assert engine.store.find(record.id).state.exit_code == 127


def test_restart_policy_on_failure_with_backoff(engine: Engine, clock: Clock) -> None:
    _, _, tasks = fakes(engine)
    cid = run(engine, restart="on-failure:2")
    for expected_count in (1, 2):
        tasks.exit(cid, 3)
        engine.on_exit(cid)
        record = engine.store.find(cid)
        assert (record.state.status, record.state.restart_count) == ("running", expected_count)
    tasks.exit(cid, 3)
    engine.on_exit(cid)
    assert engine.store.find(cid).state.status == "exited"
    assert clock.slept == [0.1, 0.2]
    assert [e.action for e in events.read(engine.root)].count("restart") == 2


def test_on_failure_does_not_restart_after_success_and_always_does(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    a = run(engine, restart="on-failure")
    b = run(engine, restart="always")
    for cid in (a, b):
        tasks.exit(cid, 0)
        engine.on_exit(cid)
    assert engine.store.find(a).state.status == "exited"
    assert engine.store.find(b).state.status == "running"


def test_a_manual_stop_is_never_undone_by_the_policy(engine: Engine) -> None:
    cid = run(engine, restart="always")
    engine.stop(cid)
    engine.on_exit(cid)
    assert engine.store.find(cid).state.status == "exited"


def test_auto_remove_on_exit(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    cid = run(engine, auto_remove=True)
    tasks.exit(cid, 0)
    engine.on_exit(cid)
    assert engine.store.all() == []


def test_restart_resets_the_count_and_gives_a_new_pid(engine: Engine) -> None:
    cid = run(engine)
    first = engine.store.find(cid).state.pid
    record = engine.restart(cid)
    assert record.state.status == "running" and record.state.pid != first
    assert record.state.restart_count == 0


def test_wait_returns_the_exit_code(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    cid = run(engine)
    tasks.exit(cid, 42)
    assert engine.wait(cid) == 42


def test_unknown_containers(engine: Engine) -> None:
    for action in (engine.start, engine.stop, engine.kill, engine.remove, engine.pause):
        with pytest.raises(NoSuchContainerError, match="No such container: ghost"):
            action("ghost")


def test_boot_starts_always_and_unless_stopped_but_not_on_failure(engine: Engine) -> None:
    _, _, tasks = fakes(engine)
    always = run(engine, restart="always")
    unless = run(engine, restart="unless-stopped")
    stopped = run(engine, restart="unless-stopped")
    failing = run(engine, restart="on-failure")
    engine.stop(stopped)
    for cid in (always, unless, failing):
        del tasks.tasks[cid]  # the host went down: no shim survived
    started = {r.id for r in engine.boot()}
    assert started == {always, unless}
    assert engine.store.find(failing).state.status == "exited"
    assert engine.store.find(stopped).state.status == "exited"


def test_an_unknown_network_is_refused_at_create(engine: Engine) -> None:
    with pytest.raises(EngineError, match="network nosuch not found"):
        engine.create(RunFlags(image="busybox", network="nosuch"))
    assert engine.store.all() == []
    assert engine.create(RunFlags(image="busybox", network="user")).host.network == "user"


def test_wait_conditions(engine: Engine, clock: Clock) -> None:
    _, _, tasks = fakes(engine)
    cid = run(engine)
    tasks.exit(cid, 3)
    assert engine.wait(cid) == 3
    assert engine.wait(cid, "not-running") == 3  # not running: at once

    # removed: polls until the record is gone (here the poll itself removes it).
    def remove_while_waiting(_seconds: float) -> None:
        engine.remove(cid)

    engine.sleep = remove_while_waiting
    assert engine.wait(cid, "removed") == 3
    with pytest.raises(NoSuchContainerError):
        engine.store.find(cid)
    with pytest.raises(EngineError, match="invalid condition"):
        engine.wait(run(engine), "whenever")


def test_a_late_command_never_brings_a_removed_container_back(engine: Engine) -> None:
    """An exit command that found the record just before `rm` removed it must not recreate
    the container's directory by taking its lock."""
    record = engine.create(RunFlags(image="busybox"))
    engine.remove(record.id)
    engine.store.find = lambda ref: record  # type: ignore[method-assign]
    with pytest.raises(NoSuchContainerError), engine.locked(record.id):
        pass
    assert not engine.store.container_dir(record.id).exists()


def _log_line(text: str, stream: str, second: int) -> str:
    return json.dumps({"log": text, "stream": stream, "time": f"2026-12-07T10:00:0{second}Z"})


def test_logs_are_a_stream_of_entries_the_caller_renders(engine: Engine) -> None:
    cid = engine.create(RunFlags(image="busybox")).id
    path = engine.log_path(cid)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [_log_line("a\n", "stdout", 1), _log_line("b\n", "stderr", 2)]
    path.write_text("\n".join(lines) + "\n")
    every = list(engine.logs(cid, LogsRequest()))
    assert [(e.text, e.stream) for e in every] == [("a\n", "stdout"), ("b\n", "stderr")]
    assert [e.text for e in engine.logs(cid, LogsRequest(tail=1))] == ["b\n"]
    # follow ends with the container: this one never ran
    assert [e.text for e in engine.logs(cid, LogsRequest(follow=True))] == ["a\n", "b\n"]
    with pytest.raises(NoSuchContainerError):
        engine.logs("nosuch", LogsRequest())  # at the call, before any entry is read


def test_events_in_a_window_are_the_log_of_what_happened(engine: Engine, clock: Clock) -> None:
    before = time.time_ns()
    cid = run(engine)
    after = time.time_ns() + 1
    actions = [e.action for e in engine.events(EventsRequest(before, after)) if e.id == cid]
    assert actions[:2] == ["create", "start"]
