"""The fork server behind `pyengine` (engine/warm/forkserver.py), with real commands.

A command handed to it must behave as the same command run in its own process: exit codes,
stdin, stdout, stderr, working directory, environment and signals; a killed client kills its
worker; a server that is gone, stale or not ours only means the command runs in-process.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.warm import client, protocol
from tests.support.engine_cli import PYENGINE, EngineEnv, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _served(engine: EngineEnv) -> int:
    """Make sure the env's fork server runs (the first command starts it); its pid."""
    engine.run_root.mkdir(parents=True, exist_ok=True)  # servers start where the engine ran
    engine.ok("ps")
    wait_for(lambda: engine.forkserver_pid() and _alive(engine.forkserver_pid()), 30, "a server")
    wait_for(lambda: client.serving(str(engine.run_root)), 30, "its FIFO")
    return engine.forkserver_pid()


def test_commands_are_forked_by_the_server_and_behave_as_in_process(engine: EngineEnv) -> None:
    server = _served(engine)
    # hand_over() returns None when no server takes the command; here one does
    with subprocess.Popen(
        [sys.executable, "-c", _FORWARD, str(engine.run_root), "ps"],
        env=engine.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as probe:
        out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, err
    # the command is the last two words of the probe's command line: `RUN_ROOT ps`
    assert out.splitlines()[-1] == "forwarded 0"
    assert out.splitlines()[0].startswith("CONTAINER ID")
    # exit codes, stdin, stdout and stderr of the container and of the command itself
    done = engine("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (done.returncode, done.stdout, done.stderr) == (7, "out\n", "err\n")
    done = engine("run", "--rm", "-i", "busybox", "cat", input="through stdin\n")
    assert (done.returncode, done.stdout) == (0, "through stdin\n")
    done = engine("inspect", "no-such-container")
    assert (done.returncode, done.stdout) == (1, "[]\n") and "No such object" in done.stderr
    done = engine("run", "--rm", "busybox", "no-such-binary")
    assert done.returncode == 127
    assert engine.forkserver_pid() == server and _alive(server)


_FORWARD = """
import sys
from engine.warm import client
handed = client.hand_over(sys.argv[1], "pyengine", 2)
print("forwarded", handed and handed.wait())
"""


def test_working_directory_umask_and_environment_reach_the_worker(
    engine: EngineEnv, tmp_path: Path
) -> None:
    _served(engine)
    # `import` reads a relative path: only the client's working directory finds it
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin" / "hello").write_text("#!/bin/sh\necho hi\n")
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tmp_path / "fs.tar"), "."], check=True)
    done = subprocess.run(
        [PYENGINE, "import", "fs.tar", "relative:1"],
        cwd=tmp_path,
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "relative" in engine.ok("images")
    engine.ok("rmi", "relative:1")
    # the client's umask: the container's directory is made with mode 0777 less the umask
    masked = subprocess.run(
        [PYENGINE, "create", "--name", "masked", "busybox", "true"],
        env=engine.env,
        umask=0o077,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert masked.returncode == 0, masked.stderr
    mode = (engine.root / "containers" / masked.stdout.strip()).stat().st_mode & 0o777
    assert mode == 0o700, oct(mode)
    engine.ok("rm", "masked")
    # another root in the environment is another engine: nothing of this one is listed there
    engine.ok("run", "-d", "--name", "mine", "busybox", "sleep", "100")
    other = tmp_path / "other-root"
    done = engine("ps", "-a", extra_env={"PYENGINE_ROOT": str(other)})
    assert done.returncode == 0 and "mine" not in done.stdout
    assert "mine" in engine.ok("ps")
    engine.ok("rm", "-f", "mine")


def _steady_worker(engine: EngineEnv, timeout: float = 30) -> int:
    """The one worker that stays: the command just started, not the previous command's worker
    on its way out (it may linger a few ms after its client got its status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = set(engine.workers())
        time.sleep(0.3)
        steady = seen & set(engine.workers())
        if len(steady) == 1:
            return steady.pop()
    raise AssertionError(f"no single steady worker within {timeout} s: {engine.workers()}")


def test_a_killed_client_kills_its_worker(engine: EngineEnv) -> None:
    _served(engine)
    engine.ok("run", "-d", "--name", "stubborn", "busybox", "sleep", "100")
    proc = engine.popen("stop", "-t", "60", "stubborn")
    worker = _steady_worker(engine)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: not _alive(worker), 10, "the worker to die with its client")
    # it died mid-stop: the container runs on and the next stop works
    assert engine.state("stubborn")["Status"] == "running"
    assert engine.ok("stop", "-t", "1", "stubborn") == "stubborn\n"


def test_signals_reach_the_worker(engine: EngineEnv) -> None:
    _served(engine)
    engine.ok("run", "-d", "--name", "talker", "busybox", "sh", "-c", "while :; do sleep 1; done")
    proc = engine.popen("logs", "-f", "talker")
    worker = _steady_worker(engine)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    # the worker died of the signal, and the client says so as a shell would see it
    assert proc.returncode == -signal.SIGTERM
    wait_for(lambda: not _alive(worker), 10, "the worker to end")
    engine.ok("rm", "-f", "talker")


def test_a_stale_or_foreign_server_hands_the_command_back(engine: EngineEnv) -> None:
    """A request from another uid is ignored (its descriptors are none of the server's
    business); a server whose code changed on disk retires at once. Either way the command
    runs in-process."""
    base = Path(tempfile.mkdtemp(prefix="pyt", dir="/tmp"))
    try:
        base.chmod(0o755)  # so that `nobody` reaches the FIFO, and the server checks its uid
        code, run_root = base / "code", base / "run"
        code.mkdir()
        run_root.mkdir(mode=0o755)
        (code / "mod.py").write_text("x = 1\n")
        _stale_or_foreign(engine, code, run_root)
    finally:
        shutil.rmtree(base)


def _stale_or_foreign(engine: EngineEnv, code: Path, run_root: Path) -> None:
    fifo = run_root / protocol.FIFO_NAME
    server = subprocess.Popen(
        [sys.executable, "-c", _STALE_SERVER, str(code), str(run_root)],
        env=engine.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for((run_root / protocol.PID_NAME).exists, 60, "the server to listen")
        assert fifo.stat().st_mode & 0o777 == 0o600
        fifo.chmod(0o666)
        # the system's python as `nobody`: a raw request naming its own pipe
        foreign = subprocess.run(
            ["/usr/bin/python3", "-c", _RAW_CLIENT, str(fifo)],
            user=65534,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert foreign.stdout.strip() == "no answer", foreign.stderr
        assert server.poll() is None and fifo.exists()
        (code / "mod.py").write_text("x = 2  # changed\n")
        assert server.wait(timeout=30) == 0
        assert client.hand_over(str(run_root), "pyengine", 1) is None
        assert not fifo.exists() and not (run_root / protocol.PID_NAME).exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


_RAW_CLIENT = """
import os, select, sys
fifo = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
r, w = os.pipe()
os.write(fifo, b"pyplumb-handover-3 pyengine %d %d 1\\n" % (os.getpid(), w))
ready, _, _ = select.select([r], [], [], 3)
print(os.read(r, 64).decode().strip() if ready else "no answer")
"""


_STALE_SERVER = """
import sys
import engine.warm.forkserver as fs
fs.code_folders = lambda: [sys.argv[1]]
sys.exit(fs.main(["--run-root", sys.argv[2]]))
"""


def test_an_idle_server_exits_and_cleans_up(engine: EngineEnv) -> None:
    engine.ok("ps")
    server = _served(engine)
    os.kill(server, signal.SIGKILL)
    wait_for(lambda: not _alive(server), 10, "the old server to die")
    # a dead server's FIFO is in the way: the command runs in-process and starts a new one
    env = engine.env | {"PYENGINE_FORKSERVER_IDLE": "0.5"}
    done = subprocess.run(
        [PYENGINE, "ps"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: engine.forkserver_pid() not in (0, server), 30, "a new server")
    fresh = engine.forkserver_pid()
    time.sleep(0.5)  # its idle time; the check below waits as long as it must
    wait_for(lambda: not _alive(fresh), 30, "the idle server to exit")
    assert not (engine.run_root / protocol.PID_NAME).exists()
    assert not (engine.run_root / protocol.FIFO_NAME).exists()


def test_a_server_nobody_can_reach_leaves(engine: EngineEnv) -> None:
    """A run root removed under a server (a test's teardown, `rm -rf /run/pyengine`) leaves it
    unreachable: it must not idle for half an hour, holding its namespaces."""
    server = _served(engine)
    (engine.run_root / protocol.FIFO_NAME).unlink()
    wait_for(lambda: not _alive(server), 30, "the unreachable server to exit")
    assert not (engine.run_root / protocol.PID_NAME).exists()


def test_disabled_runs_in_process_and_starts_nothing(engine: EngineEnv) -> None:
    engine.run_root.mkdir(parents=True, exist_ok=True)  # where a server would be started
    done = engine("ps", extra_env={"PYENGINE_FORKSERVER": "0"})
    assert done.returncode == 0
    assert engine.forkserver_pid() == 0
    assert not (engine.run_root / protocol.FIFO_NAME).exists()


def test_servers_started_at_once_leave_one_named_in_the_pid_file(tmp_path: Path) -> None:
    """Commands that each ran in their own process each start a server: one serves (the one
    the pid file names), the others leave at once. Each is let go at the same moment, its
    imports done, so that they race for the run root."""
    run_root = tmp_path / "run"
    run_root.mkdir()
    code = ("import sys, engine.warm.forkserver as fs; sys.stdin.read(1); "
            f"sys.exit(fs.main(['--run-root', {str(run_root)!r}]))")  # fmt: skip
    env = dict(os.environ, PYENGINE_FORKSERVER_IDLE="30")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(16)]  # fmt: skip
    try:
        time.sleep(1.5)  # imported, waiting on stdin
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(b"go")
        for p in procs:
            assert p.stdin is not None
            p.stdin.close()
        wait_for(lambda: sum(p.poll() is None for p in procs) <= 1, 30, "all but one to leave")
        [server] = [p for p in procs if p.poll() is None]
        assert int((run_root / "cli.pid").read_text()) == server.pid
        assert all(p.returncode == 0 for p in procs if p is not server)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
