"""The engine's side of the task API: call a shim, stream its events and output.

    client = engine.tasks.spawn.create_task(ShimConfig(id=..., bundle=..., ...))
    client.start(); status = client.wait(); engine.tasks.spawn.remove_task(client)

Errors come back as the same classes the shim raised (TaskConflictError, CommandNotFoundError, ...).
"""

from __future__ import annotations

import base64
import json
import socket
import struct
from collections.abc import Iterator
from typing import Any

from engine.runtime import errors as runtime_errors
from engine.shimapi.errors import (
    KINDS,
    DeadlineExceededError,
    ShimError,
    ShimProtocolError,
    ShimUnavailableError,
)
from engine.shimapi.exitfile import ExitStatus
from engine.shimapi.paths import Layout

STREAMS = {1: "stdout", 2: "stderr"}


def raise_remote(error: dict[str, Any]) -> None:
    """Raise the class the shim raised, from the wire's error object."""
    message = str(error.get("message", "unknown error"))
    if error.get("kind") == "runtime":
        cls = getattr(runtime_errors, str(error.get("type")), runtime_errors.OCIRuntimeError)
        if not (isinstance(cls, type) and issubclass(cls, runtime_errors.OCIRuntimeError)):
            cls = runtime_errors.OCIRuntimeError
        raise cls(message, action=str(error.get("action", "")))
    raise KINDS.get(str(error.get("kind")), ShimError)(message)


class ShimClient:
    """One persistent connection for calls; `wait`, `events`, `attach` use their own."""

    def __init__(self, path: str, *, cid: str = "", timeout: float | None = 60.0) -> None:
        self.path = path
        self.id = cid
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self.task_pid = 0  # the init process, once `create` has answered

    def __repr__(self) -> str:
        return f"<ShimClient {self.id or '?'} {self.path} {'open' if self._sock else 'idle'}>"

    @staticmethod
    def for_layout(layout: Layout) -> ShimClient:
        return ShimClient(layout.socket, cid=layout.id)

    def _connect(self, timeout: float | None) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise ShimUnavailableError(
                f"shim {self.id or self.path} is not answering: {exc}"
            ) from None
        return sock

    def _roundtrip(self, sock: socket.socket, reader: Any, request: dict[str, Any]) -> Any:
        try:
            sock.sendall((json.dumps(request) + "\n").encode())
            line = reader.readline()
        except TimeoutError:
            raise DeadlineExceededError(
                f"shim {self.id or self.path}: no answer to {request['method']} in time"
            ) from None
        except OSError as exc:
            raise ShimUnavailableError(f"shim {self.id or self.path}: {exc}") from None
        if not line:
            raise ShimUnavailableError(f"shim {self.id or self.path} closed the connection")
        try:
            reply = json.loads(line)
        except ValueError:
            raise ShimProtocolError(f"not a reply: {line[:200]!r}") from None
        if not reply.get("ok"):
            raise_remote(reply.get("error") or {})
        return reply.get("result")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One request on the shared connection (reconnects once if the shim closed it)."""
        if self._sock is None:
            self._sock = self._connect(self.timeout)
            self._file = self._sock.makefile("rb")
        try:
            return dict(self._roundtrip(self._sock, self._file, {"method": method, **params}))
        except ShimUnavailableError:
            self.close()
            raise

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def __enter__(self) -> ShimClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the task API --------------------------------------------------------------------
    def connect(self) -> dict[str, Any]:
        return self.call("connect")

    def create(self, *, stdin: bool = False, start: bool = False) -> int:
        """Create the task; with start=True also start it (one `runc run --detach`)."""
        self.task_pid = int(self.call("create", stdin=stdin, start=start)["pid"])
        return self.task_pid

    def start(self, exec_id: str = "") -> int:
        return int(self.call("start", exec_id=exec_id)["pid"])

    def state(self, exec_id: str = "") -> dict[str, Any]:
        return self.call("state", exec_id=exec_id)

    def kill(self, signal: str | int = "TERM", *, all: bool = False, exec_id: str = "") -> None:
        self.call("kill", signal=signal, all=all, exec_id=exec_id)

    def wait(self, exec_id: str = "", timeout: float | None = None) -> ExitStatus:
        """Block until the process exits (a new connection: waits do not block calls)."""
        sock = self._connect(timeout)
        try:
            with sock.makefile("rb") as reader:
                result = self._roundtrip(sock, reader, {"method": "wait", "exec_id": exec_id})
        finally:
            sock.close()
        return ExitStatus.from_json(result)

    def delete(self, exec_id: str = "") -> ExitStatus:
        return ExitStatus.from_json(self.call("delete", exec_id=exec_id))

    def exec(
        self,
        exec_id: str,
        process: dict[str, Any],
        *,
        stdin: str = "",
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        """Add an exec; stdio are paths the shim opens (FIFOs, files) or "" for /dev/null. With
        `process["terminal"]` the shim relays the pty: stdin → it → stdout, and no stderr."""
        self.call(
            "exec", exec_id=exec_id, process=process, stdin=stdin, stdout=stdout, stderr=stderr
        )

    def pids(self) -> list[dict[str, Any]]:
        return list(self.call("pids")["processes"])

    def pause(self) -> None:
        self.call("pause")

    def resume(self) -> None:
        self.call("resume")

    def resize(self, height: int, width: int, *, exec_id: str = "") -> None:
        self.call("resize", height=height, width=width, exec_id=exec_id)

    def close_io(self) -> None:
        self.call("close_io")

    def write_stdin(self, data: str | bytes) -> int:
        if isinstance(data, bytes):
            encoded = base64.b64encode(data).decode("ascii")
            return int(self.call("write_stdin", data_b64=encoded)["written"])
        return int(self.call("write_stdin", data=data)["written"])

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def update(self, **resources: Any) -> None:
        self.call("update", resources=resources)

    def watch_proxy(self, pid: int, start_time: int, launch: dict[str, Any]) -> None:
        """Have the shim watch the container's port proxy and restart it if it dies."""
        self.call("watch_proxy", pid=pid, start_time=start_time, launch=launch)

    def watch_health(self, check: dict[str, Any]) -> None:
        """Have the shim run the container's health checks while its task runs."""
        self.call("watch_health", check=check)

    def release_proxy(self) -> None:
        """Stop the shim from restarting the proxy (before stopping it)."""
        self.call("release_proxy")

    def shutdown(self, *, now: bool = False) -> None:
        """The shim exits (refused while the task lives unless now=True) and removes its files."""
        try:
            self.call("shutdown", now=now)
            # the shim closes every connection after removing its files: EOF means it is done
            assert self._sock is not None
            while self._sock.recv(4096):
                pass
        except OSError:
            pass
        finally:
            self.close()

    def _subscribe(self, method: str, timeout: float | None) -> tuple[socket.socket, Any]:
        """Connect and complete the handshake now, so nothing published after return is missed."""
        sock = self._connect(timeout)
        reader = sock.makefile("rb")
        try:
            self._roundtrip(sock, reader, {"method": method})
        except BaseException:
            reader.close()
            sock.close()
            raise
        return sock, reader

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Events published from now on, until the shim closes the stream."""
        sock, reader = self._subscribe("events", timeout)

        def stream() -> Iterator[dict[str, Any]]:
            try:
                for line in reader:
                    yield json.loads(line)
            finally:
                reader.close()
                sock.close()

        return stream()

    def attach(self, timeout: float | None = None) -> Iterator[tuple[str, bytes]]:
        """(stream, bytes) of the init's output from now on, until the output ends."""
        sock, reader = self._subscribe("attach", timeout)

        def frames() -> Iterator[tuple[str, bytes]]:
            try:
                while header := reader.read(5):
                    if len(header) < 5:
                        raise ShimProtocolError("truncated attach frame")
                    stream, size = struct.unpack(">BI", header)
                    yield STREAMS.get(stream, "stdout"), reader.read(size)
            finally:
                reader.close()
                sock.close()

        return frames()
