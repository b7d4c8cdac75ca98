"""exec -i/-t plumbing without runc: the shim's terminal relay over a real pty and its epoll
loop, and the engine's FIFO pump, each against real pipes, FIFOs and ptys."""

import contextlib
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
import tty
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.lifecycle.execio import ExecStdio
from engine.lifecycle.execs import FdStreams
from engine.shim.loop import Loop
from engine.shim.ttyio import ExecTerminal
from engine.shimapi.errors import InvalidArgumentError

F_SETPIPE_SZ = 1031


def run_until(loop: Loop, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the loop until `done()` holds (checked every 10 ms); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    failed: list[str] = []

    def check() -> None:
        if done():
            loop.stop()
        elif time.monotonic() > deadline:
            failed.append("timeout")
            loop.stop()
        else:
            loop.call_later(0.01, check)

    loop.call_later(0, check)
    loop.run()
    assert not failed, "the loop never got there"


def read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


# -- the shim's relay ------------------------------------------------------------------------


def test_relay_copies_output_and_input_and_closes_everything_at_the_end():
    master, slave = os.openpty()
    loop = Loop()
    out_r, out_w = os.pipe()
    in_r, in_w = os.pipe()
    relay = ExecTerminal(loop, master, stdout=out_w, stdin=in_r)
    os.set_blocking(out_r, False)

    os.write(slave, b"from the process\n")
    got = b""

    def seen_output() -> bool:
        nonlocal got
        got += read_all(out_r)
        return b"from the process" in got

    run_until(loop, seen_output)
    assert got == b"from the process\r\n"  # the slave's ONLCR, as a terminal does

    os.write(in_w, b"typed\n")
    os.set_blocking(slave, False)
    typed = b""

    def seen_input() -> bool:
        nonlocal typed
        typed += read_all(slave)
        return b"typed\n" in typed

    run_until(loop, seen_input)
    assert typed == b"typed\n"
    # EOF on stdin is a ^D: in canonical mode the process's next read() returns b"".
    os.close(in_w)
    run_until(loop, lambda: relay.stdin < 0)
    assert select.select([slave], [], [], 10)[0], "no ^D reached the process"
    assert os.read(slave, 100) == b""
    assert not fd_open(in_r)

    # The process (every holder of the slave) is gone: the relay closes all it holds, so the
    # engine's reader sees EOF.
    os.close(slave)
    run_until(loop, lambda: relay.done)
    assert (relay.master, relay.stdout, relay.stdin) == (-1, -1, -1)
    assert not fd_open(master) and not fd_open(out_w)
    read_all(out_r)  # the echo of what was typed
    os.set_blocking(out_r, True)
    assert os.read(out_r, 1) == b""
    os.close(out_r)
    with pytest.raises(InvalidArgumentError, match="closed"):
        relay.resize(10, 10)


def test_relay_applies_backpressure_and_loses_nothing():
    master, slave = os.openpty()
    tty.setraw(slave)  # no ONLCR: the bytes come out as they went in
    loop = Loop()
    out_r, out_w = os.pipe()
    fcntl.fcntl(out_w, F_SETPIPE_SZ, 4096)  # a small pipe fills at once
    relay = ExecTerminal(loop, master, stdout=out_w)
    payload = bytes(range(256)) * 4096  # 1 MiB, far beyond the pipe and the pty
    os.set_blocking(slave, False)
    os.set_blocking(out_r, False)
    sent = 0
    stalls = 0
    got = bytearray()

    def progress() -> bool:
        nonlocal sent, stalls
        while sent < len(payload):
            try:
                sent += os.write(slave, payload[sent : sent + 4096])
            except BlockingIOError:
                # The relay stopped reading the master while its stdout was full.
                stalls += 1
                break
        # Read slowly: the relay must wait for us, neither buffering without bound nor dropping.
        with contextlib.suppress(BlockingIOError):
            got.extend(os.read(out_r, 16384))
        return len(got) >= len(payload)

    run_until(loop, progress, timeout=60)
    assert bytes(got) == payload
    assert stalls > 0, "the process never had to wait: back-pressure was not exercised"
    os.close(slave)
    run_until(loop, lambda: relay.done)
    os.close(out_r)


def test_relay_drops_output_once_its_reader_is_gone():
    master, slave = os.openpty()
    loop = Loop()
    out_r, out_w = os.pipe()
    relay = ExecTerminal(loop, master, stdout=out_w)
    os.close(out_r)  # the engine command died
    os.set_blocking(slave, False)
    written = 0
    # Far more than a pty and a pipe hold: the process never blocks on its terminal for long.
    deadline = time.monotonic() + 20
    while written < 1 << 20 and time.monotonic() < deadline:
        try:
            written += os.write(slave, b"x" * 4096)
        except BlockingIOError:
            run_until(loop, lambda: True)
    assert written >= 1 << 20
    assert relay.stdout == -1 and not fd_open(out_w)
    os.close(slave)
    run_until(loop, lambda: relay.done)


def test_relay_resize_reaches_the_slave():
    master, slave = os.openpty()
    loop = Loop()
    out_r, out_w = os.pipe()
    relay = ExecTerminal(loop, master, stdout=out_w)
    relay.resize(33, 77)
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))
    assert (rows, cols) == (33, 77)
    relay.close()
    assert not fd_open(master) and not fd_open(out_w)
    os.close(slave)
    os.close(out_r)


# -- the engine's pump -----------------------------------------------------------------------

# The shim and the process in one: opens the FIFOs as the shim does for an exec without a
# terminal, then upper-cases stdin to stdout and says "eof" on stderr.
UPPER = """
import os, sys
i = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
os.set_blocking(i, True)
o, e = os.open(sys.argv[2], os.O_RDWR), os.open(sys.argv[3], os.O_RDWR)
print("started", flush=True)
while data := os.read(i, 65536):
    os.write(o, data.upper())
os.write(e, b"eof\\n")
"""


def test_pump_forwards_stdin_until_eof_and_copies_both_outputs(tmp_path, capfd):
    payload = b"abc\n" * 100_000  # far more than a FIFO holds: the pump must interleave
    source = tmp_path / "input"
    source.write_bytes(payload)
    parent = tmp_path / "state"
    with ExecStdio(parent, stdin=True) as stdio, source.open("rb") as f:
        assert Path(stdio.stdin).is_fifo() and Path(stdio.stderr).is_fifo()
        shim = subprocess.Popen(
            [sys.executable, "-c", UPPER, stdio.stdin, stdio.stdout, stdio.stderr],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert shim.stdout is not None
        # The pump runs once the exec has started, that is once the shim holds the read end.
        assert shim.stdout.readline() == b"started\n"
        stdio.pump(FdStreams(stdin=f.fileno()))
        assert shim.wait(timeout=30) == 0
        shim.stdout.close()
        directory = stdio.dir
    out, err = capfd.readouterr()
    assert out == payload.upper().decode()
    assert err == "eof\n"
    assert not directory.exists() and list(parent.iterdir()) == []


def test_pump_survives_a_process_that_never_reads(tmp_path):
    """The process exits without reading: our writes meet EPIPE, not a fatal SIGPIPE, and the
    copy ends with its output (pyengine keeps SIGPIPE's default action: checked in a child)."""
    source = tmp_path / "input"
    source.write_bytes(b"x" * (1 << 20))  # more than the FIFO holds: only EPIPE can end it
    code = f"""
import os, signal, subprocess, sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from engine.lifecycle.execio import ExecStdio
from engine.lifecycle.execs import FdStreams
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
quitter = "import os, sys; os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK); print('bye')"
with ExecStdio(Path({str(tmp_path / "state")!r}), stdin=True) as stdio:
    # O_WRONLY opens: our readers are already there
    with open(stdio.stdout, "w") as out, open(stdio.stderr, "w") as err:
        shim = subprocess.Popen(
            [sys.executable, "-c", quitter, stdio.stdin], stdout=out, stderr=err
        )
    with open({str(source)!r}, "rb") as f:
        stdio.pump(FdStreams(stdin=f.fileno()))
    shim.wait()
print("survived")
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode, done.stdout) == (0, "bye\nsurvived\n"), done.stderr


def test_terminal_has_one_output_and_stdin_has_a_writer_first(tmp_path):
    with ExecStdio(tmp_path, tty=True) as stdio:
        assert stdio.stderr == "" and stdio.stdin == ""
        assert sorted(p.name for p in stdio.dir.iterdir()) == ["out"]
    with ExecStdio(tmp_path, stdin=True) as stdio:
        # Our write end opens before the shim's read end: its first read is not an EOF.
        reader = os.open(stdio.stdin, os.O_RDONLY | os.O_NONBLOCK)
        with pytest.raises(BlockingIOError):
            os.read(reader, 1)
        os.close(reader)
    assert list(tmp_path.iterdir()) == []
