"""The fork server's hand-over request (engine/cli/handover.py): what the worker rebuilds."""

import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.cli import entry, handover


def _roundtrip(req: handover.Request) -> handover.Request:
    data = handover.encode(req)
    assert handover.body_length(data[: handover.HEADER]) == len(data) - handover.HEADER
    return handover.decode(data[handover.HEADER :])


def test_roundtrip_keeps_every_field_including_non_utf8_and_empty_arguments() -> None:
    odd = b"caf\xe9".decode("utf-8", "surrogateescape")  # not UTF-8 on the command line
    req = handover.Request(
        "pybridge",
        "/usr/bin/pyengine",
        cwd="/tmp/x y",
        umask=0o027,
        argv=["run", "--rm", "", odd, "a=b"],
        env={"PATH": "/bin", "EMPTY": "", "EQ": "a=b=c", odd: odd},
    )
    back = _roundtrip(req)
    assert (back.program, back.argv0, back.cwd, back.umask) == (
        "pybridge",
        "/usr/bin/pyengine",
        "/tmp/x y",
        0o027,
    )
    assert back.argv == req.argv
    assert back.env == req.env


def test_no_arguments_and_no_environment() -> None:
    back = _roundtrip(
        handover.Request("pyengine", "pyengine", cwd="/", umask=0o22, argv=[], env={})
    )
    assert (back.argv, back.env) == ([], {})


def test_a_nul_byte_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="NUL"):
        handover.encode(
            handover.Request("pyengine", "pyengine", cwd="/", umask=0, argv=["a\0b"], env={})
        )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"other-protocol\0x\0/\x0022\x000",
        b"pyengine-handover-1\0x\0/\x0022\x000",  # the version before programs
        b"pyplumb-handover-2\0pyengine\0x\0/\x0022\x003\0only-one",
        b"pyplumb-handover-2\0pyengine\0x\0/\x0022\x000\0NOEQUALS",
        b"pyplumb-handover-2\0python\0x\0/\x0022\x000",  # not a program it serves
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        handover.decode(body)


def test_short_header() -> None:
    with pytest.raises(ValueError):
        handover.body_length(b"0000")


def test_a_command_the_server_ran_is_never_run_again(tmp_path: Path) -> None:
    """The client sent its whole request; the server ran it, reported and closed before the
    client was scheduled again (a loaded machine). The client must take that report: running
    the command itself after an error on the closed socket printed its output twice."""
    path = tmp_path / handover.SOCKET_NAME
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    closed = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            header, fds, _, _ = socket.recv_fds(conn, handover.HEADER, 3)
            for fd in fds:
                os.close(fd)
            want = handover.body_length(header)
            body = b""
            while len(body) < want:
                body += conn.recv(want - len(body))
            assert handover.decode(body).argv == ["ps", "-q"]
            conn.sendall(b"exit 3\n")
        closed.set()

    class LateSocket(socket.socket):
        """Descheduled right after the request went out, until the server has closed."""

        def sendmsg(self, *args: Any) -> int:
            sent = super().sendmsg(*args)
            assert closed.wait(10)
            return sent

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(socket, "socket", LateSocket)  # the module entry.forward uses
            assert entry.forward(["ps", "-q"], str(tmp_path)) == 3
    finally:
        thread.join(10)
        server.close()
