"""The shim with real runc on a busybox rootfs: exit codes, reaping, logs, waits, state rules."""

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from engine.runtime.spec import process_spec
from engine.shimapi.discovery import pid_alive, read_pid
from engine.shimapi.errors import InvalidArgumentError, TaskConflictError, TaskNotFoundError
from engine.tasks.spawn import remove_task
from tests.conftest import require, require_root
from tests.support.bundle import zombies_under
from tests.support.shim import RUNC, Sandbox, sandbox, wait_for

pytestmark = pytest.mark.root
NO_PIDNS = ("network", "ipc", "uts", "mount")  # the host's pid namespace


@pytest.fixture
def box():
    require_root()
    require(os.access(RUNC, os.X_OK), "runc is not installed")
    require(os.access("/bin/busybox", os.X_OK), "busybox-static is not installed")
    with sandbox() as b:
        yield b


def run_to_exit(box: Sandbox, cid: str, args: tuple[str, ...], **spec) -> int:
    client = box.create(cid, args, **spec)
    client.start()
    status = client.wait(timeout=20).exit_status
    remove_task(client)
    return status


@pytest.mark.parametrize(("args", "code"), [(("true",), 0), (("sh", "-c", "exit 7"), 7)])
def test_exit_code_of_the_command(box, args, code):
    assert run_to_exit(box, "pyt-exit", args) == code
    assert json.loads(Path(box.layout("pyt-exit").exit_file).read_text())["exit_status"] == code


def test_sigkill_is_137_and_sigterm_is_143(box):
    killed = box.create("pyt-k9", ("sleep", "100"))
    killed.start()
    killed.kill("KILL")
    assert killed.wait(timeout=20).exit_status == 137
    remove_task(killed)
    # a pid-namespace init ignores SIGTERM; in the host's pid namespace sleep dies of it
    termed = box.create("pyt-k15", ("sleep", "100"), namespaces=NO_PIDNS)
    termed.start()
    termed.kill("SIGTERM")
    assert termed.wait(timeout=20).exit_status == 143
    remove_task(termed)


def test_exec_exit_codes_and_signals(box):
    client = box.create("pyt-exec", ("sleep", "100"))
    client.start()
    client.exec("e42", process_spec(["sh", "-c", "exit 42"]))
    client.start("e42")
    assert client.wait("e42", timeout=20).exit_status == 42
    assert client.delete("e42").exit_status == 42
    client.exec("e15", process_spec(["sleep", "100"]))
    client.start("e15")
    client.kill(15, exec_id="e15")
    assert client.wait("e15", timeout=20).exit_status == 143
    with pytest.raises(TaskNotFoundError):
        client.state("nope")
    client.kill("KILL")
    assert client.wait(timeout=20).exit_status == 137
    remove_task(client)


def test_orphans_are_reaped_no_zombies(box):
    # host pid namespace: the orphaned grandchildren are re-parented to the shim itself
    script = "sh -c 'sleep 0.3 &'; sh -c 'sleep 0.2 & sleep 0.1 &'; sleep 0.5; exit 3"
    client = box.create("pyt-zomb", ("sh", "-c", script), namespaces=NO_PIDNS)
    shim = box.shim_pid("pyt-zomb")
    client.start()
    assert client.wait(timeout=20).exit_status == 3
    assert wait_for(lambda: not zombies_under(shim))
    remove_task(client)


def test_logs_are_docker_json_file_with_separate_streams(box):
    script = "echo out1; echo err1 >&2; printf partial"
    assert run_to_exit(box, "pyt-log", ("sh", "-c", script)) == 0
    lines = [json.loads(ln) for ln in Path(box.layout("pyt-log").log_path).read_text().splitlines()]
    by_stream = {(e["stream"], e["log"]) for e in lines}
    assert by_stream == {("stdout", "out1\n"), ("stderr", "err1\n"), ("stdout", "partial")}
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in lines)


def test_logs_rotate_by_size(box):
    script = "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"
    config = {"log_max_size": 2048, "log_max_file": 3}
    client = box.create("pyt-rot", ("sh", "-c", script), config=config)
    client.start()
    assert client.wait(timeout=20).exit_status == 0
    remove_task(client)
    path = box.layout("pyt-rot").log_path
    files = sorted(os.listdir(os.path.dirname(path)))
    assert [f for f in files if "json.log" in f] == [
        "pyt-rot-json.log",
        "pyt-rot-json.log.1",
        "pyt-rot-json.log.2",
    ]
    assert all(os.path.getsize(f"{path}{s}") < 2048 + 200 for s in ("", ".1", ".2"))
    last = [json.loads(ln)["log"] for ln in Path(path).read_text().splitlines()]
    assert last[-1] == "line-299\n"


def test_many_waiters_get_the_same_exit(box):
    client = box.create("pyt-wait", ("sh", "-c", "sleep 0.3; exit 5"))
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.wait(timeout=20).exit_status))
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    client.start()
    for t in threads:
        t.join(20)
    assert results == [5] * 5
    assert client.wait(timeout=5).exit_status == 5  # after the exit: at once
    remove_task(client)


def test_state_transition_errors(box):
    client = box.create("pyt-state", ("sleep", "100"))
    with pytest.raises(TaskConflictError, match="cannot pause task in created state"):
        client.pause()
    client.start()
    with pytest.raises(TaskConflictError, match="cannot start task in running state"):
        client.start()
    with pytest.raises(TaskConflictError, match="cannot delete task in running state"):
        client.delete()
    client.pause()
    assert client.state()["status"] == "paused"
    with pytest.raises(TaskConflictError, match="paused"):
        client.exec("x", process_spec(["true"]))
    with pytest.raises(TaskConflictError, match="cannot delete task in paused state"):
        client.delete()
    with pytest.raises(TaskConflictError, match="still running"):
        client.shutdown()
    client.resume()
    assert client.state()["status"] == "running"
    pids = [p["pid"] for p in client.pids()]
    assert client.state()["pid"] in pids
    client.kill("KILL")
    client.wait(timeout=20)
    with pytest.raises(TaskConflictError, match="cannot start task in stopped state"):
        client.start()
    with pytest.raises(TaskNotFoundError, match="already finished"):
        client.kill("KILL")
    remove_task(client)


def test_event_order(box):
    client = box.create("pyt-ev", ("sh", "-c", "sleep 0.5"))
    events: list[dict[str, object]] = []
    stream = client.events(timeout=20)

    def collect():
        for ev in stream:
            events.append(ev)
            if ev["topic"] == "/tasks/delete":
                return

    t = threading.Thread(target=collect)
    t.start()
    client.start()
    client.exec("e1", process_spec(["true"]))
    client.start("e1")
    client.wait("e1", timeout=20)
    assert client.wait(timeout=20).exit_status == 0
    remove_task(client)
    t.join(20)
    topics = [(e["topic"], e.get("exec_id", "")) for e in events]
    assert topics == [
        ("/tasks/start", ""),
        ("/tasks/exec-added", "e1"),
        ("/tasks/exec-started", "e1"),
        ("/tasks/exit", "e1"),
        ("/tasks/exit", ""),
        ("/tasks/delete", ""),
    ]


def test_close_io_gives_the_container_eof(box):
    client = box.create("pyt-cat", ("cat",), stdin=True)
    client.start()
    client.write_stdin("hello from stdin\n")
    client.close_io()
    assert client.wait(timeout=20).exit_status == 0
    remove_task(client)
    logs = [
        json.loads(ln)["log"]
        for ln in Path(box.layout("pyt-cat").log_path).read_text().splitlines()
    ]
    assert logs == ["hello from stdin\n"]


def test_attach_clients_get_the_same_bytes(box):
    client = box.create("pyt-att", ("sh", "-c", "sleep 0.5; echo one; echo two >&2; sleep 0.2"))
    got: list[list[tuple[str, bytes]]] = [[], []]
    streams = [client.attach(timeout=20) for _ in got]
    threads = [
        threading.Thread(target=lambda s=s, g=g: g.extend(s))
        for s, g in zip(streams, got, strict=True)
    ]
    for t in threads:
        t.start()
    client.start()
    for t in threads:
        t.join(20)
    assert got[0] == got[1]
    assert (
        b"".join(d for s, d in got[0] if s == "stdout"),
        b"".join(d for s, d in got[0] if s == "stderr"),
    ) == (b"one\n", b"two\n")
    client.wait(timeout=20)
    remove_task(client)


def test_terminal_and_resize(box):
    client = box.create("pyt-tty", ("sh", "-c", "sleep 0.3; stty size"), terminal=True)
    client.resize(40, 100)
    client.start()
    assert client.wait(timeout=20).exit_status == 0
    remove_task(client)
    text = "".join(
        json.loads(ln)["log"]
        for ln in Path(box.layout("pyt-tty").log_path).read_text().splitlines()
    )
    assert "40 100" in text
    with pytest.raises(InvalidArgumentError):
        c2 = box.create("pyt-notty", ("sleep", "10"))
        try:
            c2.resize(10, 10)
        finally:
            c2.kill("KILL")
            c2.wait(timeout=20)
            remove_task(c2)


def test_stats_update_and_files_removed(box):
    client = box.create("pyt-upd", ("sleep", "100"))
    client.start()
    client.update(memory=64 << 20, memory_swap=64 << 20)
    stats = client.stats()
    assert stats["memory"]["usage"]["limit"] == 64 << 20
    client.kill("KILL")
    client.wait(timeout=20)
    remove_task(client)
    layout = box.layout("pyt-upd")
    assert wait_for(lambda: not os.path.exists(layout.state_dir))
    assert box.runc_ids() == []
    assert os.path.exists(layout.exit_file)


def test_create_and_start_in_one_call(box):
    client = box.create("pyt-run", ("sh", "-c", "exit 11"), start=True)
    assert client.wait(timeout=20).exit_status == 11
    with pytest.raises(TaskConflictError, match="cannot start task in stopped state"):
        client.start()
    remove_task(client)


def test_zygote_death_takes_nothing_down(box):
    client = box.create("pyt-zyg", ("sleep", "100"))
    client.start()
    zygote = read_pid(str(box.run_root / "zygote.pid"))
    assert pid_alive(zygote)
    os.kill(zygote, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(zygote))
    assert client.state()["status"] == "running"
    other = box.create("pyt-zyg2", ("sh", "-c", "exit 1"))  # a new zygote starts on demand
    other.start()
    assert other.wait(timeout=20).exit_status == 1
    remove_task(other)
    client.kill("KILL")
    assert client.wait(timeout=20).exit_status == 137
    remove_task(client)


def test_without_zygote_the_shim_is_execd(box):
    client = box.create("pyt-exec1", ("true",), zygote=False)
    client.start()
    assert client.wait(timeout=20).exit_status == 0
    remove_task(client)
    assert not (box.run_root / "zygote.sock").exists()


def test_oom_kill_is_marked(box):
    hog = "x=0123456789; while true; do x=$x$x; done"
    client = box.create("pyt-oom", ("sh", "-c", hog), memory_limit=16 << 20)
    client.start()
    assert client.wait(timeout=60).exit_status == 137
    assert client.state()["oom_killed"] is True
    remove_task(client)
    layout = box.layout("pyt-oom")
    assert os.path.exists(layout.oom_file)
    assert json.loads(Path(layout.exit_file).read_text())["oom_killed"] is True


def test_host_pid_namespace_leftovers_are_killed(box):
    client = box.create(
        "pyt-hostpid", ("sh", "-c", "sleep 100 & echo $!; exit 0"), namespaces=NO_PIDNS
    )
    client.start()
    assert client.wait(timeout=20).exit_status == 0
    log = Path(box.layout("pyt-hostpid").log_path).read_text().splitlines()
    orphan = int(json.loads(log[0])["log"])
    assert wait_for(lambda: not pid_alive(orphan))
    remove_task(client)


def test_shutdown_now_kills_a_live_task(box):
    client = box.create("pyt-now", ("sleep", "100"))
    client.start()
    init = client.state()["pid"]
    client.shutdown(now=True)
    assert wait_for(lambda: not pid_alive(init))
    assert box.runc_ids() == []
    assert json.loads(Path(box.layout("pyt-now").exit_file).read_text())["exit_status"] == 137


def test_exit_command_runs_once_the_exit_is_on_disk(box):
    marker = box.base / "exited"
    exit_file = box.layout("pyt-exitcmd").exit_file
    # it also notes its niceness (field 19 of its stat), a moment after it started
    script = (
        f'cat "$1" > {marker}.tmp && sleep 0.1 && cut -d" " -f19 /proc/$$/stat > {marker}.nice'
        f" && mv {marker}.tmp {marker}"
    )
    command = ("/bin/sh", "-c", script, "sh")
    client = box.create(
        "pyt-exitcmd", ("sh", "-c", "exit 5"), config={"exit_command": (*command, exit_file)}
    )
    client.start()
    assert client.wait(timeout=20).exit_status == 5
    assert wait_for(marker.exists, timeout=20)
    # It read the exit record: the record was written before the command started.
    assert json.loads(marker.read_text())["exit_status"] == 5
    # bookkeeping: niced, so it does not compete with the engine command handling the exit
    assert Path(f"{marker}.nice").read_text().strip() == "10"
    remove_task(client)


def test_a_zygote_with_stale_code_retires_and_a_fresh_one_serves(box):
    import socket

    from engine.shim.zygote import pid_path, socket_path

    first = box.create("pyt-zy1", ("true",))
    old = read_pid(pid_path(str(box.run_root)))
    assert old and pid_alive(old)
    # A client running other code than the zygote's: the zygote says so and leaves.
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(socket_path(str(box.run_root)))
        s.sendall(json.dumps({"argv": [], "code": "other-code"}).encode() + b"\n")
        assert json.loads(s.makefile("rb").readline()) == {"ok": False, "stale": True}
    assert wait_for(lambda: not pid_alive(old), timeout=10)
    assert not os.path.exists(socket_path(str(box.run_root)))
    second = box.create("pyt-zy2", ("true",))
    new = read_pid(pid_path(str(box.run_root)))
    assert new and new != old and pid_alive(new)
    box.shim_pids.add(new)
    for client in (first, second):
        client.start()
        assert client.wait(timeout=20).exit_status == 0
        remove_task(client)
