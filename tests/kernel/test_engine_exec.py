"""`pyengine exec -i` and `exec -t` with real runc: stdin forwarded until its EOF, a pty with
stdout and stderr merged, an interactive shell through `script` (which gives the command a
terminal), resize on SIGWINCH, Docker's refusals, and nothing left behind."""

import fcntl
import hashlib
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import require_binary
from tests.support.engine_cli import (
    PYENGINE,
    EngineEnv,
    cgroup_pids,
    children,
    engine_fixture,
    wait_for,
)
from tests.support.procfs import fd_targets, unix_connections

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def _running(engine: EngineEnv, name: str) -> str:
    cid = engine.ok("run", "-d", "--name", name, "busybox", "sleep", "1000").strip()
    wait_for(lambda: engine.state(name)["Running"], 10, f"{name} to run")
    return cid


def _raw(engine: EngineEnv, *args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    """`pyengine ARGS...` fed `data` as bytes (the CLI helper speaks text)."""
    return subprocess.run(
        [PYENGINE, *args], input=data, capture_output=True, timeout=60, check=False, env=engine.env
    )


def _script(
    engine: EngineEnv, command: str, stdin: int = subprocess.DEVNULL
) -> "subprocess.Popen[bytes]":
    """`command` (a shell line) on a terminal of its own: util-linux `script`, output on a pipe.
    -e passes the command's exit code through."""
    require_binary("script")
    return subprocess.Popen(
        ["script", "-qec", command, "/dev/null"],
        stdin=stdin,
        stdout=subprocess.PIPE,
        env=engine.env,
    )


class Screen:
    """What a `script` session printed so far, read as it comes."""

    def __init__(self, proc: "subprocess.Popen[bytes]") -> None:
        assert proc.stdout is not None
        self.proc, self.fd, self.text = proc, proc.stdout.fileno(), b""

    def until(self, pattern: bytes, timeout: float = 20) -> bytes:
        """Read until `pattern` (a regex) appears after what earlier calls consumed."""
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.text)):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no {pattern!r} after {timeout} s in {self.text!r}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"EOF before {pattern!r} in {self.text!r}")
            self.text += chunk
        self.text = self.text[found.end() :]
        return found.group(0)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()


# -- exec -i ----------------------------------------------------------------------------------


def test_interactive_stdin_reaches_the_process_and_its_eof_closes_it(engine: EngineEnv) -> None:
    _running(engine, "box")
    done = engine("exec", "-i", "box", "cat", input="hi\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n", "")
    done = engine("exec", "-i", "box", "wc", "-l", input="a\nb\n")
    assert (done.returncode, done.stdout.strip()) == (0, "2"), done.stderr
    # The exit code of a command that read its stdin.
    done = engine("exec", "-i", "box", "sh", "-c", "read x; exit $x", input="7\n")
    assert done.returncode == 7, done.stderr
    # An empty stdin is an EOF at once, not a hang.
    done = engine("exec", "-i", "box", "cat", input="")
    assert (done.returncode, done.stdout) == (0, "")
    # Without -i the process's stdin is /dev/null, whatever ours holds.
    done = engine("exec", "box", "sh", "-c", "cat; readlink /proc/self/fd/0", input="not-sent\n")
    assert (done.returncode, done.stdout) == (0, "/dev/null\n"), done.stderr
    # With -i it is a FIFO.
    done = engine("exec", "-i", "box", "sh", "-c", "test -p /proc/self/fd/0 && echo fifo", input="")
    assert (done.returncode, done.stdout) == (0, "fifo\n"), done.stderr


def test_interactive_stdin_is_binary_clean_and_larger_than_any_buffer(engine: EngineEnv) -> None:
    _running(engine, "box")
    data = bytes(range(256)) * 12288  # 3 MiB: FIFOs and pipes hold 64 KiB
    done = _raw(engine, "exec", "-i", "box", "md5sum", data=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0].decode() == hashlib.md5(data).hexdigest()
    # Stdin and output flow at the same time: cat echoes more than a pipe holds back to us.
    done = _raw(engine, "exec", "-i", "box", "cat", data=data)
    assert (done.returncode, len(done.stdout)) == (0, len(data)), done.stderr
    assert done.stdout == data


def test_a_process_that_does_not_read_its_stdin(engine: EngineEnv) -> None:
    """Its end closes with unread input: the engine's writes meet EPIPE, which neither kills
    the command (pyengine keeps SIGPIPE's default action) nor changes the exit code."""
    _running(engine, "box")
    data = b"x" * (4 << 20)
    for args, code in ((("true",), 0), (("sh", "-c", "exit 9"), 9), (("head", "-c", "3"), 0)):
        done = _raw(engine, "exec", "-i", "box", *args, data=data)
        assert done.returncode == code, (args, done.returncode, done.stderr)
        assert done.stdout == (b"xxx" if args[0] == "head" else b"")


# -- exec -t ----------------------------------------------------------------------------------


def test_tty_gives_a_pty_with_stdout_and_stderr_merged(engine: EngineEnv) -> None:
    _running(engine, "box")

    def tty_exec(*args: str) -> subprocess.CompletedProcess[bytes]:
        return _raw(engine, "exec", "-t", *args, data=b"")

    done = tty_exec("box", "tty")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rb"/dev/pts/\d+\r\n", done.stdout), done.stdout
    # Without -t there is no terminal.
    plain = engine("exec", "box", "tty")
    assert (plain.returncode, plain.stdout) == (1, "not a tty\n")
    # One stream, as Docker has it with -t: stderr arrives on our stdout, in order.
    done = tty_exec("box", "sh", "-c", "echo out; echo err >&2; echo out2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\r\nerr\r\nout2\r\n", b"")
    # dockerd's TERM for a tty exec; an explicit one wins.
    term = ("sh", "-c", "echo ${TERM-unset}")
    assert tty_exec("box", *term).stdout == b"xterm\r\n"
    assert tty_exec("-e", "TERM=vt100", "box", *term).stdout == b"vt100\r\n"
    assert engine("exec", "box", *term).stdout == "unset\n"
    # A start that fails keeps runc's exit code.
    done = tty_exec("box", "nosuchcommand")
    assert done.returncode == 127 and b"nosuchcommand" in done.stderr


def test_tty_under_a_terminal_prints_the_pts_and_takes_its_size(engine: EngineEnv) -> None:
    _running(engine, "box")
    command = f"stty rows 33 cols 77; {PYENGINE} exec -t box sh -c 'tty; stty size; exit 4'"
    proc = _script(engine, command)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 4, out
    text = out.decode()
    assert re.search(r"^/dev/pts/\d+\r$", text, re.M), text
    # The size our terminal had at the start, set before the process ran.
    assert "33 77\r\n" in text


def test_tty_output_larger_than_the_pty_buffer(engine: EngineEnv) -> None:
    _running(engine, "box")
    done = _raw(engine, "exec", "-t", "box", "sh", "-c", "seq 1 100000", data=b"")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"".join(b"%d\r\n" % i for i in range(1, 100001))


def test_interactive_tty_needs_a_terminal(engine: EngineEnv) -> None:
    _running(engine, "box")
    done = engine("exec", "-it", "box", "sh", input="echo hi\n")
    assert (done.returncode, done.stdout) == (1, "")
    assert "the input device is not a TTY" in done.stderr
    # Docker's order: an unknown container is reported first.
    done = engine("exec", "-it", "nosuch", "sh")
    assert done.returncode == 1 and "No such container: nosuch" in done.stderr


def test_interactive_shell_with_input_ctrl_c_and_resize(engine: EngineEnv) -> None:
    _running(engine, "box")
    proc = _script(
        engine, f"stty rows 20 cols 60; exec {PYENGINE} exec -it box sh", stdin=subprocess.PIPE
    )
    screen = Screen(proc)
    try:
        screen.until(rb"# ")
        screen.send(b"echo $((6*7))\n")
        assert screen.until(rb"\n42\r\n") == b"\n42\r\n"
        screen.send(b"tty; stty size\n")
        screen.until(rb"/dev/pts/\d+\r\n20 60\r\n")
        # Raw mode: ^C is a byte for the container's terminal, whose line discipline
        # interrupts the shell's foreground command; our command lives on.
        screen.send(b"sleep 100\n")
        time.sleep(0.5)
        screen.send(b"\x03")
        screen.send(b"echo back-$((1+1))\n")
        screen.until(rb"back-2\r\n")
        # Our terminal changes size: SIGWINCH, and the exec's terminal follows.
        cli = children(proc.pid)[0]
        fd = os.open(os.readlink(f"/proc/{cli}/fd/0"), os.O_RDWR | os.O_NOCTTY)
        try:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 111, 0, 0))
        finally:
            os.close(fd)
        # The signal may still be on its way: ask until the new size shows.
        deadline = time.monotonic() + 20
        screen.send(b"stty size\n")
        while screen.until(rb"\d+ \d+\r\n") != b"44 111\r\n":
            assert time.monotonic() < deadline, "the exec's terminal kept its old size"
            time.sleep(0.1)
            screen.send(b"stty size\n")
        screen.send(b"exit 3\n")
        assert proc.wait(timeout=30) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


# -- refusals, endings, leftovers -------------------------------------------------------------


def test_refusals_keep_their_messages_and_codes(engine: EngineEnv) -> None:
    _running(engine, "box")
    engine.ok("pause", "box")
    for flags in (("-i",), ("-t",), ("-i", "-t")):
        done = engine("exec", *flags, "box", "true", input="")
        if flags == ("-i", "-t"):  # no terminal here: Docker checks that first
            assert "the input device is not a TTY" in done.stderr
        else:
            assert "is paused, unpause the container before exec" in done.stderr, flags
        assert done.returncode == 1, (flags, done.stderr)
    engine.ok("unpause", "box")
    engine.ok("stop", "-t", "1", "box")
    for flags in (("-i",), ("-t",)):
        done = engine("exec", *flags, "box", "true", input="")
        assert done.returncode == 1 and "is not running" in done.stderr, (flags, done.stderr)
        done = engine("exec", *flags, "nosuch", "true", input="")
        assert done.returncode == 1 and "No such container: nosuch" in done.stderr
    done = engine("exec", "-i", "box", "nosuchcommand", input="")
    assert done.returncode == 1  # stopped: refused before anything runs


def test_the_container_stopping_ends_a_tty_exec(engine: EngineEnv) -> None:
    cid = _running(engine, "box")
    proc = engine.popen("exec", "-t", "box", "sleep", "100")
    wait_for(lambda: len(_pids(cid)) > 1, 20, "the exec to run")
    engine.ok("stop", "-t", "1", "box")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 137, err


def test_a_tty_exec_outlives_its_command_and_never_blocks_on_output(engine: EngineEnv) -> None:
    """As with docker: the shim holds the terminal, so killing the command neither kills the
    process nor leaves it blocked on a full terminal (the shim reads on and drops)."""
    _running(engine, "box")
    chatter = "seq 1 200000; touch /tmp/finished; sleep 100"
    proc = engine.popen("exec", "-t", "box", "sh", "-c", chatter)
    assert proc.stdout is not None
    proc.stdout.read(10)  # it runs and talks
    proc.kill()
    proc.wait(timeout=10)
    wait_for(
        lambda: engine("exec", "box", "test", "-f", "/tmp/finished").returncode == 0,
        60,
        "the exec to write everything with nobody reading",
    )
    assert "sleep 100" in engine.ok("exec", "box", "ps", "-o", "args")


def _pids(cid: str) -> set[int]:
    """The container's processes (a cgroup v1 host lists them once per hierarchy)."""
    return set(cgroup_pids({cid}))


def _snapshot(engine: EngineEnv, cid: str) -> dict[str, object]:
    """What an exec could leave behind: the shim's descriptors (FIFOs, pty masters, sockets),
    the files in its state directory, the container's processes, the engine's processes."""
    shim = engine.shim_pid(cid)
    fds = fd_targets(shim)
    return {
        "shim fds": fds,
        "state dir": sorted(p.name for p in engine.shim_dir(cid).iterdir()),
        "container pids": sorted(_pids(cid)),
        "engine processes": sorted(p.pid for p in engine.processes({cid})),
        "ptys held by the shim": [fd for fd in fds if fd in ("/dev/ptmx", "/dev/pts/ptmx")],
    }


def test_exec_leaves_nothing_behind(engine: EngineEnv) -> None:
    cid = _running(engine, "box")
    # The baseline is the shim at rest: `run` and `inspect` have gone, but the shim may not yet
    # have read their connections' EOF (one in about fifteen runs it had not).
    shim = engine.shim_pid(cid)
    wait_for(lambda: not unix_connections(shim), 10, "the shim to close its clients")
    before = _snapshot(engine, cid)
    assert before["ptys held by the shim"] == []
    assert engine("exec", "-i", "box", "cat", input="hi\n").stdout == "hi\n"
    assert _raw(engine, "exec", "-i", "box", "true", data=b"x" * (1 << 20)).returncode == 0
    assert engine("exec", "-t", "box", "tty").returncode == 0
    assert engine("exec", "-t", "box", "nosuchcommand").returncode == 127
    assert engine("exec", "-i", "box", "nosuchcommand", input="x\n").returncode == 127
    proc = _script(engine, f"{PYENGINE} exec -it box sh", stdin=subprocess.PIPE)
    screen = Screen(proc)
    screen.until(rb"# ")
    screen.send(b"exit 2\n")
    assert proc.wait(timeout=30) == 2
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.stdout.close()
    # A live tty exec holds a pty in the shim; it goes with the exec.
    live = engine.popen("exec", "-t", "box", "sleep", "100")
    wait_for(lambda: _snapshot(engine, cid)["ptys held by the shim"], 20, "the exec's pty")
    (sleeper,) = _pids(cid) - {engine.state("box")["Pid"]}
    os.kill(sleeper, signal.SIGTERM)
    assert live.wait(timeout=30) == 143
    # Poll, then compare: on a timeout pytest's diff names which trace stayed.
    deadline = time.monotonic() + 10
    while (now := _snapshot(engine, cid)) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert now == before


# -- exec through the seam, as the API server will drive it -----------------------------------

_SEAM_EXEC = """
import json, os, sys
from engine.cli.context import open_engine
from engine.lifecycle.execs import ExecRequest

class Frames:
    '''Docker's multiplexed stream, kept as (stream, bytes) frames: stdout and stderr apart.'''
    def __init__(self, fd):
        self.fd, self.frames = fd, []
    def input_fd(self):
        return self.fd
    def output(self, stream, data):
        self.frames.append((stream, data.decode()))

read_end, write_end = os.pipe()
os.write(write_end, b"from the adapter\\n")
os.close(write_end)
frames = Frames(read_end)
request = ExecRequest(("sh", "-c", "cat; echo to-err >&2; exit 3"), env=("X=1",), stdin=True)
code = open_engine().exec(sys.argv[1], request, streams=frames)
out = "".join(d for s, d in frames.frames if s == 1)
err = "".join(d for s, d in frames.frames if s == 2)
print(json.dumps({"code": code, "out": out, "err": err}))
"""


def test_an_adapter_gets_stdout_and_stderr_apart_through_its_own_streams(
    engine: EngineEnv,
) -> None:
    """Not this process's stdio: an adapter's ExecStreams feed stdin from its own descriptor
    and receive each output stream apart (what Docker's multiplexed attach needs)."""
    _running(engine, "seam")
    done = subprocess.run(
        [sys.executable, "-c", _SEAM_EXEC, "seam"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=engine.env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"code": 3, "out": "from the adapter\n", "err": "to-err\n"}
    # the CLI's own path is unchanged: a refusal for a container that does not run
    engine.ok("stop", "-t", "1", "seam")
    refused = engine("exec", "seam", "true")
    assert refused.returncode == 1 and "is not running" in refused.stderr
    engine.ok("rm", "seam")
