"""Live restore: the engine side dies and comes back; shims die and are cleaned up (57-61)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.shimapi.discovery import pid_alive, probe
from engine.tasks.restore import restore
from engine.tasks.spawn import remove_task
from engine.tasks.stop import stop_all
from tests.conftest import require, require_root
from tests.support.shim import RUNC, Sandbox, sandbox, wait_for

pytestmark = pytest.mark.root
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def box():
    require_root()
    require(os.access(RUNC, os.X_OK), "runc is not installed")
    with sandbox() as b:
        yield b


def engine_process(
    box: Sandbox, cid: str, script: str, stdin: bool = False
) -> subprocess.Popen[str]:
    """A separate 'engine' that creates and starts cid, says so, then idles until killed."""
    box.bundle(cid, ("sh", "-c", script))
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from engine.tasks.spawn import create_task
        from engine.shimapi.config import ShimConfig
        c = create_task(ShimConfig(id={cid!r}, bundle={str(box.base / "bundles" / cid)!r},
                        run_root={str(box.run_root)!r}, root={str(box.root)!r}, runtime={RUNC!r}),
                        stdin={stdin!r})
        c.start()
        print("started", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    box.shim_pids.add(box.shim_pid(cid))
    return proc


def kill_engine(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def test_engine_killed_containers_keep_running_and_reattach(box):
    proc = engine_process(box, "pyt-live", "echo before; read x; echo after-$x; exit 9", True)
    kill_engine(proc)
    live, dead = restore(str(box.run_root), str(box.root))
    assert list(live) == ["pyt-live"] and dead == {}
    client = box.track(live["pyt-live"])
    assert client.state()["status"] == "running"
    assert client.connect()["shim_pid"] == box.shim_pid("pyt-live")
    # "before" went out while no engine was attached (the log has it); a slow container may
    # print it after the engine's death, so wait for it before attaching, or attach sees it
    log = Path(box.layout("pyt-live").log_path)
    assert wait_for(lambda: log.exists() and "before" in log.read_text(), 20)
    output = client.attach(timeout=20)  # `logs -f` after the reattach
    # the container blocks on stdin, which the shim kept open while no engine existed
    client.write_stdin("x\n")
    assert client.wait(timeout=20).exit_status == 9
    assert b"".join(data for _, data in output) == b"after-x\n"
    remove_task(client)
    logs = [
        json.loads(ln)["log"]
        for ln in Path(box.layout("pyt-live").log_path).read_text().splitlines()
    ]
    assert logs == ["before\n", "after-x\n"]


def test_exit_while_engine_down_keeps_the_real_code(box):
    proc = engine_process(box, "pyt-down", "sleep 0.3; exit 42")
    kill_engine(proc)
    layout = box.layout("pyt-down")
    assert wait_for(lambda: os.path.exists(layout.exit_file), 10)
    live, _ = restore(str(box.run_root), str(box.root))
    client = box.track(live["pyt-down"])
    assert client.state()["status"] == "stopped"
    assert client.wait(timeout=5).exit_status == 42
    remove_task(client)


def test_dead_shim_with_a_running_container_is_137_and_cleaned(box):
    proc = engine_process(box, "pyt-dead", "sleep 100")
    kill_engine(proc)
    layout = box.layout("pyt-dead")
    shim = box.shim_pid("pyt-dead")
    os.kill(shim, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(shim))
    assert not probe(layout)
    assert os.path.exists(layout.socket)  # the stale socket a dead shim leaves
    live, dead = restore(str(box.run_root), str(box.root))
    assert live == {}
    assert dead["pyt-dead"].exit_status == 137 and dead["pyt-dead"].source == "dead-shim"
    assert not os.path.exists(layout.state_dir)
    assert box.runc_ids() == []
    assert json.loads(Path(layout.exit_file).read_text())["exit_status"] == 137
    # the id is free again: no "address already in use", no leftover runc state
    client = box.create("pyt-dead", ("sh", "-c", "exit 3"))
    client.start()
    assert client.wait(timeout=20).exit_status == 3
    remove_task(client)


def test_dead_shim_after_the_exit_reports_the_recorded_code(box):
    client = box.create("pyt-rec", ("sh", "-c", "exit 6"))
    client.start()
    assert client.wait(timeout=20).exit_status == 6
    client.close()
    os.kill(box.shim_pid("pyt-rec"), signal.SIGKILL)
    _, dead = restore(str(box.run_root), str(box.root))
    assert dead["pyt-rec"].exit_status == 6 and dead["pyt-rec"].source == "shim"
    assert box.runc_ids() == []


def test_dead_shim_and_dead_container_is_255(box):
    client = box.create("pyt-255", ("sleep", "100"))
    client.start()
    init = client.state()["pid"]
    client.close()
    shim = box.shim_pid("pyt-255")
    os.kill(shim, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(shim))
    os.kill(init, signal.SIGKILL)  # the container dies unobserved: its status is lost
    assert wait_for(lambda: not pid_alive(init))
    _, dead = restore(str(box.run_root), str(box.root))
    assert dead["pyt-255"].exit_status == 255
    assert box.runc_ids() == []


def test_shutdown_without_live_restore_stops_everything(box):
    trap = box.create(
        "pyt-trap", ("sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    )
    naive = box.create("pyt-naive", ("sleep", "100"))  # PID 1 ignores SIGTERM: 137 after 1 s
    trap.start()
    naive.start()
    live, _ = restore(str(box.run_root), str(box.root))
    results = stop_all(live, default_timeout=1.0)
    codes = {cid: getattr(r, "exit_status", r) for cid, r in results.items()}
    assert codes == {"pyt-trap": 0, "pyt-naive": 137}
    for client in live.values():
        box.track(client)
        remove_task(client)
