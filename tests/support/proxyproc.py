"""Run the installed `pyproxy` (or docker-proxy) exactly as dockerd does: fd 3 pipe, fd 4 socket."""

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from proxy import invoke
from proxy.config import LOOP_NAMES


def pyproxy_path() -> str:
    """The console script installed into the running venv."""
    path = Path(sys.executable).with_name("pyproxy")
    if not path.exists():
        found = shutil.which("pyproxy")
        assert found, "pyproxy is not installed: run ./scripts/setup"
        return found
    return str(path)


class Child:
    """A child started with posix_spawn (thread-safe fd placement, unlike preexec_fn)."""

    def __init__(self, pid: int, stderr: int | None) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._stderr = stderr

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.002)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def read_stderr(self) -> str:
        """All of the child's stderr (only once it has exited or closed it)."""
        if self._stderr is None:
            return ""
        chunks = []
        while chunk := os.read(self._stderr, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def close(self) -> None:
        if self.poll() is None:
            self.kill()
            self.wait()
        if self._stderr is not None:
            os.close(self._stderr)
            self._stderr = None


def spawn(
    argv: Sequence[str],
    fds: Mapping[int, int],
    *,
    capture_stderr: bool = False,
    env: Mapping[str, str] | None = None,
) -> Child:
    """Start argv with fds at exact numbers ({3: pipe_w, 4: sock}); stdio on /dev/null."""
    # Stage every source above the targets, so placing one cannot clobber another; at the
    # lowest free numbers there, never at fixed ones that may hold another open file.
    floor = max(fds, default=2) + 1
    staged = [
        (target, fcntl.fcntl(src, fcntl.F_DUPFD_CLOEXEC, floor)) for target, src in fds.items()
    ]
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    ]
    err_r = err_w = None
    if capture_stderr:
        err_r, err_w = os.pipe()
        actions.append((os.POSIX_SPAWN_DUP2, err_w, 2))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    actions += [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in staged]
    try:
        pid = os.posix_spawn(
            argv[0], list(argv), dict(os.environ if env is None else env), file_actions=actions
        )
    finally:
        for _, fd in staged:
            os.close(fd)
        if err_w is not None:
            os.close(err_w)
    return Child(pid, err_r)


class ProxyProcess:
    """A proxy child with its fd-3 pipe; `status` is what it reported there."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        binary: str | None = None,
        listen_sock: int | None = None,
        capture_stderr: bool = False,
        with_pipe: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = [binary or pyproxy_path(), *args]
        fds: dict[int, int] = {}
        self._r: int | None = None
        if with_pipe:
            self._r, w = os.pipe()
            fds[3] = w
        if listen_sock is not None:
            fds[4] = listen_sock
        try:
            self.proc = spawn(self.argv, fds, capture_stderr=capture_stderr, env=env)
        finally:
            if with_pipe:
                os.close(fds[3])
        self.report: bytes | None = None

    def wait_report(self, timeout: float = 16.0) -> bytes:
        """Everything written to fd 3 until the proxy closed it (dockerd's 16 s budget)."""
        assert self._r is not None
        deadline = time.monotonic() + timeout
        chunks = []
        os.set_blocking(self._r, False)
        while time.monotonic() < deadline:
            try:
                data = os.read(self._r, 4096)
            except BlockingIOError:
                time.sleep(0.002)
                continue
            if not data:
                break
            chunks.append(data)
        else:
            pytest.fail(f"no EOF on fd 3 within {timeout}s from {self.argv}")
        os.close(self._r)
        self._r = None
        self.report = b"".join(chunks)
        return self.report

    def read_report(self, size: int, timeout: float = 16.0) -> bytes:
        """The first `size` bytes written to fd 3, without waiting for it to close."""
        assert self._r is not None
        deadline = time.monotonic() + timeout
        data = b""
        os.set_blocking(self._r, False)
        while len(data) < size and time.monotonic() < deadline:
            try:
                data += os.read(self._r, size - len(data))
            except BlockingIOError:
                time.sleep(0.002)
        return data

    def ready(self) -> "ProxyProcess":
        report = self.wait_report()
        assert report == b"0\n", f"proxy did not report ready: {report!r}"
        return self

    def stop(self, sig: int = signal.SIGINT, timeout: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        self.proc.close()
        if self._r is not None:
            os.close(self._r)
            self._r = None

    def __enter__(self) -> "ProxyProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tcp_args(host_ip: str, host_port: int, ctr_ip: str, ctr_port: int) -> list[str]:
    return [
        "-proto", "tcp", "-host-ip", host_ip, "-host-port", str(host_port),
        "-container-ip", ctr_ip, "-container-port", str(ctr_port),
    ]  # fmt: skip


def udp_args(host_ip: str, host_port: int, ctr_ip: str, ctr_port: int) -> list[str]:
    args = tcp_args(host_ip, host_port, ctr_ip, ctr_port)
    args[1] = "udp"
    return args


def hub_pids(group: str) -> list[int]:
    """Shared-mode hubs started with PYPROXY_HUB=group (their environment names the group)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-hub" in cmdline and f"PYPROXY_HUB={group}".encode() in environ:
            pids.append(int(entry.name))
    return pids


def kill_hubs(group: str) -> None:
    """Kill the group's hubs, and remove the FIFOs and pid files a killed hub leaves behind."""
    pids = hub_pids(group)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # ours only when a test started it directly
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    remove_hub_files(group)


def remove_hub_files(group: str) -> None:
    """The FIFO and pid file of each of the group's hubs that no longer runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYPROXY_HUB", group)
        for loop in LOOP_NAMES:
            fifo, pid_file = invoke.hub_paths(loop)
            if not invoke.serving(fifo):
                for path in (fifo, pid_file):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
