"""The Docker Engine API with docker-py (PyPI `docker`) and with raw HTTP: the Python client's
everyday calls, Docker's error shapes and statuses, and a server that bad requests, slow and
vanishing clients do not take down."""

import socket
import subprocess
import time

import docker
import docker.errors
import pytest

from tests.conftest import require_binary
from tests.support.api_service import ApiService, answers_ping, service_fixture
from tests.support.engine_cli import PYENGINE, EngineEnv, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)


def test_docker_py_everyday_calls(service: ApiService) -> None:
    client = docker.DockerClient(base_url=service.url, version="auto", timeout=60)
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.41"
        out = client.containers.run("busybox", ["sh", "-c", "echo hi"], remove=True)
        assert out == b"hi\n"
        with pytest.raises(docker.errors.ContainerError) as failed:
            client.containers.run("busybox", ["sh", "-c", "exit 4"], remove=True)
        assert failed.value.exit_status == 4
        box = client.containers.run("busybox", ["sh", "-c", "echo up; exec sleep 60"],
                                    detach=True, name="pybox")  # fmt: skip
        assert box.name == "pybox" and len(box.id) == 64
        box.reload()
        assert box.status == "running"
        assert [c.name for c in client.containers.list()] == ["pybox"]
        wait_for(lambda: box.logs() == b"up\n", 10, "the log")
        code, output = box.exec_run(["sh", "-c", "echo in; exit 2"])
        assert (code, output) == (2, b"in\n")
        box.stop(timeout=1)
        box.reload()
        assert box.status == "exited"
        assert box.wait()["StatusCode"] == 137
        box.remove()
        with pytest.raises(docker.errors.NotFound, match="No such container: pybox"):
            client.containers.get("pybox")
        assert service.engine.ok("ps", "-aq") == ""
    finally:
        client.close()


def test_errors_have_docker_statuses_and_shape(service: ApiService) -> None:
    assert service.request("GET", "/v1.41/containers/nope/json") == (
        404, {"message": "No such container: nope"})  # fmt: skip
    status, body = service.request("POST", "/v1.41/containers/create", b'{"Image": 3')
    assert status == 400 and body["message"].startswith("invalid JSON")
    status, body = service.request("POST", "/containers/create", {"Image": "busybox",
                                                                  "Cmd": 7})  # fmt: skip
    assert (status, body) == (400, {"message": "invalid Cmd: expected a list of strings"})
    status, body = service.request("POST", "/containers/create", {"Image": "no-such-image"})
    assert status == 404 and "no-such-image" in body["message"]
    status, body = service.request("POST", "/containers/create?name=bad/name",
                                   {"Image": "busybox", "Cmd": ["true"]})  # fmt: skip
    assert status == 400, body
    status, body = service.request("GET", "/v1.41/no/such/endpoint")
    assert status == 404 and "GET /no/such/endpoint" in body["message"]
    big = socket.socket(socket.AF_UNIX)
    big.connect(str(service.socket))
    big.sendall(b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{"
                % (17 << 20))  # fmt: skip
    assert big.recv(4096).startswith(b"HTTP/1.1 413 ")
    big.close()
    # Nothing of the refused requests was created.
    assert service.engine.ok("ps", "-aq") == ""
    service.engine.ok("run", "-d", "--name", "dup", "busybox", "sleep", "60")
    status, body = service.request("POST", "/containers/create?name=dup",
                                   {"Image": "busybox", "Cmd": ["true"]})  # fmt: skip
    assert status == 409, body
    status, body = service.request("DELETE", "/containers/dup")
    assert status == 409 and "cannot remove a running container" in body["message"]
    assert service.request("POST", "/containers/dup/start")[0] == 304
    assert service.request("DELETE", "/containers/dup?force=1")[0] == 204


def test_slow_vanishing_and_garbage_clients_leave_it_serving(service: ApiService) -> None:
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(str(service.socket))
    slow.sendall(b"GET /_ping HTTP/1.1\r\nHo")  # and then nothing, for the whole test
    garbage = socket.socket(socket.AF_UNIX)
    garbage.connect(str(service.socket))
    garbage.sendall(b"\x00\x01 not http at all\r\n\r\n")
    reply = garbage.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply
    # A follower that vanishes mid-stream.
    service.engine.ok("run", "-d", "--name", "talk", "busybox", "sh", "-c",
                      "while true; do echo x; sleep 0.05; done")  # fmt: skip
    for _ in range(5):
        gone = socket.socket(socket.AF_UNIX)
        gone.connect(str(service.socket))
        gone.sendall(b"GET /containers/talk/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert gone.recv(4096).startswith(b"HTTP/1.1 200")
        gone.close()
    # Many half-finished requests at once.
    held = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(service.socket))
        s.sendall(b"POST /containers/create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        held.append(s)
    time.sleep(0.2)
    assert service.alive()
    assert service.docker_ok("run", "--rm", "busybox", "echo", "still") == "still\n"
    for s in (*held, slow, garbage):
        s.close()
    service.docker_ok("rm", "-f", "talk")
    assert service.alive()
    assert service.engine.ok("ps", "-aq") == ""


def test_idle_timeout_and_socket_modes(engine: EngineEnv) -> None:
    """`--time 1` leaves a second after the last connection; the socket is for root (and a
    `pyengine` group when there is one) only, in a directory only root enters."""
    import grp
    import stat

    sock = engine.base / "api" / "docker.sock"
    proc = engine.popen("system", "service", "--time", "1", f"unix://{sock}")
    wait_for(sock.exists, 30, "the socket")
    mode = stat.S_IMODE(sock.stat().st_mode)
    try:
        group = grp.getgrnam("pyengine").gr_gid
    except KeyError:
        assert mode == 0o600 and sock.stat().st_gid == 0
    else:
        assert mode == 0o660 and sock.stat().st_gid == group
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(sock))
    time.sleep(1.5)
    assert proc.poll() is None  # a connection is open: not idle
    client.close()
    assert proc.wait(10) == 0
    assert not sock.exists()


def test_descriptor_exhaustion_is_survived(engine: EngineEnv) -> None:
    """More clients than descriptors (a 128 limit): the server waits for some to go, then
    serves again; it neither dies nor stops accepting for good."""
    prlimit = require_binary("prlimit")
    sock = engine.base / "fd.sock"
    proc = subprocess.Popen(
        [prlimit, "--nofile=128:128", PYENGINE, "system", "service", "--time", "0",
         f"unix://{sock}"],
        env=engine.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine.started.append(proc)
    wait_for(sock.exists, 30, "the socket")
    held = []
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(sock))  # queued by the kernel even when the server cannot accept
        held.append(s)
    time.sleep(1)
    assert proc.poll() is None
    for s in held:
        s.close()

    wait_for(lambda: answers_ping(sock), 20, "an answer once the descriptors are back")
    proc.terminate()
    assert proc.wait(30) == 0
