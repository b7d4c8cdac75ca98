"""`pyengine system service` for a test: started in an EngineEnv, driven with the real docker
CLI, docker-py or raw HTTP over its socket, and stopped by pid with its socket checked gone."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import require_binary
from tests.support.engine_cli import EngineEnv

DEBIAN_DOCKER = "/usr/bin/docker"  # docker.io's CLI, 20.10 (API 1.41)
NEWER_DOCKER = "/usr/local/bin/docker"  # a newer CLI, when the machine has one


def docker_clis() -> list[str]:
    """Debian's CLI always (a missing one fails under CI); a newer one where it is installed."""
    require_binary("docker")
    return [DEBIAN_DOCKER] + ([NEWER_DOCKER] if os.access(NEWER_DOCKER, os.X_OK) else [])


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


@dataclass
class ApiService:
    engine: EngineEnv
    proc: "subprocess.Popen[Any]"
    socket: Path
    config_dir: Path

    @property
    def log(self) -> Path:
        return self.engine.base / "service.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def docker(
        self, *args: str, cli: str = DEBIAN_DOCKER, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this service (its own config dir: no ~/.docker is touched)."""
        env = dict(os.environ, DOCKER_HOST=self.url, DOCKER_CONFIG=str(self.config_dir))
        return subprocess.run(
            [cli, *args], input=input, stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, check=False, env=env,
        )  # fmt: skip

    def docker_ok(self, *args: str, **kw: Any) -> str:
        done = self.docker(*args, **kw)
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.returncode} {done.stderr}"
        return done.stdout

    def request(
        self, method: str, path: str, body: bytes | dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """One HTTP request; the status and the body (JSON decoded when it is JSON)."""
        conn = UnixConnection(str(self.socket))
        try:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            if response.getheader("Content-Type", "").startswith("application/json") and raw:
                return response.status, json.loads(raw)
            return response.status, raw
        finally:
            conn.close()

    def compose(self, project: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Debian's docker-compose 1.29 against this service, for the project in `workdir`."""
        compose = require_binary("docker-compose")
        env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": self.url,
               "DOCKER_CONFIG": str(self.config_dir)}  # fmt: skip
        return subprocess.run([compose, "-p", project, *args], cwd=workdir, env=env, text=True,
                              capture_output=True, timeout=120, check=False)  # fmt: skip

    def alive(self) -> bool:
        return self.proc.poll() is None


def start_service(engine: EngineEnv) -> ApiService:
    require_binary("runc")
    sock = engine.base / "docker.sock"
    log = engine.base / "service.log"
    with open(log, "wb") as f:  # a file, not a pipe nobody reads: the server logs freely
        proc = engine.popen("system", "service", "--time", "0", f"unix://{sock}",
                            stdout=subprocess.DEVNULL, stderr=f)  # fmt: skip
    config_dir = Path(tempfile.mkdtemp(prefix="pyt-docker-config-"))
    service = ApiService(engine, proc, sock, config_dir)
    # Until it answers: the path alone may be a stale socket that a killed server left.
    deadline = time.monotonic() + 30
    while not answers_ping(service.socket):
        assert proc.poll() is None, f"service exited {proc.returncode}: {log.read_text()}"
        assert time.monotonic() < deadline, "the service did not answer within 30 s"
        time.sleep(0.02)
    return service


def answers_ping(sock: Path, timeout: float = 5) -> bool:
    """Whether a server on `sock` answers `GET /_ping` with 200 (False if it cannot)."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def stop_service(service: ApiService) -> None:
    """SIGTERM by pid; the service exits 0 and removes its socket."""
    shutil.rmtree(service.config_dir, ignore_errors=True)
    if service.proc.poll() is None:
        service.proc.send_signal(signal.SIGTERM)
        code = service.proc.wait(timeout=30)
        assert code == 0, f"service exited {code}: {service.log.read_text()[-2000:]}"
        assert not service.socket.exists(), "the service left its socket behind"


def service_fixture(engine: EngineEnv) -> Iterator[ApiService]:
    service = start_service(engine)
    try:
        yield service
    finally:
        stop_service(service)
