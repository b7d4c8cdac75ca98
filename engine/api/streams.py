"""The container endpoints that stream: wait, logs and attach (a hijacked connection).

`wait` answers its header at once, as dockerd does, so a client can wait, then start; the
body follows at the exit. Attach reads the container's output from its json-file log
(`lifecycle.attach.OutputTail`, shared with the CLI's `run`) and writes the client's stdin to the
task once it runs.
"""

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from engine.api import frames
from engine.api.backend import Backend
from engine.api.http import Hijack, HttpError, Request, Response, Stream
from engine.api.router import Router
from engine.containers.logs import LogEntry, fixed_nano, parse_time_arg
from engine.containers.record import LIVE
from engine.errors import EngineError
from engine.lifecycle.attach import OutputTail, log_size
from engine.lifecycle.service import WAIT_CONDITIONS, Engine
from engine.lifecycle.streams import FOLLOW_POLL, LogCursor, LogsRequest

POLL = 0.01  # seconds between looks at an attached container's log
STDIN_CHUNK = 65536


class Streams:
    """Handlers over one Backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("POST", "/containers/{ref}/wait", self.wait)
        router.add("GET", "/containers/{ref}/logs", self.logs)
        router.add("POST", "/containers/{ref}/attach", self.attach)

    async def wait(self, request: Request, ref: str) -> Response:
        condition = request.arg("condition") or "not-running"
        if condition not in WAIT_CONDITIONS:
            raise HttpError(400, f"invalid condition: {condition!r}")
        container_id = await self.backend.call(lambda engine: engine.store.find(ref).id)
        waiting = asyncio.ensure_future(
            self.backend.call(lambda engine: engine.wait(container_id, condition, poll=POLL))
        )

        async def body() -> AsyncIterator[bytes]:
            error: dict[str, str] | None = None
            try:
                code = await waiting
            except EngineError as exc:
                code, error = -1, {"Message": str(exc)}
            yield frames_json({"StatusCode": code, "Error": error})

        return Stream(body())

    async def logs(self, request: Request, ref: str) -> Response:
        wanted = {s for s in ("stdout", "stderr") if request.flag(s)}
        if not wanted:
            raise HttpError(400, "Bad parameters: you must choose at least one stream")
        tail = request.arg("tail", "all")
        logs_request = LogsRequest(
            follow=request.flag("follow"),
            tail=-1 if tail in ("all", "") else _integer(tail, "tail"),
            since=_time(request.arg("since")),
            until=_time(request.arg("until")),
        )
        timestamps = request.flag("timestamps")

        def open_cursor(engine: Engine) -> tuple[bool, LogCursor]:
            record = engine.store.find(ref)
            return record.config.tty, engine.log_cursor(record.id, logs_request)

        tty, cursor = await self.backend.call(open_cursor)

        def render(entries: list[LogEntry]) -> bytes:
            chunks = []
            for entry in entries:
                if entry.stream in wanted:
                    text = entry.text.encode()
                    if timestamps:
                        text = fixed_nano(entry.time).encode() + b" " + text
                    chunks.append(frames.output(entry.stream, text, tty))
            return b"".join(chunks)

        async def body() -> AsyncIterator[bytes]:
            yield render(await self.backend.blocking(cursor.first))
            while cursor.follows:
                new, live = await self.backend.blocking(cursor.more)
                yield render(new)
                if not live:
                    return
                await asyncio.sleep(FOLLOW_POLL)

        return Stream(body(), content_type="application/vnd.docker.raw-stream")

    async def attach(self, request: Request, ref: str) -> Response:
        wanted = {s for s in ("stdout", "stderr") if request.flag(s)}
        with_stdin = request.flag("stdin")
        from_start = request.flag("logs")

        def look(engine: Engine) -> tuple[str, bool, bool, Any, int]:
            record = engine.store.find(ref)
            path = engine.log_path(record.id)
            offset = 0 if from_start else log_size(path)
            return record.id, record.config.tty, record.config.open_stdin, path, offset

        container_id, tty, open_stdin, path, offset = await self.backend.call(look)

        async def run(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, leftover: bytes
        ) -> None:
            ended = asyncio.ensure_future(
                self.backend.call(lambda e: e.wait(container_id, "next-exit", poll=POLL))
            )
            feeding = None
            if with_stdin and open_stdin:
                feeding = asyncio.ensure_future(self._feed_stdin(container_id, reader, leftover))
            tail = OutputTail(path, offset)
            try:
                while True:
                    finished = ended.done()
                    for entry in tail.poll():
                        if entry.stream in wanted:
                            writer.write(frames.output(entry.stream, entry.text.encode(), tty))
                    await writer.drain()
                    if finished:
                        break
                    await asyncio.wait([ended], timeout=POLL)
            finally:
                tail.close()
                if feeding is not None:
                    feeding.cancel()
                if not ended.done():
                    ended.cancel()
                else:
                    with contextlib.suppress(Exception):
                        ended.result()

        return Hijack(run)

    async def _feed_stdin(
        self, container_id: str, reader: asyncio.StreamReader, leftover: bytes
    ) -> None:
        """The client's bytes to the task's stdin once it runs; its EOF closes that stdin."""
        while True:
            status = await self.backend.call(lambda e: e.store.find(container_id).state.status)
            if status in LIVE:
                break
            await asyncio.sleep(POLL)
        chunk = leftover or await reader.read(STDIN_CHUNK)
        while chunk:
            await self.backend.call(functools.partial(_write_stdin, container_id, chunk))
            chunk = await reader.read(STDIN_CHUNK)
        await self.backend.call(lambda e: e.tasks.close_stdin(container_id))


def frames_json(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise HttpError(400, f"invalid value for {what}: {text!r}") from None


def _time(text: str) -> float:
    if not text or text == "0":
        return 0.0
    return parse_time_arg(text, time.time())


def _write_stdin(container_id: str, data: bytes, engine: Engine) -> None:
    engine.tasks.write_stdin(container_id, data)
