"""Volume endpoints, before the engine has volumes (issue 15): an empty list and prune, so
`docker volume ls` and compose's checks work; create answers 501 naming what is missing."""

from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response
from engine.api.router import Router


class Volumes:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("GET", "/volumes", self.listing)
        router.add("POST", "/volumes/create", self.create)
        router.add("POST", "/volumes/prune", self.prune)
        router.add("GET", "/volumes/{name}", self.missing)
        router.add("DELETE", "/volumes/{name}", self.missing)

    async def listing(self, request: Request) -> Response:
        return Reply(200, {"Volumes": [], "Warnings": None})

    async def create(self, request: Request) -> Response:
        raise HttpError(501, "volumes are not supported by pyengine yet")

    async def prune(self, request: Request) -> Response:
        return Reply(200, {"VolumesDeleted": None, "SpaceReclaimed": 0})

    async def missing(self, request: Request, name: str) -> Response:
        raise HttpError(404, f"get {name}: no such volume")
