"""Restart policies and live-restore without a daemon (checklist group E, items 53-61): the
shim's exit command applies the policy; any `pyengine` process can die (kill -9) at any point
and the next command finds the truth on disk and cleans up."""

import contextlib
import json
import os
import signal
import time

import pytest

from tests.support.engine_cli import (
    EngineEnv,
    children,
    cmdline,
    engine_fixture,
    http_get,
    listening,
    wait_for,
)

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def _settled(engine: EngineEnv, cid: str) -> bool:
    """No exit command of this container runs (so no restart is pending or in progress)."""
    return not engine.exit_commands(cid)


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_on_failure_restarts_at_most_n_times(engine: EngineEnv) -> None:
    cid = engine.ok(
        "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3"
    ).strip()

    def done() -> bool:
        info = engine.inspect("flaky")
        return bool(info["RestartCount"] >= 2 and info["State"]["Status"] == "exited")

    wait_for(done, 30, "two restarts and a final exit")
    wait_for(lambda: _settled(engine, cid), 30, "the last exit command to finish")
    info = engine.inspect("flaky")
    assert (info["State"]["Status"], info["State"]["ExitCode"], info["RestartCount"]) == (
        "exited", 3, 2,
    )  # fmt: skip
    assert "Exited (3)" in engine.row("flaky")
    mine = [e for e in engine.events() if e["id"] == cid]
    assert [e["action"] for e in mine].count("die") == 3
    assert [e["action"] for e in mine].count("restart") == 2
    assert all(e.get("exit_code") == 3 for e in mine if e["action"] == "die")
    assert not engine.shim_dir(cid).exists()

    # on-failure does not restart a success; `no` restarts nothing.
    for name, policy, code in (("fine", "on-failure", 0), ("never", "no", 1)):
        other = engine.ok(
            "run", "-d", "--name", name, "--restart", policy, "busybox", "sh", "-c", f"exit {code}"
        ).strip()
        wait_for(lambda: engine.state(name)["Status"] == "exited", 20, f"{name} to exit")  # noqa: B023
        wait_for(lambda: _settled(engine, other), 20, f"{name}'s exit command")  # noqa: B023
        info = engine.inspect(name)
        assert (info["State"]["Status"], info["State"]["ExitCode"], info["RestartCount"]) == (
            "exited", code, 0,
        )  # fmt: skip


def test_always_restarts_until_stopped(engine: EngineEnv) -> None:
    cid = engine.ok(
        "run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c",
        "sleep 0.2; exit 0",
    ).strip()  # fmt: skip
    wait_for(lambda: engine.inspect("phoenix")["RestartCount"] >= 2, 30, "two restarts")
    assert engine.ok("stop", "-t", "1", "phoenix") == "phoenix\n"
    wait_for(lambda: _settled(engine, cid), 30, "pending exit commands to finish")
    info = engine.inspect("phoenix")
    assert info["State"]["Status"] == "exited", info["State"]
    count = info["RestartCount"]
    assert count >= 2
    assert not engine.shim_dir(cid).exists()
    assert engine.ps_rows(everything=False) == []
    # Still stopped once nothing is left to act on it.
    assert engine.inspect("phoenix")["RestartCount"] == count
    assert engine.state("phoenix")["Status"] == "exited"

    # A manual start resets RestartCount (item 36), and the policy applies again.
    engine.ok("start", "phoenix")
    assert engine.inspect("phoenix")["RestartCount"] == 0
    wait_for(lambda: engine.inspect("phoenix")["RestartCount"] >= 1, 30, "a restart after start")
    # rm -f cancels it for good.
    engine.ok("rm", "-f", "phoenix")
    wait_for(lambda: _settled(engine, cid), 30, "exit commands after rm -f")
    assert engine.ps_rows() == []


def test_engine_killed_mid_run_leaves_a_consistent_state(engine: EngineEnv) -> None:
    """kill -9 `pyengine run -d -p ...` at several points; the next commands sort it out."""
    for delay in (0.02, 0.06, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4):
        proc = engine.popen("run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "100")
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=10)
    _check_consistent_then_remove(engine)


def test_engine_killed_while_starting_the_proxy(engine: EngineEnv) -> None:
    """kill -9 `pyengine run` right after it spawned the container's pyproxy: the proxy must
    not outlive the container (it would forward a recycled address to the next container)."""
    proc = engine.popen("run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "100")
    deadline = time.monotonic() + 30
    spawned = 0
    while proc.poll() is None and time.monotonic() < deadline and not spawned:
        # the command runs in the client, or in the fork server's worker the client handed it to
        for pid in (proc.pid, *engine.workers()):
            if any("pyproxy" in " ".join(cmdline(c)) for c in children(pid)):
                os.kill(pid, signal.SIGSTOP)
                spawned = pid
                break
    with contextlib.suppress(ProcessLookupError):
        os.kill(spawned or proc.pid, signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=10)
    assert spawned, "pyengine run finished before its proxy was seen"
    _check_consistent_then_remove(engine)


def _as_if_the_start_was_killed(engine: EngineEnv, cid: str) -> None:
    """Rewrite a running container's record as a `run -d` killed after its task began but
    before its last write leaves it (the start's marker, the state it started from). What the
    next command then does is the point; killing at that instant by timing is a lottery."""
    path = engine.root / "containers" / cid / "record.json"
    record = json.loads(path.read_text())
    record["state"] |= {"status": "created", "pid": 0, "started_at": 0.0}
    record["resources"]["setup"] = "1"
    path.write_text(json.dumps(record))


def _starts(engine: EngineEnv, cid: str) -> int:
    return sum(e["action"] == "start" and e["id"] == cid for e in engine.events())


def test_a_start_killed_after_its_task_began_is_finished(engine: EngineEnv) -> None:
    """The task runs and serves: the next command records the start (and its event), it never
    rolls the container back to Created under a running process (issue 13)."""
    cid = engine.ok(
        "run", "-d", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"
    ).strip()
    before = engine.inspect(cid)
    (binding,) = before["NetworkSettings"]["Ports"]["80/tcp"]
    port = int(binding["HostPort"])
    _as_if_the_start_was_killed(engine, cid)
    assert _starts(engine, cid) == 1
    after = engine.inspect(cid)
    assert after["State"]["Status"] == "running", after["State"]
    assert after["State"]["Pid"] == before["State"]["Pid"]
    assert after["NetworkSettings"]["Ports"] == before["NetworkSettings"]["Ports"]
    assert after["NetworkSettings"]["IPAddress"] == before["NetworkSettings"]["IPAddress"]
    assert _starts(engine, cid) == 2
    assert listening("127.0.0.1", port)
    assert f"127.0.0.1:{port}" in engine.ok("port", cid)
    engine.ok("rm", "-f", cid)
    assert engine.engine_leaks(engine.container_ids()) == []


def test_a_killed_proxy_is_restarted_by_the_shim(engine: EngineEnv) -> None:
    """kill -9 of a container's pyproxy: its shim starts it again, 127.0.0.1 clients (which
    only the proxy serves, DNAT does not) are served again, and inspect shows the restart."""
    cid = engine.ok(
        "run", "-d", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"
    ).strip()
    info = engine.inspect(cid)
    (binding,) = info["NetworkSettings"]["Ports"]["80/tcp"]
    url = f"http://127.0.0.1:{binding['HostPort']}/hostname"
    assert http_get(url).strip() == cid[:12]
    first = info["NetworkSettings"]["PortProxy"]
    assert (first["Status"], first["Restarts"], first["Error"]) == ("running", 0, "")
    os.kill(first["Pid"], signal.SIGKILL)

    def restarted() -> bool:
        proxy = engine.inspect(cid)["NetworkSettings"]["PortProxy"]
        return bool(proxy["Status"] == "running" and proxy["Restarts"] == 1)

    wait_for(restarted, 30, "the shim restarts the proxy")
    now = engine.inspect(cid)["NetworkSettings"]["PortProxy"]
    assert now["Pid"] != first["Pid"] and _pid_alive(now["Pid"])
    assert http_get(url).strip() == cid[:12]
    assert f"127.0.0.1:{binding['HostPort']}" in engine.ok("port", cid)
    # The restarted proxy goes with the container: nothing of it is left.
    engine.ok("rm", "-f", cid)
    assert not _pid_alive(now["Pid"])
    assert not listening("127.0.0.1", int(binding["HostPort"]))
    assert engine.engine_leaks(engine.container_ids()) == []


def test_a_container_that_exits_at_once_with_ports(engine: EngineEnv) -> None:
    """The task may end before its shim is asked to watch the proxy: that is no error."""
    for _ in range(3):
        done = engine("run", "--rm", "-p", "127.0.0.1::80", "busybox", "true")
        assert done.returncode == 0, done.stderr
    assert engine.ps_rows() == []
    assert engine.engine_leaks(engine.container_ids()) == []


def test_a_proxy_of_a_stopped_container_is_not_restarted(engine: EngineEnv) -> None:
    cid = engine.ok("run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "100").strip()
    proxy = engine.inspect(cid)["NetworkSettings"]["PortProxy"]
    engine.ok("stop", "-t", "1", cid)
    assert "PortProxy" not in engine.inspect(cid)["NetworkSettings"]
    time.sleep(0.5)  # a restart would come 0.1 s after the proxy's death
    assert not _pid_alive(proxy["Pid"])
    assert not [p for p in engine.processes({cid}) if "pyproxy" in " ".join(p.argv)]
    engine.ok("rm", cid)
    assert engine.engine_leaks(engine.container_ids()) == []


def _check_consistent_then_remove(engine: EngineEnv) -> None:
    rows = engine.ps_rows()
    for row in rows:
        assert any(s in row for s in (" Up ", " Created ", " Exited (")), row
    # Created leftovers start, running ones run: no half-made network or proxy in the way.
    for cid in engine.ok("ps", "-aq", "--no-trunc").split():
        info = engine.inspect(cid)
        if info["State"]["Status"] == "created":
            engine.ok("start", cid)
            info = engine.inspect(cid)
        assert info["State"]["Status"] == "running", info["State"]
        assert _pid_alive(info["State"]["Pid"])
        (binding,) = info["NetworkSettings"]["Ports"]["80/tcp"]
        assert listening("127.0.0.1", int(binding["HostPort"]))
    every = engine.ok("ps", "-aq").split()
    if every:
        engine.ok("rm", "-f", *every)
    assert engine.ps_rows() == []
    assert engine.engine_leaks(engine.container_ids()) == []


def test_engine_killed_while_attached(engine: EngineEnv) -> None:
    proc = engine.popen("run", "--name", "attached", "busybox", "sh", "-c", "echo hi; sleep 100")
    wait_for(lambda: "attached" in engine.ok("ps"), 20, "the container to run")
    wait_for(lambda: engine.ok("logs", "attached") == "hi\n", 20, "its output")
    proc.kill()
    proc.wait(timeout=10)
    state = engine.state("attached")
    assert state["Status"] == "running" and _pid_alive(state["Pid"])
    waiter = engine.popen("wait", "attached", text=True)
    engine.ok("stop", "-t", "1", "attached")
    out, _ = waiter.communicate(timeout=30)
    assert (waiter.returncode, out) == (0, "137\n")


def test_exit_while_no_engine_runs(engine: EngineEnv) -> None:
    """The exit command does nothing here (PYENGINE_ENGINE=/bin/true): only the shim's exit
    record on disk knows the code, and the next command must report it."""
    cid = engine.ok(
        "run", "-d", "--name", "quiet", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
        "sleep 1; exit 9", extra_env={"PYENGINE_ENGINE": "/bin/true"},
    ).strip()  # fmt: skip
    port = int(engine.inspect("quiet")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    exit_file = engine.root / "containers" / cid / "exit.json"
    wait_for(exit_file.exists, 20, "the shim's exit record")
    assert "Exited (9)" in engine.row("quiet")
    state = engine.state("quiet")
    assert (state["Status"], state["ExitCode"], state["Running"]) == ("exited", 9, False)
    assert not listening("127.0.0.1", port)
    assert engine.nft_port_elements() == []
    assert engine.ok("rm", "quiet") == "quiet\n"
    assert engine.engine_leaks(engine.container_ids()) == []


def test_shim_killed(engine: EngineEnv) -> None:
    cid = engine.ok(
        "run", "-d", "--name", "orphan", "-p", "127.0.0.1::80", "busybox", "sleep", "100"
    ).strip()
    info = engine.inspect("orphan")
    pid = info["State"]["Pid"]
    port = int(info["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    shim = engine.shim_pid(cid)
    os.kill(shim, signal.SIGKILL)
    wait_for(lambda: not _pid_alive(shim), 10, "the shim to die")
    row = engine.row("orphan")
    assert "Exited (137)" in row or "Exited (255)" in row, row
    assert engine.state("orphan")["ExitCode"] in (137, 255)
    assert not _pid_alive(pid)
    assert not listening("127.0.0.1", port)
    assert not engine.shim_dir(cid).exists()
    # It starts again with a new shim (no stale socket in the way), and rm cleans up.
    engine.ok("start", "orphan")
    assert engine.state("orphan")["Status"] == "running"
    engine.ok("rm", "-f", "orphan")
    assert engine.engine_leaks(engine.container_ids()) == []


def test_kill_engine_during_stop(engine: EngineEnv) -> None:
    """kill -9 `pyengine stop` while it waits out the timeout: its lock dies with it, the
    container runs on, and the next stop works."""
    engine.ok("run", "-d", "--name", "stubborn", "busybox", "sleep", "100")
    proc = engine.popen("stop", "-t", "30", "stubborn")
    time.sleep(0.5)  # into its wait (a sleep ignores SIGTERM); no claim about speed
    proc.kill()
    proc.wait(timeout=10)
    state = engine.state("stubborn")
    assert state["Status"] == "running" and _pid_alive(state["Pid"])
    assert engine.ok("stop", "-t", "1", "stubborn") == "stubborn\n"
    assert engine.state("stubborn")["ExitCode"] == 137
