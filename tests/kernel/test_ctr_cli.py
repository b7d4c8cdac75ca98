"""`pyengine ctr` against real shims and runc."""

import json
import os
import subprocess
import sys
import threading

import pytest

from engine.cli import main
from tests.conftest import require, require_root
from tests.support.shim import RUNC, Sandbox, sandbox, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def box():
    require_root()
    require(os.access(RUNC, os.X_OK), "runc is not installed")
    with sandbox() as b:
        yield b


def ctr(box: Sandbox, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["ctr", "--run-root", str(box.run_root), "--root", str(box.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ctr_lifecycle(box, capsys):
    bundle = box.bundle("pyt-ctr", ("sleep", "100"))
    code, out, _ = ctr(
        box, capsys, "containers", "create", "pyt-ctr", "--bundle", str(bundle), "--runtime", RUNC
    )
    assert code == 0 and int(out) > 0
    box.shim_pids.add(box.shim_pid("pyt-ctr"))
    assert ctr(box, capsys, "tasks", "start", "pyt-ctr")[0] == 0
    code, out, _ = ctr(box, capsys, "containers", "list")
    assert "pyt-ctr" in out and "running" in out
    code, out, _ = ctr(
        box, capsys, "tasks", "exec", "pyt-ctr", "--exec-id", "e1", "sh", "-c", "echo hi; exit 3"
    )
    assert (code, out) == (3, "hi\n")
    code, _, err = ctr(box, capsys, "tasks", "exec", "pyt-ctr", "--exec-id", "e2", "nope")
    assert code == 127 and "nope" in err
    assert ctr(box, capsys, "tasks", "pause", "pyt-ctr")[0] == 0
    state = json.loads(ctr(box, capsys, "state", "pyt-ctr")[1])
    assert state["task"]["status"] == "paused" and state["shim"]["id"] == "pyt-ctr"
    code, _, err = ctr(box, capsys, "tasks", "start", "pyt-ctr")
    assert code == 125 and "cannot start task in paused state" in err
    assert ctr(box, capsys, "tasks", "resume", "pyt-ctr")[0] == 0
    code, out, _ = ctr(box, capsys, "tasks", "ps", "pyt-ctr")
    assert str(state["task"]["pid"]) in out
    assert ctr(box, capsys, "tasks", "kill", "pyt-ctr", "-s", "KILL")[0] == 0
    assert ctr(box, capsys, "tasks", "wait", "pyt-ctr")[1].strip() == "137"
    code, out, _ = ctr(box, capsys, "containers", "delete", "pyt-ctr")
    assert code == 0 and "137" in out
    assert wait_for(
        lambda: (
            not box.layout("pyt-ctr").state_dir
            or not os.path.exists(box.layout("pyt-ctr").state_dir)
        )
    )


def test_ctr_errors(box, capsys):
    code, _, err = ctr(box, capsys, "tasks", "start", "pyt-unknown")
    assert code == 125 and "no such container" in err
    code, _, err = ctr(box, capsys, "tasks", "kill", "pyt-unknown", "-s", "NOPE")
    assert code == 125
    code, _, err = ctr(box, capsys, "containers", "create", "a/b", "--bundle", "/tmp")
    assert code == 125 and "invalid container id" in err


def test_ctr_events_stream(box):
    bundle = box.bundle("pyt-cev", ("sleep", "100"))
    env = dict(os.environ, PYENGINE_RUN=str(box.run_root), PYENGINE_ROOT=str(box.root))
    base = [sys.executable, "-m", "engine", "ctr"]

    def run(*args: str) -> None:
        subprocess.run([*base, *args], env=env, check=True, capture_output=True)

    run("containers", "create", "pyt-cev", "--bundle", str(bundle), "--runtime", RUNC)
    box.shim_pids.add(box.shim_pid("pyt-cev"))
    run("tasks", "start", "pyt-cev")
    proc = subprocess.Popen([*base, "events"], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout))  # type: ignore[arg-type]
    reader.start()
    try:
        # pause/resume until the stream shows it is subscribed
        def subscribed() -> bool:
            run("tasks", "pause", "pyt-cev")
            run("tasks", "resume", "pyt-cev")
            return any("/tasks/resumed" in line for line in lines)

        assert wait_for(subscribed, 20)
        run("tasks", "kill", "pyt-cev", "-s", "KILL")
        run("tasks", "wait", "pyt-cev")
        run("containers", "delete", "pyt-cev")
        reader.join(20)  # the shim exits after delete: the stream ends
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    topics = [json.loads(line)["topic"] for line in lines]
    assert topics[-2:] == ["/tasks/exit", "/tasks/delete"]
    assert "/tasks/resumed" in topics
