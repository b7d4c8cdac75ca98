"""Volume endpoints: list (with filters), create, inspect, remove, prune, over the same
`VolumeService` as `pyengine volume`."""

from typing import Any

from engine.api import filters
from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response
from engine.api.router import Router
from engine.lifecycle.service import Engine
from engine.lifecycle.volumes import VolumeCreate, VolumeService, volume_matches

NO_CONTENT = Reply(204)
# API 1.42 (Docker 23) made prune take anonymous volumes only, unless the `all` filter says.
PRUNE_ANONYMOUS_FROM = (1, 42)


def _service(engine: Engine) -> VolumeService:
    return VolumeService(engine.store, engine.volumes)


def _strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise HttpError(400, f"invalid {key}: expected an object")
    return tuple(f"{k}={v}" for k, v in value.items())


class Volumes:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("GET", "/volumes", self.listing)
        router.add("POST", "/volumes/create", self.create)
        router.add("POST", "/volumes/prune", self.prune)
        router.add("GET", "/volumes/{name}", self.inspect)
        router.add("DELETE", "/volumes/{name}", self.remove)

    async def listing(self, request: Request) -> Response:
        wanted = filters.parse(request.arg("filters"))
        views = await self.backend.call(lambda engine: _service(engine).listing())
        found = [v.to_json() for v in views if volume_matches(v, wanted)]
        return Reply(200, {"Volumes": found, "Warnings": None})

    async def create(self, request: Request) -> Response:
        body = request.json() or {}
        if not isinstance(body, dict):
            raise HttpError(400, "invalid volume create request: expected a JSON object")
        name = body.get("Name") or ""
        driver = body.get("Driver") or "local"
        if not isinstance(name, str) or not isinstance(driver, str):
            raise HttpError(400, "invalid Name or Driver: expected a string")
        create = VolumeCreate(name, driver, _strings(body, "DriverOpts"), _strings(body, "Labels"))
        view = await self.backend.call(
            lambda engine: _service(engine).inspect(_service(engine).create(create).name)
        )
        return Reply(201, view.to_json())

    async def inspect(self, request: Request, name: str) -> Response:
        view = await self.backend.call(lambda engine: _service(engine).inspect(name))
        return Reply(200, view.to_json())

    async def remove(self, request: Request, name: str) -> Response:
        force = request.flag("force")
        await self.backend.call(lambda engine: _service(engine).remove(name, force))
        return NO_CONTENT

    async def prune(self, request: Request) -> Response:
        wanted = filters.parse(request.arg("filters"))
        everything = wanted.pop("all", ["false"])[-1].lower() in ("1", "true")
        labels = wanted.pop("label", [])
        if wanted:
            raise HttpError(400, f"invalid filter '{next(iter(wanted))}'")
        anonymous_only = _version(request.api_version) >= PRUNE_ANONYMOUS_FROM and not everything
        report = await self.backend.call(
            lambda engine: _service(engine).prune(anonymous_only=anonymous_only, labels=labels)
        )
        return Reply(
            200,
            {"VolumesDeleted": list(report.deleted) or None, "SpaceReclaimed": report.reclaimed},
        )


def _version(text: str) -> tuple[int, int]:
    """An unversioned request speaks the newest API (Docker's rule)."""
    if not text:
        return PRUNE_ANONYMOUS_FROM
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor)
    except ValueError:
        return (0, 0)
