"""The container endpoints that change or show a container: create, list, inspect, start, stop,
restart, kill, pause, unpause, remove, resize. Each parses its query, makes one call through the
engine seam (engine.api.backend) and renders Docker's shape."""

import time
from typing import Any

from engine.api import filters, translate
from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response
from engine.api.router import Router
from engine.containers import views
from engine.containers.record import LIVE
from engine.containers.units import parse_signal
from engine.lifecycle.rename import rename
from engine.lifecycle.service import Engine
from engine.lifecycle.top import container_top
from engine.lifecycle.update import update

NO_CONTENT = Reply(204)
NOT_MODIFIED = Reply(304)


def inspect_record(engine: Engine, ref: str) -> dict[str, Any]:
    with engine.locked(ref) as record:
        return views.inspect(
            record,
            str(engine.log_path(record.id)),
            engine.proxy_state(record),
            str(engine.volumes.dir),
            engine.health_state(record),
        )


class Containers:
    """Handlers over one Backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("POST", "/containers/create", self.create)
        router.add("GET", "/containers/json", self.listing)
        router.add("GET", "/containers/{ref}/json", self.inspect)
        router.add("POST", "/containers/{ref}/start", self.start)
        router.add("POST", "/containers/{ref}/stop", self.stop)
        router.add("POST", "/containers/{ref}/restart", self.restart)
        router.add("POST", "/containers/{ref}/kill", self.kill)
        router.add("POST", "/containers/{ref}/pause", self.pause)
        router.add("POST", "/containers/{ref}/unpause", self.unpause)
        router.add("POST", "/containers/{ref}/resize", self.resize)
        router.add("DELETE", "/containers/{ref}", self.remove)
        router.add("GET", "/containers/{ref}/top", self.top)
        router.add("POST", "/containers/{ref}/rename", self.rename)
        router.add("POST", "/containers/{ref}/update", self.update)
        router.add("POST", "/containers/prune", self.prune)

    async def create(self, request: Request) -> Response:
        flags = translate.create_flags(request.json(), request.arg("name"))
        record = await self.backend.call(lambda engine: engine.create(flags))
        return Reply(201, {"Id": record.id, "Warnings": []})

    async def listing(self, request: Request) -> Response:
        everything = request.flag("all")
        limit = request.integer("limit", -1)
        wanted = filters.parse(request.arg("filters"))
        records, volumes_dir = await self.backend.call(
            lambda engine: (engine.listing(everything or limit > 0), str(engine.volumes.dir))
        )
        records = [r for r in records if filters.container_matches(r, wanted)]
        records.sort(key=lambda r: r.created, reverse=True)
        if limit > 0:
            records = records[:limit]
        now = time.time()
        return Reply(200, [translate.list_entry(r, now, volumes_dir) for r in records])

    async def inspect(self, request: Request, ref: str) -> Response:
        return Reply(200, await self.backend.call(lambda engine: inspect_record(engine, ref)))

    async def start(self, request: Request, ref: str) -> Response:
        def start(engine: Engine) -> bool:
            if engine.store.find(ref).state.status in LIVE:
                return False
            engine.start(ref)
            return True

        return NO_CONTENT if await self.backend.call(start) else NOT_MODIFIED

    async def stop(self, request: Request, ref: str) -> Response:
        timeout = _timeout(request)
        sig = _signal(request, "signal", None)

        def stop(engine: Engine) -> bool:
            was = engine.store.find(ref).state.status
            engine.stop(ref, timeout, sig)
            return was in LIVE or was == "restarting"

        return NO_CONTENT if await self.backend.call(stop) else NOT_MODIFIED

    async def restart(self, request: Request, ref: str) -> Response:
        timeout = _timeout(request)
        await self.backend.call(lambda engine: engine.restart(ref, timeout))
        return NO_CONTENT

    async def kill(self, request: Request, ref: str) -> Response:
        sig = _signal(request, "signal", 9)
        assert sig is not None
        await self.backend.call(lambda engine: engine.kill(ref, sig))
        return NO_CONTENT

    async def pause(self, request: Request, ref: str) -> Response:
        await self.backend.call(lambda engine: engine.pause(ref))
        return NO_CONTENT

    async def unpause(self, request: Request, ref: str) -> Response:
        await self.backend.call(lambda engine: engine.unpause(ref))
        return NO_CONTENT

    async def resize(self, request: Request, ref: str) -> Response:
        rows, cols = request.integer("h", 0), request.integer("w", 0)

        def resize(engine: Engine) -> None:
            record = engine.store.find(ref)
            if record.state.status in LIVE and record.config.tty:
                engine.tasks.resize(record.id, rows, cols)

        await self.backend.call(resize)
        return Reply(200, b"", content_type="text/plain")

    async def top(self, request: Request, ref: str) -> Response:
        ps_args = tuple(request.arg("ps_args").split())
        table = await self.backend.call(lambda engine: container_top(engine, ref, ps_args))
        return Reply(
            200, {"Titles": list(table.titles), "Processes": [list(r) for r in table.rows]}
        )

    async def rename(self, request: Request, ref: str) -> Response:
        name = request.arg("name")
        await self.backend.call(lambda engine: rename(engine, ref, name))
        return NO_CONTENT

    async def update(self, request: Request, ref: str) -> Response:
        body = request.json() or {}
        if not isinstance(body, dict):
            raise HttpError(400, "invalid update request: expected a JSON object")
        change = translate.update_request(body)
        await self.backend.call(lambda engine: update(engine, ref, change))
        return Reply(200, {"Warnings": []})

    async def prune(self, request: Request) -> Response:
        removed = await self.backend.call(lambda engine: engine.prune())
        return Reply(200, {"ContainersDeleted": removed or None, "SpaceReclaimed": 0})

    async def remove(self, request: Request, ref: str) -> Response:
        force, volumes = request.flag("force"), request.flag("v")
        await self.backend.call(lambda engine: engine.remove(ref, force=force, volumes=volumes))
        return NO_CONTENT


def _timeout(request: Request) -> int | None:
    """`t` (or `timeout`, as newer clients spell it); None: the container's own."""
    name = "t" if request.arg("t") else "timeout"
    return request.integer(name, 0) if request.arg(name) else None


def _signal(request: Request, name: str, default: int | None) -> int | None:
    value = request.arg(name)
    return parse_signal(value) if value else default
