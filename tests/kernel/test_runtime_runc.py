"""The runtime client against real runc (checklist A): lifecycle, errors, exec, console, hooks.

The test process is made child subreaper for these tests so detached containers' inits are
re-parented to it and reaped here (this VM's PID 1 reaps nothing).
"""

import ctypes
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from engine.runtime.console import ConsoleSocket, read_master
from engine.runtime.errors import (
    ContainerExistsError,
    ContainerNotFoundError,
    ContainerNotRunningError,
    ContainerNotStoppedError,
    InvalidContainerIDError,
    InvalidSignalError,
    OCIRuntimeError,
)
from engine.runtime.opts import CreateOpts, DeleteOpts, ExecOpts, KillOpts, UpdateOpts
from engine.runtime.runtime import Runtime
from engine.runtime.spec import Hook, process_spec
from tests.conftest import require, require_root
from tests.support.bundle import cgroup_dirs, make_bundle
from tests.support.shim import RUNC, wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]
PR_SET_CHILD_SUBREAPER = 36


class Env:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.rt = Runtime(RUNC, root=str(base / "runc"), log=str(base / "runc.log"))
        self.ids: list[str] = []
        self.pids: list[int] = []

    def bundle(self, cid: str, args: tuple[str, ...], **spec: object) -> Path:
        path = self.base / cid
        return path if path.exists() else make_bundle(path, args, **spec)

    def create(self, cid: str, args: tuple[str, ...] = ("sleep", "100"), **spec: object) -> int:
        bundle = self.bundle(cid, args, **spec)
        pid_file = self.base / f"{cid}.pid"
        with open(os.devnull, "rb") as null_in, open(self.base / f"{cid}.out", "wb") as out:
            fds = (null_in.fileno(), out.fileno(), out.fileno())
            self.rt.create(cid, CreateOpts(bundle=str(bundle), pid_file=str(pid_file)), stdio=fds)
        self.ids.append(cid)
        pid = int(pid_file.read_text())
        self.pids.append(pid)
        return pid

    def reap(self, pid: int) -> int:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def cleanup(self) -> None:
        for cid in self.ids:
            try:
                self.rt.delete(cid, DeleteOpts(force=True))
            except OCIRuntimeError:
                pass
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


@pytest.fixture
def env(tmp_path):
    require_root()
    require(os.access(RUNC, os.X_OK), "runc is not installed")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    e = Env(tmp_path)
    try:
        yield e
    finally:
        e.cleanup()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_create_start_state_kill_delete(env):
    pid = env.create("pyt-rt1")
    state = env.rt.state("pyt-rt1")
    assert state["status"] == "created" and state["pid"] == pid > 0
    assert {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"} <= set(state)
    env.rt.start("pyt-rt1")
    assert env.rt.state("pyt-rt1")["status"] == "running"
    with pytest.raises(OCIRuntimeError, match="already running"):
        env.rt.start("pyt-rt1")
    with pytest.raises(ContainerNotStoppedError, match="not stopped"):
        env.rt.delete("pyt-rt1")
    env.rt.pause("pyt-rt1")
    assert env.rt.state("pyt-rt1")["status"] == "paused"
    env.rt.resume("pyt-rt1")
    assert pid in env.rt.ps("pyt-rt1")
    env.rt.kill("pyt-rt1", KillOpts(signal="KILL"))
    assert env.reap(pid) == -9
    with pytest.raises(ContainerNotRunningError):
        env.rt.kill("pyt-rt1", KillOpts(signal="SIGKILL"))
    with pytest.raises(OCIRuntimeError, match="stopped"):
        env.rt.start("pyt-rt1")
    env.rt.delete("pyt-rt1")
    with pytest.raises(ContainerNotFoundError, match="does not exist"):
        env.rt.state("pyt-rt1")
    env.rt.delete("pyt-rt1", DeleteOpts(force=True))  # unknown id with force: no error
    assert cgroup_dirs("pyt-rt1") == []


def test_errors_before_and_from_the_runtime(env):
    env.create("pyt-rt2")
    with pytest.raises(ContainerExistsError, match="already exists"):
        env.create("pyt-rt2")
    with pytest.raises(InvalidContainerIDError):
        env.rt.create("a/b", CreateOpts(bundle=str(env.base)))
    with pytest.raises(InvalidSignalError):
        KillOpts(signal="NOPE")
    with pytest.raises(OCIRuntimeError, match="chdir"):
        env.rt.create("pyt-nob", CreateOpts(bundle=str(env.base / "nowhere")))
    assert "pyt-nob" not in [c["id"] for c in env.rt.list()]
    # the message comes from the JSON log: the last level=error line of this call
    tail = (env.base / "runc.log").read_text().splitlines()[-1]
    assert json.loads(tail)["level"] == "error"


def test_exec_codes_and_paused(env):
    env.create("pyt-rt3")
    env.rt.start("pyt-rt3")
    proc = env.base / "p.json"
    proc.write_text(json.dumps(process_spec(["sh", "-c", "exit 42"])))
    assert env.rt.exec("pyt-rt3", ExecOpts(process=str(proc), detach=False)) == 42
    proc.write_text(json.dumps(process_spec(["nope"])))
    with pytest.raises(OCIRuntimeError, match="executable file not found") as err:
        env.rt.exec("pyt-rt3", ExecOpts(process=str(proc), detach=False))
    assert err.value.status == 255
    env.rt.pause("pyt-rt3")
    proc.write_text(json.dumps(process_spec(["true"])))
    with pytest.raises(OCIRuntimeError, match="paused"):
        env.rt.exec("pyt-rt3", ExecOpts(process=str(proc), detach=False))
    # with ignore_paused runc would start it, frozen: the argv is what matters (see unit tests)
    env.rt.resume("pyt-rt3")
    assert env.rt.exec("pyt-rt3", ExecOpts(process=str(proc), detach=False)) == 0


def test_update_and_stats(env):
    env.create("pyt-rt4")
    env.rt.start("pyt-rt4")
    env.rt.update("pyt-rt4", UpdateOpts(memory=32 << 20, memory_swap=32 << 20))
    stats = env.rt.stats("pyt-rt4")
    assert stats["memory"]["usage"]["limit"] == 32 << 20
    assert stats["pids"]["current"] >= 1


def test_console_socket_hands_over_the_master(env):
    bundle = env.bundle("pyt-tty", ("sh", "-c", "echo hi-from-tty"), terminal=True)
    sock = ConsoleSocket(str(env.base / "console.sock"))
    try:
        pid_file = env.base / "tty.pid"
        with open(os.devnull, "rb") as null:
            fd = null.fileno()
            opts = CreateOpts(bundle=str(bundle), pid_file=str(pid_file), console_socket=sock.path)
            env.rt.create("pyt-tty", opts, stdio=(fd, fd, fd))
        env.ids.append("pyt-tty")
        master = sock.receive_master()
    finally:
        sock.close()
    pid = int(pid_file.read_text())
    env.pids.append(pid)
    env.rt.start("pyt-tty")
    out = b""
    while chunk := read_master(master):  # EIO once the slave closes: EOF
        out += chunk
    os.close(master)
    assert b"hi-from-tty\r\n" in out


def test_netns_path_rlimits_and_hooks(env):
    name = f"pyt-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        hook = env.base / "hook.sh"
        hook.write_text(f"#!/bin/sh\ncat > {env.base}/hook-$1.json\n")
        hook.chmod(0o755)
        hooks = {
            "createRuntime": [Hook(str(hook), ("hook", "createRuntime"))],
            "poststop": [Hook(str(hook), ("hook", "poststop"))],
        }
        script = "ip -o link | wc -l; ulimit -n"
        pid = env.create(
            "pyt-ns",
            ("sh", "-c", script),
            netns_path=f"/run/netns/{name}",
            rlimits={"RLIMIT_NOFILE": (2048, 2048)},
            hooks=hooks,
        )
        env.rt.start("pyt-ns")
        env.reap(pid)
        out = (env.base / "pyt-ns.out").read_text().split()
        assert out == ["1", "2048"]  # only lo: the namespace we made
        env.rt.delete("pyt-ns")
        created = json.loads((env.base / "hook-createRuntime.json").read_text())
        stopped = json.loads((env.base / "hook-poststop.json").read_text())
        assert (created["status"], stopped["status"]) == ("creating", "stopped")
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_failing_create_hook_tears_the_container_down(env):
    hooks = {"createRuntime": [Hook("/bin/false")]}
    with pytest.raises(OCIRuntimeError):
        env.create("pyt-hookfail", ("true",), hooks=hooks)
    assert wait_for(lambda: "pyt-hookfail" not in [c["id"] for c in env.rt.list()])
    assert cgroup_dirs("pyt-hookfail") == []


def test_version_and_features(env):
    assert "runc version" in env.rt.version()
    assert "ociVersionMax" in env.rt.features() or env.rt.features() == {}
