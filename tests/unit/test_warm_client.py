"""The hand-over to the warm process (engine/warm/): the request line, the client's side of
the protocol against a fake server, and the code watch that retires a stale server."""

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.warm import client, codewatch, protocol
from netns import libc


def test_a_request_line_roundtrips_and_fits_one_atomic_write() -> None:
    line = protocol.encode("pybridge", 4242, 17, 3)
    assert line.endswith(b"\n") and len(line) < protocol.MAX_LINE
    assert protocol.decode(line) == ("pybridge", 4242, 17, 3)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"pyplumb-handover-2 pyengine 1 5 1",  # the version before
        b"pyplumb-handover-3 python 1 5 1",  # not a program it serves
        b"pyplumb-handover-3 pyengine 0 5 1",
        b"pyplumb-handover-3 pyengine 12 -1 1",
        b"pyplumb-handover-3 pyengine 12 5 0",
        b"pyplumb-handover-3 pyengine twelve 5 1",
        b"pyplumb-handover-3 pyengine 12 5",
    ],
)
def test_malformed_requests_are_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        protocol.decode(line)


class FakeServer:
    """Reads the run root's FIFO in a thread and answers each request with `answer(line)`,
    through the client's own pipe reopened from /proc, as the real server does."""

    def __init__(self, run_root: Path, answer: Callable[[bytes], bytes], pid: int) -> None:
        os.mkfifo(run_root / protocol.FIFO_NAME, 0o600)
        (run_root / protocol.PID_NAME).write_text(f"{pid}\n")
        self.fd = os.open(run_root / protocol.FIFO_NAME, os.O_RDWR)
        self.answer, self.requests = answer, list[tuple[str, int, int, int]]()
        self.thread = threading.Thread(target=self.serve_one, daemon=True)
        self.thread.start()

    def serve_one(self) -> None:
        line = os.read(self.fd, protocol.MAX_LINE)
        request = protocol.decode(line)
        self.requests.append(request)
        _, pid, reply_at, _ = request
        reply = self.answer(line)
        if reply:
            reply_fd = os.open(f"/proc/{pid}/fd/{reply_at}", os.O_WRONLY)
            os.write(reply_fd, reply)
            os.close(reply_fd)  # all answered and closed before the client reads any of it

    def close(self) -> None:
        self.thread.join(10)
        os.close(self.fd)


@pytest.fixture
def run_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "run"
    root.mkdir(mode=0o700)
    yield root


def test_a_command_the_server_ran_is_never_run_again(run_root: Path) -> None:
    """The worker ran, answered and was gone before the client looked: the client takes the
    status (running the command itself printed its output twice, once)."""
    server = FakeServer(run_root, lambda _: b"pid 77\nexit 3\n", os.getpid())
    handed = client.hand_over(str(run_root), "pyengine", 2)
    server.close()
    assert handed is not None and handed.worker == 77
    assert handed.wait() == 3
    assert server.requests == [("pyengine", os.getpid(), server.requests[0][2], 2)]


def test_a_worker_killed_by_a_signal_is_reported_as_one(run_root: Path) -> None:
    server = FakeServer(run_root, lambda _: b"pid 78\nsignal 15\n", os.getpid())
    handed = client.hand_over(str(run_root), "pyengine", 1)
    server.close()
    assert handed is not None and handed.wait() == -15


@pytest.mark.parametrize("answer", [protocol.STALE, protocol.REFUSED, b"garbage"])
def test_a_stale_or_refusing_server_hands_the_command_back(run_root: Path, answer: bytes) -> None:
    server = FakeServer(run_root, lambda _: answer + b"\n", os.getpid())
    assert client.hand_over(str(run_root), "pybridge", 1) is None
    server.close()


def test_a_worker_lost_without_a_status_is_an_error_not_a_second_run(run_root: Path) -> None:
    server = FakeServer(run_root, lambda _: b"pid 79\n", os.getpid())
    handed = client.hand_over(str(run_root), "pyengine", 1)
    server.close()
    assert handed is not None
    with pytest.raises(client.WorkerLostError, match="without this command's status"):
        handed.wait()


def test_a_server_that_dies_before_answering_hands_the_command_back(run_root: Path) -> None:
    stand_in = subprocess.Popen(["sleep", "60"])  # the "server" whose death the client watches
    try:
        killed = threading.Event()

        def die(_line: bytes) -> bytes:
            stand_in.kill()
            stand_in.wait()
            killed.set()
            return b""  # nothing said

        server = FakeServer(run_root, die, stand_in.pid)
        assert client.hand_over(str(run_root), "pyengine", 1) is None
        server.close()
        assert killed.is_set()
    finally:
        stand_in.kill()
        stand_in.wait()


def test_no_server_means_run_it_yourself(run_root: Path) -> None:
    assert client.hand_over(str(run_root), "pyengine", 1) is None  # no FIFO
    assert not client.serving(str(run_root))
    os.mkfifo(run_root / protocol.FIFO_NAME, 0o600)  # a FIFO nobody reads (a dead server's)
    assert client.hand_over(str(run_root), "pyengine", 1) is None
    assert not client.serving(str(run_root))


def test_the_code_watch_sees_module_changes_but_not_bytecode(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "mod.py"
    module.write_text("x = 1\n")
    watch = codewatch.CodeWatch([str(tmp_path)])
    try:
        assert watch.fd is not None
        assert not watch.changed()
        (tmp_path / "pkg" / "__pycache__").mkdir()
        (tmp_path / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
        (tmp_path / "notes.txt").write_text("not code\n")
        assert not watch.changed()
        module.write_text("x = 2\n")
        assert watch.changed()
        assert watch.changed()  # stale stays stale
    finally:
        watch.close()


def test_the_code_watch_falls_back_to_stat_without_inotify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_instances(flags: int) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(libc, "inotify_init1", no_instances)
    module = tmp_path / "mod.py"
    module.write_text("x = 1\n")
    watch = codewatch.CodeWatch([str(tmp_path)])
    assert watch.fd is None and not watch.changed()
    module.write_text("x = 22\n")  # another size: the fingerprint differs
    assert watch.changed()
