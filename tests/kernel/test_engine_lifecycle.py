"""The container lifecycle through `pyengine` with real runc (checklist group C, items 30-45):
states, stop/kill and their signals, pause, rm, restart, wait, exec, inspect, top, --init."""

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.engine_cli import EngineEnv, cgroups_of, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)

# Traps TERM and exits 0 at once; says so in the log on USR1.
POLITE = 'trap "exit 0" TERM; trap "echo got-usr1" USR1; while :; do sleep 0.1; done'


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def test_create_start_stop_states(engine: EngineEnv) -> None:
    cid = engine.ok("create", "--name", "life", "busybox", "sleep", "100").strip()
    assert "Created" in engine.row("life")
    assert engine.ps_rows(everything=False) == []
    state = engine.state("life")
    assert (state["Status"], state["Running"], state["Pid"]) == ("created", False, 0)
    assert state["StartedAt"].startswith("0001-")

    assert engine.ok("start", "life") == "life\n"
    state = engine.state("life")
    assert (state["Status"], state["Running"]) == ("running", True)
    pid = state["Pid"]
    assert pid > 0 and _alive(pid)
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"
    assert [r.split()[0] for r in engine.ps_rows(everything=False)] == [cid[:12]]
    assert " Up " in engine.row("life")
    # Starting a running container changes nothing (Docker: 304).
    assert engine.ok("start", "life") == "life\n"
    assert engine.state("life")["Pid"] == pid

    # PID 1 `sleep` ignores SIGTERM: the stop ends with SIGKILL after the timeout.
    assert engine.ok("stop", "-t", "1", "life") == "life\n"
    state = engine.state("life")
    assert (state["Status"], state["Running"], state["ExitCode"], state["Pid"]) == (
        "exited", False, 137, 0,
    )  # fmt: skip
    assert not state["FinishedAt"].startswith("0001-")
    assert not _alive(pid)
    assert "Exited (137)" in engine.row("life")
    assert engine.ps_rows(everything=False) == []
    assert not engine.shim_dir(cid).exists()
    assert cgroups_of({cid}) == []
    # Stopping a stopped container is not an error.
    done = engine("stop", "life")
    assert (done.returncode, done.stdout) == (0, "life\n"), done.stderr
    assert engine.state("life")["ExitCode"] == 137

    # An exited container starts again, with a new process.
    engine.ok("start", "life")
    state = engine.state("life")
    assert state["Status"] == "running" and state["Pid"] not in (0, pid)
    die = [e for e in engine.events() if e["action"] == "die"]
    assert [e.get("exit_code") for e in die] == [137]


def test_stop_a_process_that_traps_term(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "polite", "busybox", "sh", "-c", POLITE)
    wait_for(lambda: "Up" in engine.row("polite"), 10, "polite to run")
    assert engine.ok("stop", "polite") == "polite\n"
    state = engine.state("polite")
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)
    assert "Exited (0)" in engine.row("polite")
    # --stop-signal: stop sends the container's own stop signal (HUP exits 5, TERM would 0).
    engine.ok("run", "-d", "--name", "hup", "--stop-signal", "HUP", "busybox", "sh", "-c",
              f'trap "exit 5" HUP; {POLITE}')  # fmt: skip
    wait_for(lambda: "Up" in engine.row("hup"), 10, "hup to run")
    engine.ok("stop", "hup")
    assert engine.state("hup")["ExitCode"] == 5
    assert engine.inspect("hup")["Config"]["StopSignal"] in ("1", "SIGHUP", "HUP")
    # stop -s overrides it.
    engine.ok("start", "hup")
    wait_for(lambda: "Up" in engine.row("hup"), 10, "hup to run again")
    engine.ok("stop", "-s", "TERM", "hup")
    assert engine.state("hup")["ExitCode"] == 0


def test_kill_signals(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "target", "busybox", "sh", "-c", POLITE)
    wait_for(lambda: engine.state("target")["Running"], 10, "target to run")
    pid = engine.state("target")["Pid"]
    # A non-fatal signal is delivered and the container keeps running.
    assert engine.ok("kill", "-s", "USR1", "target") == "target\n"
    wait_for(lambda: "got-usr1" in engine.ok("logs", "target"), 10, "USR1 in the log")
    state = engine.state("target")
    assert (state["Status"], state["Pid"]) == ("running", pid)
    # The default is SIGKILL, and kill waits for the exit.
    assert engine.ok("kill", "target") == "target\n"
    state = engine.state("target")
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)
    assert not _alive(pid)
    done = engine("kill", "target")
    assert done.returncode == 1 and "is not running" in done.stderr
    # A signal by number, and a container stopped by it.
    engine.ok("run", "-d", "--name", "numbered", "busybox", "sleep", "100")
    engine.ok("kill", "-s", "9", "numbered")
    assert engine.state("numbered")["ExitCode"] == 137


def test_pause_and_unpause(engine: EngineEnv) -> None:
    cid = engine.ok("run", "-d", "--name", "frozen", "busybox", "sleep", "100").strip()
    assert engine.ok("pause", "frozen") == "frozen\n"
    state = engine.state("frozen")
    assert (state["Status"], state["Paused"], state["Running"]) == ("paused", True, True)
    assert "(Paused)" in engine.row("frozen")
    pid = state["Pid"]
    # The freezer, not SIGSTOP: the process is not in a stopped state.
    assert Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "T"
    freezer = [g for g in cgroups_of({cid}) if "/freezer/" in g]
    if freezer:
        assert Path(freezer[0], "freezer.state").read_text().strip() in ("FROZEN", "FREEZING")

    for args, message in (
        (("pause", "frozen"), "is already paused"),
        (("exec", "frozen", "true"), "is paused"),
        (("start", "frozen"), "cannot start a paused container"),
        (("rm", "frozen"), "paused"),
    ):
        done = engine(*args)
        assert done.returncode == 1, (args, done.returncode, done.stderr)
        assert message in done.stderr, (args, done.stderr)
    assert engine.state("frozen")["Status"] == "paused"

    assert engine.ok("unpause", "frozen") == "frozen\n"
    assert engine.state("frozen")["Status"] == "running"
    done = engine("unpause", "frozen")
    assert done.returncode == 1 and "is not paused" in done.stderr
    assert engine("exec", "frozen", "true").returncode == 0

    # kill and stop thaw a paused container so that it can exit (item 35).
    engine.ok("pause", "frozen")
    engine.ok("kill", "frozen")
    assert engine.state("frozen")["ExitCode"] == 137
    engine.ok("run", "-d", "--name", "frozen2", "busybox", "sh", "-c", POLITE)
    engine.ok("pause", "frozen2")
    engine.ok("stop", "frozen2")
    state = engine.state("frozen2")
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)
    # rm -f too.
    engine.ok("run", "-d", "--name", "frozen3", "busybox", "sleep", "100")
    engine.ok("pause", "frozen3")
    assert engine.ok("rm", "-f", "frozen3") == "frozen3\n"
    assert "frozen3" not in engine.ok("ps", "-a")
    # A created container cannot be paused.
    engine.ok("create", "--name", "fresh", "busybox", "true")
    done = engine("pause", "fresh")
    assert done.returncode == 1 and "is not running" in done.stderr


def test_rm_running_needs_force(engine: EngineEnv) -> None:
    cid = engine.ok("run", "-d", "--name", "busy", "busybox", "sleep", "100").strip()
    pid = engine.state("busy")["Pid"]
    done = engine("rm", "busy")
    assert done.returncode == 1 and "cannot remove a running container" in done.stderr
    assert "force" in done.stderr
    assert engine.state("busy")["Status"] == "running" and _alive(pid)
    assert engine.ok("rm", "-f", "busy") == "busy\n"
    assert not _alive(pid)
    assert engine.ps_rows() == []
    assert not (engine.root / "containers" / cid).exists()
    assert not engine.shim_dir(cid).exists()
    assert cgroups_of({cid}) == []
    assert engine.engine_leaks(engine.container_ids()) == []


def test_restart_gives_a_new_process(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "again", "busybox", "sh", "-c", POLITE)
    before = engine.state("again")["Pid"]
    assert engine.ok("restart", "again") == "again\n"
    state = engine.state("again")
    assert state["Status"] == "running" and state["Pid"] not in (0, before)
    assert not _alive(before) and _alive(state["Pid"])
    assert engine.inspect("again")["RestartCount"] == 0
    # restart of an exited container starts it.
    engine.ok("kill", "again")
    engine.ok("restart", "again")
    assert engine.state("again")["Status"] == "running"


def test_wait_prints_the_exit_code(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "five", "busybox", "sh", "-c", "sleep 0.3; exit 5")
    engine.ok("run", "-d", "--name", "six", "busybox", "sh", "-c", "sleep 0.5; exit 6")
    assert engine.ok("wait", "five", "six") == "5\n6\n"
    assert engine.ok("wait", "five") == "5\n"  # already exited: at once
    assert "Exited (5)" in engine.row("five")


def test_exec(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "host", "-e", "FROM_RUN=1", "busybox", "sleep", "100")
    done = engine("exec", "host", "sh", "-c", "echo out; echo err >&2; exit 42")
    assert (done.returncode, done.stdout, done.stderr) == (42, "out\n", "err\n")
    done = engine("exec", "-e", "EXTRA=2", "-w", "/tmp", "host", "sh", "-c",
                  'echo "$FROM_RUN $EXTRA $(pwd)"')  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "1 2 /tmp\n"), done.stderr
    done = engine("exec", "-u", "nobody", "host", "id", "-u")
    assert (done.returncode, done.stdout) == (0, "65534\n"), done.stderr
    done = engine("exec", "host", "nosuchcommand")
    assert done.returncode == 127 and "nosuchcommand" in done.stderr
    # The exec runs inside the container's pid namespace, beside its PID 1.
    done = engine("exec", "host", "ps", "-o", "pid,args")
    assert done.returncode == 0 and "    1 sleep 100" in done.stdout.replace("\t", " ")
    # -d returns at once; the process runs on.
    assert engine("exec", "-d", "host", "sh", "-c", "sleep 0.2; touch /tmp/done").returncode == 0
    wait_for(
        lambda: engine("exec", "host", "test", "-f", "/tmp/done").returncode == 0,
        10,
        "exec -d to finish",
    )
    engine.ok("stop", "-t", "1", "host")
    done = engine("exec", "host", "true")
    assert done.returncode == 1 and "is not running" in done.stderr


def test_inspect_fields(engine: EngineEnv) -> None:
    cid = engine.ok(
        "run", "-d", "--name", "seen", "--restart", "on-failure:3", "busybox", "sleep", "100"
    ).strip()
    info = engine.inspect("seen")
    assert info["Id"] == cid and info["Name"] == "/seen"
    assert info["Path"] == "sleep" and info["Args"] == ["100"]
    assert info["RestartCount"] == 0
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert info["HostConfig"]["Runtime"] == "runc"
    state = info["State"]
    for key in ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                "ExitCode", "Error", "StartedAt", "FinishedAt"):  # fmt: skip
        assert key in state, key
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("running", True, 0)
    assert state["Pid"] > 0 and _alive(state["Pid"])
    log = Path(info["LogPath"])
    assert log == engine.root / "containers" / cid / f"{cid}-json.log"
    assert log.exists()
    # By id prefix too, and several at once.
    assert engine.inspect(cid[:8])["Id"] == cid
    engine.ok("create", "--name", "other", "busybox", "true")
    both = json.loads(engine.ok("inspect", "seen", "other"))
    assert [d["Name"] for d in both] == ["/seen", "/other"]


def test_top_lists_the_container_processes(engine: EngineEnv) -> None:
    # sh execs its last command: PID 1 becomes `sleep 101`, beside `sleep 100`.
    engine.ok("run", "-d", "--name", "topped", "busybox", "sh", "-c", "sleep 100 & sleep 101")
    wait_for(lambda: "sleep 101" in engine.ok("top", "topped"), 10, "both processes to be in top")
    out = engine.ok("top", "topped").splitlines()
    assert out[0].split()[:2] == ["UID", "PID"]
    pids = {int(line.split()[1]) for line in out[1:]}
    assert engine.state("topped")["Pid"] in pids
    assert any("sleep 100" in line for line in out) and any("sleep 101" in line for line in out)
    assert os.getpid() not in pids and len(pids) == 2  # the two sleeps, nothing else
    engine.ok("stop", "-t", "1", "topped")
    done = engine("top", "topped")
    assert done.returncode != 0 and "is not running" in done.stderr


def test_init_forwards_signals_and_reaps(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--init", "--name", "inited", "busybox", "sleep", "100")
    engine.ok("stop", "inited")  # default timeout: 10 s; the init makes it immediate
    assert engine.state("inited")["ExitCode"] in (143, 0)
    assert engine.inspect("inited")["HostConfig"]["Init"] is True
    # An orphan is reaped by the init, not left as a zombie as it is under a PID 1 `sleep`.
    orphan = "(sleep 0.1 &); exec sleep 100"
    engine.ok("run", "-d", "--init", "--name", "reaper", "busybox", "sh", "-c", orphan)
    engine.ok("run", "-d", "--name", "no-init", "busybox", "sh", "-c", orphan)

    def zombies(name: str) -> list[str]:
        out = engine.ok("exec", name, "ps", "-o", "stat,args").splitlines()[1:]
        return [line for line in out if line.split()[0].startswith("Z")]

    wait_for(lambda: zombies("no-init"), 10, "the orphan to exit (a zombie without --init)")
    wait_for(lambda: not zombies("reaper"), 10, "the orphan to be reaped by the init")


def test_events_and_stats_commands(engine: EngineEnv) -> None:
    since = f"{time.time() - 1:.3f}"
    engine.ok("run", "-d", "--name", "ev", "busybox", "sleep", "1000")
    stats = engine.ok("stats", "--no-stream", "ev").splitlines()
    assert stats[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
    row = stats[1].split()
    assert row[1] == "ev" and row[2].endswith("%") and row[-1] == "1"  # one process: sleep
    engine.ok("stop", "-t", "1", "ev")
    engine.ok("rm", "ev")
    until = f"{time.time() + 1:.3f}"
    lines = engine.ok("events", "--since", since, "--until", until).splitlines()
    actions = [line.split()[2] for line in lines if " container " in line and "name=ev" in line]
    assert actions == ["create", "start", "die", "stop", "destroy"]
    assert "exitCode=137" in next(line for line in lines if " die " in line)


def test_wait_condition_removed_returns_once_the_container_is_gone(engine: EngineEnv) -> None:
    # --rm: the container removes itself when it exits, seconds after the waiter is in place.
    engine.ok("run", "-d", "--rm", "--name", "gone", "busybox", "sh", "-c", "sleep 3; exit 3")
    waiter = engine.popen("wait", "--condition", "removed", "gone", text=True)
    try:
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert (waiter.returncode, out.strip()) == (0, "3"), err
    assert engine("inspect", "gone").returncode == 1  # really gone
    bad = engine("wait", "--condition", "whenever", "x")
    assert bad.returncode == 125


def test_loopback_is_up_in_a_container(engine: EngineEnv) -> None:
    """As in Docker: `lo` is up, so 127.0.0.1 and the container's own address answer."""
    done = engine(
        "run", "--rm", "busybox", "sh", "-c",
        "ip link show lo && ping -c1 -W2 127.0.0.1 && ping -c1 -W2 $(hostname -i)",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert ",UP," in done.stdout.splitlines()[0]
