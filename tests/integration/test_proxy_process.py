"""The process contract with dockerd: flags, fd 3, fd 4, exit codes, signals (spec section 10)."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port, require_binary
from tests.integration.conftest import StartProxy
from tests.support.echo import TCPEcho, recv_exactly
from tests.support.proxyproc import ProxyProcess, kill_hubs, pyproxy_path, tcp_args


def roundtrip(port: int, payload: bytes = b"ping", host: str = "127.0.0.1") -> bytes:
    with socket.create_connection((host, port), timeout=5) as c:
        c.sendall(payload)
        return recv_exactly(c, len(payload))


@pytest.mark.parametrize(
    "style",
    [
        lambda k, v: [f"-{k}", v],
        lambda k, v: [f"--{k}", v],
        lambda k, v: [f"-{k}={v}"],
        lambda k, v: [f"--{k}={v}"],
    ],
)
def test_1_argv_forms(start_proxy: StartProxy, style) -> None:
    with TCPEcho() as echo:
        port = free_port()
        args = []
        for k, v in [
            ("proto", "tcp"),
            ("host-ip", "127.0.0.1"),
            ("host-port", str(port)),
            ("container-ip", "127.0.0.1"),
            ("container-port", str(echo.port)),
        ]:
            args += style(k, v)
        start_proxy(args)
        assert roundtrip(port) == b"ping"


def test_2_version_and_help() -> None:
    out = subprocess.run([pyproxy_path(), "-v"], capture_output=True, check=False)
    assert out.returncode == 0
    assert out.stdout.decode().count("\n") == 1
    assert "version" in out.stdout.decode()
    out = subprocess.run([pyproxy_path(), "-version"], capture_output=True, check=False)
    assert out.returncode == 0
    out = subprocess.run([pyproxy_path(), "-h"], capture_output=True, check=False)
    assert out.returncode == 0
    assert out.stdout == b""
    assert out.stderr.decode().startswith("Usage of pyproxy:")
    assert "-use-listen-fd" in out.stderr.decode()


def test_3_unknown_flag_exits_2_and_writes_nothing_to_fd3() -> None:
    with ProxyProcess(["-proto", "tcp", "-bogus", "1"], capture_stderr=True) as p:
        assert p.wait_report() == b""
        assert p.proc.wait(5) == 2
        err = p.proc.read_stderr()
        assert err.splitlines()[0] == "flag provided but not defined: -bogus"


def test_4_ready_only_once_listening(start_proxy: StartProxy) -> None:
    with TCPEcho() as echo:
        port = free_port()
        p = start_proxy(tcp_args("127.0.0.1", port, "127.0.0.1", echo.port), ready=False)
        assert p.wait_report() == b"0\n"  # exactly these bytes, then EOF (fd 3 closed)
        # The moment "0\n" arrived the port must accept: no retry loop here.
        assert roundtrip(port) == b"ping"


@pytest.mark.parametrize("mode", ["standalone", "shared"])
def test_4_ready_is_a_single_write(tmp_path: Path, mode: str) -> None:
    """dockerd reads 2 bytes once: strace must show one write(3, "0\\n", 2)."""
    strace = require_binary("strace")
    trace = tmp_path / "trace"
    group = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYPROXY_HUB": group}
    with contextlib.ExitStack() as stack:
        echo = stack.enter_context(TCPEcho())
        stack.callback(kill_hubs, group)
        if mode == "shared":  # start the hub outside strace, which would wait for it to exit
            warm = stack.enter_context(
                ProxyProcess(
                    [*tcp_args("127.0.0.1", free_port(), "127.0.0.1", echo.port), "-mode", mode],
                    env=env,
                )
            )
            warm.ready()
        args = [*tcp_args("127.0.0.1", free_port(), "127.0.0.1", echo.port), "-mode", mode]
        p = stack.enter_context(
            ProxyProcess(
                ["-f", "-o", str(trace), "-e", "trace=write", pyproxy_path(), *args],
                binary=strace,
                env=env,
            )
        )
        # strace itself keeps fd 3 open, so read the report without waiting for EOF.
        assert p.read_report(2) == b"0\n"
        pid = p.proc.pid
        (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        stack.callback(kill_quietly, int(child))  # strace's tracee outlives a killed strace
        os.kill(int(child), signal.SIGINT)  # strace exits when its tracee does
        # A bound on a hang, not a timing check: under strace on a loaded CI box the stand-in's
        # stop handshake with the hub once took over 5 s.
        assert p.proc.wait(30) == 0
    # Standalone writes on fd 3; the shared-mode shell writes `printf >&3`, i.e. on its fd 1.
    writes = [ln for ln in trace.read_text().splitlines() if re.search(r"write\([13], ", ln)]
    ready = [ln for ln in writes if '"0\\n' in ln]
    assert len(ready) == 1, writes
    assert re.search(r'write\([13], "0\\n", 2\)\s+= 2', ready[0]), ready


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_5_bind_conflict(start_proxy: StartProxy) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        t0 = time.monotonic()
        p = start_proxy(tcp_args("127.0.0.1", port, "127.0.0.1", 9), ready=False)
        report = p.wait_report()
        assert report == f"1\nlisten tcp4 127.0.0.1:{port}: bind: address already in use".encode()
        assert p.proc.wait(5) == 1
        assert time.monotonic() - t0 < 16


@pytest.mark.parametrize(
    ("host_ip", "host_port", "expected"),
    [
        (
            "192.0.2.55",
            "PORT",
            "listen tcp4 192.0.2.55:PORT: bind: cannot assign requested address",
        ),
        ("127.0.0.1", "70000", "listen tcp4 127.0.0.1:70000: bind: invalid argument"),
        ("127.0.0.1", "-1", "listen tcp4 127.0.0.1:-1: bind: invalid argument"),
    ],
)
def test_5_startup_errors(
    start_proxy: StartProxy, host_ip: str, host_port: str, expected: str
) -> None:
    port = str(free_port()) if host_port == "PORT" else host_port
    p = start_proxy(tcp_args(host_ip, int(port), "127.0.0.1", 9), ready=False)
    report = p.wait_report().decode()
    assert report.startswith("1\n" + expected.replace("PORT", port))
    assert not report.endswith("\n")
    assert p.proc.wait(5) == 1


def test_unknown_protocol_reported_on_fd3(start_proxy: StartProxy) -> None:
    p = start_proxy(["-proto", "TCP", "-container-port", "1"], ready=False)
    assert p.wait_report() == b"1\nunsupported protocol TCP"
    assert p.proc.wait(5) == 1


def test_6_listen_fd_tcp_is_not_bound_again(start_proxy: StartProxy) -> None:
    with TCPEcho() as echo, socket.socket() as lsock:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(-1)
        given = lsock.getsockname()[1]
        decoy = free_port()  # -host-port is informational with -use-listen-fd
        start_proxy(
            [*tcp_args("127.0.0.1", decoy, "127.0.0.1", echo.port), "-use-listen-fd"],
            listen_sock=lsock.fileno(),
        )
        lsock.close()  # dockerd closes its copy once the proxy is ready
        assert roundtrip(given) == b"ping"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", decoy), timeout=2)


def test_6_listen_fd_dual_stack_serves_ipv4(start_proxy: StartProxy) -> None:
    with TCPEcho() as echo, socket.socket(socket.AF_INET6) as lsock:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        lsock.bind(("::", 0))
        lsock.listen(-1)
        port = lsock.getsockname()[1]
        start_proxy(
            [*tcp_args("::", port, "127.0.0.1", echo.port), "-use-listen-fd"],
            listen_sock=lsock.fileno(),
        )
        assert roundtrip(port, host="127.0.0.1") == b"ping"
        assert roundtrip(port, host="::1") == b"ping"


@pytest.mark.parametrize(
    ("make", "proto", "message"),
    [
        (lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM), "tcp", "want an tcp socket"),
        (socket.socket, "tcp", "socket is not listening"),
        (socket.socket, "udp", "want an udp socket"),
    ],
)
def test_listen_fd_of_the_wrong_type(
    start_proxy: StartProxy, make, proto: str, message: str
) -> None:
    with make() as sock:
        if sock.type == socket.SOCK_DGRAM:
            sock.bind(("127.0.0.1", 0))
        args = tcp_args("127.0.0.1", 1, "127.0.0.1", 9)
        args[1] = proto
        p = start_proxy([*args, "-use-listen-fd"], listen_sock=sock.fileno(), ready=False)
        report = p.wait_report().decode()
        assert report.startswith("1\nunexpected socket type for listener fd: ")
        assert message in report
        assert p.proc.wait(5) == 1


def test_listen_fd_not_a_socket(start_proxy: StartProxy) -> None:
    r, w = os.pipe()
    try:
        p = start_proxy(
            [*tcp_args("127.0.0.1", 1, "127.0.0.1", 9), "-use-listen-fd"],
            listen_sock=r,
            ready=False,
        )
        assert p.wait_report() == b"1\nunexpected socket type for listener fd: fd 4 is not a socket"
        assert p.proc.wait(5) == 1
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize(
    ("host_ip", "served", "refused"),
    [
        ("0.0.0.0", "127.0.0.1", "::1"),
        ("::", "::1", "127.0.0.1"),  # v6-only, as Go listens on "::"
        ("::ffff:127.0.0.1", "127.0.0.1", "::1"),
    ],
)
def test_8_host_ip_family(start_proxy: StartProxy, host_ip: str, served: str, refused: str) -> None:
    with TCPEcho() as echo:
        port = free_port(host="::" if ":" in served else "0.0.0.0")
        start_proxy(tcp_args(host_ip, port, "127.0.0.1", echo.port))
        assert roundtrip(port, host=served) == b"ping"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((refused, port), timeout=2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_9_stop_signal(start_proxy: StartProxy, sig: int) -> None:
    with TCPEcho() as echo:
        port = free_port()
        p = start_proxy(tcp_args("127.0.0.1", port, "127.0.0.1", echo.port))
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        for c in conns:
            c.sendall(b"x")
            assert recv_exactly(c, 1) == b"x"
        t0 = time.monotonic()
        assert p.stop(sig) == 0
        assert time.monotonic() - t0 < 1.0
        for c in conns:
            assert c.recv(1) == b""  # dropped: the client reads EOF
            c.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)


def test_10_backend_refused_then_up(start_proxy: StartProxy) -> None:
    backend_port = free_port()
    port = free_port()
    p = start_proxy(tcp_args("127.0.0.1", port, "127.0.0.1", backend_port))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(1) == b""  # accepted, then EOF (not a reset)
    assert p.proc.poll() is None
    with TCPEcho(port=backend_port):
        assert roundtrip(port) == b"ping"


def test_21_stdio_on_devnull_and_stderr_unused(start_proxy: StartProxy) -> None:
    """ProxyProcess always gives the child /dev/null stdio, as dockerd does."""
    with TCPEcho() as echo:
        port = free_port()
        start_proxy(tcp_args("127.0.0.1", port, "127.0.0.1", echo.port))
        assert roundtrip(port) == b"ping"


def test_22_without_fd3(start_proxy: StartProxy) -> None:
    with TCPEcho() as echo:
        port = free_port()
        p = start_proxy(
            tcp_args("127.0.0.1", port, "127.0.0.1", echo.port), with_pipe=False, ready=False
        )
        deadline = time.monotonic() + 10
        while True:  # no pipe: poll for the port instead
            try:
                assert roundtrip(port) == b"ping"
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                assert p.proc.poll() is None
                time.sleep(0.02)
        for _ in range(3):  # still serving: it did not close its own listener as "the pipe"
            assert roundtrip(port) == b"ping"


def test_22_fd3_not_a_pipe_is_left_alone(start_proxy: StartProxy, tmp_path) -> None:
    stray = tmp_path / "stray"
    with TCPEcho() as echo, open(stray, "wb") as f:
        port = free_port()
        p = ProxyProcess(
            [*tcp_args("127.0.0.1", port, "127.0.0.1", echo.port)],
            with_pipe=False,
            listen_sock=None,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert roundtrip(port) == b"ping"
                    break
                except ConnectionRefusedError:
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
        finally:
            p.close()
        del f
    assert stray.read_bytes() == b""


def test_23_extra_args_repeats_and_go_ints(start_proxy: StartProxy) -> None:
    with TCPEcho() as echo:
        port = free_port()
        start_proxy(
            [
                "-proto",
                "tcp",
                "-host-ip",
                "127.0.0.1",
                "-host-port",
                "1",
                "-host-port",
                hex(port),
                "-container-ip",
                "127.0.0.1",
                "-container-port",
                str(echo.port),
                "extra",
                "-proto",
                "udp",
            ]
        )
        assert roundtrip(port) == b"ping"


def test_24_sctp_without_kernel_support(start_proxy: StartProxy) -> None:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
        pytest.skip("this kernel has SCTP; the no-SCTP answer cannot be observed here")
    except OSError:
        pass
    args = tcp_args("127.0.0.1", free_port(), "127.0.0.1", 9)
    args[1] = "sctp"
    p = start_proxy(args, ready=False)
    assert p.wait_report() == b"1\nprotocol not supported"
    assert p.proc.wait(5) == 1
