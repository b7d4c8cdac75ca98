"""Exec endpoints: create, start (detached, or on a hijacked connection), inspect, resize.

An exec instance lives in this server's memory between its create and its end, as in dockerd
(whose exec ids do not outlive the daemon either); the process itself runs under the shim.
"""

import asyncio
import contextlib
import dataclasses
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from engine.api import frames
from engine.api.backend import Backend
from engine.api.http import Hijack, HttpError, Reply, Request, Response
from engine.api.router import Router
from engine.api.translate import strings
from engine.containers.errors import ConflictError
from engine.containers.record import LIVE
from engine.errors import EngineError, NotFoundError
from engine.lifecycle.execs import ExecRequest
from engine.lifecycle.service import Engine
from engine.runtime.errors import container_exit_code

STDIN_CHUNK = 65536
FORGET_AFTER = 300.0  # seconds an ended exec stays inspectable
Resizer = Callable[[int, int], None]


class NoSuchExecError(NotFoundError):
    def __init__(self, exec_id: str) -> None:
        super().__init__(f"No such exec instance: {exec_id}")


@dataclass
class ExecInstance:
    """One exec, from its create to its exit (kept after it, for inspect)."""

    id: str
    container_id: str
    request: ExecRequest
    attach: frozenset[str]
    running: bool = False
    exit_code: int | None = None
    resizer: Resizer | None = None
    size: tuple[int, int] | None = None  # the last size asked, applied once there is a tty
    started: bool = field(default=False)


class HijackedStreams:
    """`ExecStreams` over a hijacked connection: stdin through a pipe the loop fills, output
    framed (without a tty) and written by the loop, with the engine's thread waiting for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter,
                 tty: bool, wanted: frozenset[str]) -> None:  # fmt: skip
        self.loop, self.writer, self.tty, self.wanted = loop, writer, tty, wanted
        self.stdin_r, self.stdin_w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(self.stdin_w, False)
        self._closing = threading.Lock()

    def input_fd(self) -> int:
        return self.stdin_r

    def output(self, stream: int, data: bytes) -> None:
        name = "stdout" if stream == 1 else "stderr"
        if name not in self.wanted:
            return
        chunk = frames.output(name, data, self.tty)
        asyncio.run_coroutine_threadsafe(self._write(chunk), self.loop).result()

    async def write_error(self, message: str) -> None:
        await self._write(frames.output("stdout", message.encode() + b"\r\n", self.tty))

    async def _write(self, chunk: bytes) -> None:
        self.writer.write(chunk)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def close_input(self) -> None:
        """The client's EOF. Once only: a descriptor closed twice may by then be another
        thread's (a shim connection), which the second close would take from it."""
        with self._closing:
            fd, self.stdin_w = self.stdin_w, -1
        if fd >= 0:
            os.close(fd)

    def close(self) -> None:
        self.close_input()
        with self._closing:
            fd, self.stdin_r = self.stdin_r, -1
        if fd >= 0:
            os.close(fd)


class Execs:
    """Handlers over one Backend, and the exec instances this server knows."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.instances: dict[str, ExecInstance] = {}
        self._lock = threading.Lock()

    def routes(self, router: Router) -> None:
        router.add("POST", "/containers/{ref}/exec", self.create)
        router.add("POST", "/exec/{exec_id}/start", self.start)
        router.add("GET", "/exec/{exec_id}/json", self.inspect)
        router.add("POST", "/exec/{exec_id}/resize", self.resize)

    def _find(self, exec_id: str) -> ExecInstance:
        instance = self.instances.get(exec_id)
        if instance is None:
            raise NoSuchExecError(exec_id)
        return instance

    async def create(self, request: Request, ref: str) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "invalid exec config: expected a JSON object")
        args = strings(body.get("Cmd"), "Cmd")
        if not args:
            raise HttpError(400, "No exec command specified")
        size = body.get("ConsoleSize")

        def check(engine: Engine) -> str:
            record = engine.store.find(ref)
            if record.state.status == "paused":
                raise ConflictError(f"Container {record.id} is paused, unpause the container "
                                    "before exec")  # fmt: skip
            if record.state.status not in LIVE:
                raise ConflictError(f"Container {record.id} is not running")
            return record.id

        container_id = await self.backend.call(check)
        exec_request = ExecRequest(
            args=args,
            env=strings(body.get("Env"), "Env"),
            cwd=str(body.get("WorkingDir") or ""),
            user=str(body.get("User") or ""),
            tty=bool(body.get("Tty")),
            stdin=bool(body.get("AttachStdin")),
            console_size=_console_size(size),
        )
        attach = frozenset(s for s in ("stdout", "stderr") if body.get(f"Attach{s.title()}"))
        instance = ExecInstance(secrets.token_hex(32), container_id, exec_request, attach)
        self.instances[instance.id] = instance
        return Reply(201, {"Id": instance.id})

    def _claim(self, instance: ExecInstance) -> None:
        with self._lock:
            if instance.started:
                raise ConflictError(f"exec {instance.id} has already been started")
            instance.started = instance.running = True

    async def start(self, request: Request, exec_id: str) -> Response:
        instance = self._find(exec_id)
        body = request.json() if request.body else {}
        detach = bool(isinstance(body, dict) and body.get("Detach"))
        self._claim(instance)
        if detach:
            await self._run(instance, None)  # returns once the process runs
            return Reply(200, b"", content_type="text/plain")

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      leftover: bytes) -> None:  # fmt: skip
            streams = HijackedStreams(
                asyncio.get_running_loop(), writer, instance.request.tty, instance.attach
            )
            feeding = asyncio.ensure_future(self._feed(streams, reader, leftover))
            try:
                await self._run(instance, streams)
            finally:
                feeding.cancel()
                streams.close()

        return Hijack(run, content_type="application/vnd.docker.raw-stream")

    async def _run(self, instance: ExecInstance, streams: HijackedStreams | None) -> None:
        request = instance.request
        if streams is None:
            request = dataclasses.replace(request, detach=True, stdin=False)

        @contextlib.contextmanager
        def terminal(resize: Resizer) -> Iterator[None]:
            instance.resizer = resize
            # The client sizes the tty right after its start, often before there is one.
            size = instance.size or request.console_size
            if size:
                with contextlib.suppress(EngineError):
                    resize(*size)
            yield

        def run(engine: Engine) -> int:
            return engine.exec(instance.container_id, request, streams=streams, terminal=terminal)

        try:
            instance.exit_code = await self.backend.call(run)
        except EngineError as exc:
            # As dockerd: the error goes to the client on its stdout, the code to inspect.
            instance.exit_code = container_exit_code(exc) or 126
            if streams is None:
                raise
            await streams.write_error(str(exc))
        finally:
            instance.running, instance.resizer = False, None
            # Kept a while for `inspect` (its exit code), then forgotten, as dockerd does.
            asyncio.get_running_loop().call_later(
                FORGET_AFTER, self.instances.pop, instance.id, None
            )

    async def _feed(self, streams: HijackedStreams, reader: asyncio.StreamReader,
                    leftover: bytes) -> None:  # fmt: skip
        """The client's bytes into the exec's stdin pipe; its EOF (a half-close) closes it."""
        try:
            chunk = leftover or await reader.read(STDIN_CHUNK)
            while chunk:
                await _write_all(streams.stdin_w, chunk)
                chunk = await reader.read(STDIN_CHUNK)
        finally:
            streams.close_input()

    async def inspect(self, request: Request, exec_id: str) -> Response:
        instance = self._find(exec_id)
        req = instance.request
        return Reply(200, {
            "ID": instance.id, "ContainerID": instance.container_id,
            "Running": instance.running, "ExitCode": instance.exit_code,
            "OpenStdin": req.stdin, "OpenStdout": "stdout" in instance.attach,
            "OpenStderr": "stderr" in instance.attach, "CanRemove": False, "Pid": 0,
            "ProcessConfig": {"tty": req.tty, "entrypoint": req.args[0],
                              "arguments": list(req.args[1:]), "user": req.user},
        })  # fmt: skip

    async def resize(self, request: Request, exec_id: str) -> Response:
        instance = self._find(exec_id)
        rows, cols = request.integer("h", 0), request.integer("w", 0)
        if rows and cols:
            instance.size = (rows, cols)
            resizer = instance.resizer
            if resizer is not None:
                await self.backend.blocking(lambda: resizer(rows, cols))
        return Reply(200, b"", content_type="text/plain")


def _console_size(value: object) -> tuple[int, int] | None:
    """ConsoleSize `[rows, cols]`; absent or zero is none; anything else is a 400."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and v >= 0 for v in value)
    ):
        raise HttpError(400, "invalid ConsoleSize: expected [rows, columns]")
    rows, cols = value
    return (rows, cols) if rows and cols else None


async def _write_all(fd: int, data: bytes) -> None:
    """All of `data` into a non-blocking pipe, from the loop: the loop alone writes and closes
    the stdin pipe's write end, so no thread can write to a number reused after a close."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            writable = loop.create_future()
            loop.add_writer(fd, writable.set_result, None)
            try:
                await writable
            finally:
                loop.remove_writer(fd)
