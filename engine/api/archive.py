"""`docker cp`: HEAD, GET and PUT /containers/{id}/archive, over lifecycle/archive.py."""

import asyncio
import base64
import datetime
import json
import tempfile
from collections.abc import AsyncIterator
from typing import IO

from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response, Stream
from engine.api.router import Router
from engine.lifecycle import filesystem
from engine.lifecycle.archive import PathStat, read_archive, stat_path, write_archive
from engine.lifecycle.service import Engine

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _stat_header(stat: PathStat) -> dict[str, str]:
    doc = {"name": stat.name, "size": stat.size, "mode": stat.mode,
           "mtime": _rfc3339(stat.mtime), "linkTarget": stat.link_target}  # fmt: skip
    return {STAT_HEADER: base64.b64encode(json.dumps(doc).encode()).decode()}


def _rfc3339(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Archive:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("HEAD", "/containers/{ref}/archive", self.stat)
        router.add("GET", "/containers/{ref}/archive", self.get)
        router.add("PUT", "/containers/{ref}/archive", self.put)
        router.add("GET", "/containers/{ref}/export", self.export)
        router.add("GET", "/containers/{ref}/changes", self.changes)

    @staticmethod
    def _path(request: Request) -> str:
        path = request.arg("path")
        if not path:
            raise HttpError(400, "path is required")
        return path

    async def stat(self, request: Request, ref: str) -> Response:
        path = self._path(request)
        found = await self.backend.call(lambda engine: stat_path(engine, ref, path))
        return Reply(200, b"", _stat_header(found), content_type="text/plain")

    async def get(self, request: Request, ref: str) -> Response:
        path = self._path(request)
        found = await self.backend.call(lambda engine: stat_path(engine, ref, path))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()

        def sink(data: bytes) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, data)

        async def produce() -> None:
            try:
                await self.backend.call(lambda engine: read_archive(engine, ref, path, sink))
            except Exception as exc:
                queue.put_nowait(exc)
            else:
                queue.put_nowait(None)

        producing = asyncio.ensure_future(produce())

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    item = await queue.get()
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        raise item  # the header is sent: all we can do is cut the stream
                    yield item
            finally:
                if not producing.done():
                    producing.cancel()

        return Stream(body(), content_type="application/x-tar", headers=_stat_header(found))

    async def export(self, request: Request, ref: str) -> Response:
        def write(engine: Engine) -> IO[bytes]:
            spool = tempfile.TemporaryFile(dir=engine.root)  # noqa: SIM115 - the stream closes it
            try:
                filesystem.export(engine, ref, spool)
            except BaseException:
                spool.close()
                raise
            spool.seek(0)
            return spool

        spool = await self.backend.call(write)

        async def body() -> AsyncIterator[bytes]:
            try:
                while chunk := await self.backend.blocking(lambda: spool.read(1 << 20)):
                    yield chunk
            finally:
                spool.close()

        return Stream(body(), content_type="application/x-tar")

    async def changes(self, request: Request, ref: str) -> Response:
        found = await self.backend.call(lambda engine: filesystem.changes(engine, ref))
        return Reply(200, [{"Path": path, "Kind": kind} for kind, path in found] or None)

    async def put(self, request: Request, ref: str) -> Response:
        path = self._path(request)
        tar = request.body
        await self.backend.call(lambda engine: write_archive(engine, ref, path, tar))
        return Reply(200, b"", content_type="text/plain")
